import { and, eq, inArray, ne } from "drizzle-orm";
import type { Db } from "@/lib/db/client";
import { runs } from "@/lib/db/schema";

export type StartRunInput = {
  targetId: number | null;
  kind: string;
  params?: Record<string, unknown>;
  triggeredBy?: string;
  userId?: number | null;
};

/** Insert the run record as `running` before any work starts. */
export async function startRun(db: Db, input: StartRunInput): Promise<number> {
  const [row] = await db
    .insert(runs)
    .values({
      targetId: input.targetId,
      kind: input.kind,
      status: "running",
      params: input.params ?? {},
      triggeredBy: input.triggeredBy ?? "cli",
      userId: input.userId ?? null,
      startedAt: new Date(),
      phase: "starting",
    })
    .returning({ id: runs.id });
  return row!.id;
}

export async function updateRunProgress(db: Db, runId: number, progress: { phase?: string; bytesDone?: number }): Promise<void> {
  await db.update(runs).set(progress).where(eq(runs.id, runId));
}

/** Every exit path ends here: status, safe error, redacted stderr, bytes and timings. */
export async function finishRun(
  db: Db,
  runId: number,
  outcome: { status: "succeeded" | "failed" | "canceled"; error?: string | null; stderr?: string | null; bytesDone?: number },
): Promise<void> {
  const [row] = await db.select({ startedAt: runs.startedAt }).from(runs).where(eq(runs.id, runId));
  const finishedAt = new Date();
  await db
    .update(runs)
    .set({
      status: outcome.status,
      error: outcome.error ?? null,
      stderr: outcome.stderr ?? null,
      bytesDone: outcome.bytesDone ?? 0,
      finishedAt,
      durationMs: row?.startedAt ? finishedAt.getTime() - row.startedAt.getTime() : null,
      phase: outcome.status,
    })
    .where(eq(runs.id, runId));
}

/**
 * Runs left `running` by a process that died (SIGKILL, power loss) are failed when the next
 * operation on the target takes its lock: nobody else can be running them.
 */
export async function failInterruptedRuns(db: Db, targetId: number, kinds: string[], exceptRunId?: number): Promise<number> {
  const updated = await db
    .update(runs)
    .set({ status: "failed", error: "interrupted: the process running it stopped before it finished", finishedAt: new Date(), phase: "failed" })
    .where(
      and(eq(runs.targetId, targetId), eq(runs.status, "running"), inArray(runs.kind, kinds), exceptRunId === undefined ? undefined : ne(runs.id, exceptRunId)),
    )
    .returning({ id: runs.id });
  return updated.length;
}
