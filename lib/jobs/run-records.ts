import { hostname } from "node:os";
import { and, eq, inArray, ne, sql } from "drizzle-orm";
import type { Db } from "@/lib/db/client";
import { runs, targets } from "@/lib/db/schema";
import { isRecordedProcessAlive } from "@/lib/engine/process/spawn-child";

export type StartRunInput = {
  targetId: number | null;
  kind: string;
  params?: Record<string, unknown>;
  triggeredBy?: string;
  userId?: number | null;
  /** false: queued for a worker, owned by no process until one claims it (never swept as dead). */
  owned?: boolean;
};

export type FinalStatus = "succeeded" | "failed" | "canceled" | "interrupted";

/**
 * Insert the run record before any work starts. It is `queued` until the operation holds the
 * target's lock, so a run still waiting for the lock is never mistaken for one that died holding it.
 */
export async function insertRun(db: Db, input: StartRunInput): Promise<number> {
  const [row] = await db
    .insert(runs)
    .values({
      targetId: input.targetId,
      kind: input.kind,
      status: "queued",
      params: input.params ?? {},
      triggeredBy: input.triggeredBy ?? "cli",
      userId: input.userId ?? null,
      host: input.owned === false ? null : hostname(),
      pid: input.owned === false ? null : process.pid,
      phase: "waiting to start",
    })
    .returning({ id: runs.id });
  return row!.id;
}

/** Take over a run queued elsewhere (the worker's job): it now belongs to this process. */
export async function claimRun(db: Db, runId: number): Promise<boolean> {
  const updated = await db
    .update(runs)
    .set({ host: hostname(), pid: process.pid })
    .where(and(eq(runs.id, runId), eq(runs.status, "queued")))
    .returning({ id: runs.id });
  return updated.length === 1;
}

export async function markRunning(db: Db, runId: number): Promise<void> {
  await db.update(runs).set({ status: "running", startedAt: new Date(), phase: "starting" }).where(eq(runs.id, runId));
}

/** Progress lands only while the run is unfinished: a late update can never overwrite a final state. */
export async function updateRunProgress(db: Db, runId: number, progress: { phase?: string; bytesDone?: number }): Promise<void> {
  await db
    .update(runs)
    .set(progress)
    .where(and(eq(runs.id, runId), inArray(runs.status, ["queued", "running"])));
}

/** Every exit path ends here: status, safe error, redacted stderr, bytes and timings. */
export async function finishRun(
  db: Db,
  runId: number,
  outcome: {
    status: FinalStatus;
    error?: string | null;
    stderr?: string | null;
    bytesDone?: number;
    phase?: string;
    result?: Record<string, unknown> | undefined;
  },
): Promise<void> {
  const finishedAt = new Date();
  await db
    .update(runs)
    .set({
      status: outcome.status,
      error: outcome.error ?? null,
      stderr: outcome.stderr ?? null,
      ...(outcome.result ? { result: outcome.result } : {}),
      bytesDone: outcome.bytesDone ?? sql`${runs.bytesDone}`,
      finishedAt,
      startedAt: sql`coalesce(${runs.startedAt}, ${runs.queuedAt})`,
      durationMs: sql`(extract(epoch from ${finishedAt.toISOString()}::timestamptz - coalesce(${runs.startedAt}, ${runs.queuedAt})) * 1000)::int`,
      phase: outcome.phase ?? outcome.status,
    })
    .where(eq(runs.id, runId));
}

const INTERRUPTED = "interrupted: the process running it stopped before it finished";

export type InterruptedRun = { id: number; kind: string; target: string | null };

/**
 * Runs a dead process left unfinished. With the target's lock held, every other `running` run of
 * that target is dead (nobody else can hold the lock); runs of this host whose process is gone are
 * dead whatever their target (a worker start sweeps those). Only the rows this call changed are
 * returned, so two processes sweeping at once report each dead run once.
 */
export async function markInterruptedRuns(
  db: Db,
  scope: { targetId: number; kinds: readonly string[]; exceptRunId?: number | undefined } | { host: string },
): Promise<InterruptedRun[]> {
  let condition;
  if ("targetId" in scope) {
    condition = and(
      eq(runs.targetId, scope.targetId),
      eq(runs.status, "running"),
      inArray(runs.kind, [...scope.kinds]),
      scope.exceptRunId === undefined ? undefined : ne(runs.id, scope.exceptRunId),
    );
  } else {
    const candidates = await db
      .select({ id: runs.id, pid: runs.pid })
      .from(runs)
      .where(and(eq(runs.host, scope.host), inArray(runs.status, ["queued", "running"])));
    const dead = candidates.filter((r) => r.pid !== null && r.pid !== process.pid && !isRecordedProcessAlive({ pid: r.pid })).map((r) => r.id);
    if (dead.length === 0) return [];
    condition = and(inArray(runs.id, dead), inArray(runs.status, ["queued", "running"]));
  }
  const updated = await db
    .update(runs)
    .set({ status: "interrupted", error: INTERRUPTED, finishedAt: new Date(), phase: "interrupted" })
    .where(condition)
    .returning({ id: runs.id, kind: runs.kind, targetId: runs.targetId });
  if (updated.length === 0) return [];
  const ids = [...new Set(updated.map((r) => r.targetId).filter((id): id is number => id !== null))];
  const names = new Map(
    ids.length ? (await db.select({ id: targets.id, name: targets.name }).from(targets).where(inArray(targets.id, ids))).map((t) => [t.id, t.name]) : [],
  );
  return updated.map((r) => ({ id: r.id, kind: r.kind, target: r.targetId === null ? null : (names.get(r.targetId) ?? null) }));
}
