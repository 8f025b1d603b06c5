import { hostname } from "node:os";
import { and, eq, inArray } from "drizzle-orm";
import PgBoss from "pg-boss";
import type { Db } from "@/lib/db/client";
import { runs } from "@/lib/db/schema";
import { LifeboatError } from "@/lib/engine/errors";
import { insertRun } from "./run-records";

/**
 * The job queue (pg-boss on the metadata database): any number of workers on any number of hosts
 * share it. Operations of one target never run at once: the queue is a singleton queue keyed by
 * target (one active job per target), and the operation itself takes the target's locks. Jobs that
 * need the database host itself (an in-place PITR when Lifeboat runs elsewhere) go to that target's
 * host queue, which only its agent works.
 */
export const OPERATIONS_QUEUE = "lifeboat-operations";

export function hostQueue(target: string): string {
  return `lifeboat-host-${target}`;
}

/** What a job carries: the run it was queued as, the operation and its input, and who asked. */
export type OperationJob = {
  runId: number;
  kind: string;
  input: Record<string, unknown> & { target: string };
  actor: { label: string; userId: number | null; via: "cli" | "web" | "worker" | "agent" | "quickstart" | "schedule" };
};

export async function openQueue(databaseUrl: string, options: { application?: string } = {}): Promise<PgBoss> {
  const boss = new PgBoss({
    connectionString: databaseUrl,
    schema: "pgboss",
    max: 4,
    application_name: options.application ?? "lifeboat queue",
    // Lifeboat's own scheduler fires schedules (they are data in its tables, with a controllable clock).
    schedule: false,
    supervise: true,
  });
  boss.on("error", (error: Error) => process.stderr.write(`lifeboat: job queue: ${error.message}\n`));
  await boss.start();
  await ensureQueue(boss, OPERATIONS_QUEUE);
  return boss;
}

const made = new WeakMap<PgBoss, Set<string>>();

export async function ensureQueue(boss: PgBoss, name: string): Promise<void> {
  const known = made.get(boss) ?? new Set<string>();
  made.set(boss, known);
  if (known.has(name)) return;
  if (!(await boss.getQueue(name))) {
    // singleton + singletonKey = target: one active job per target, any number waiting.
    await boss.createQueue(name, { name, policy: "singleton", retryLimit: 2, retryDelay: 60, retryBackoff: true, expireInHours: 12 });
  }
  known.add(name);
}

/**
 * Queue an operation: its run record is inserted now (status queued, owned by no process until a
 * worker claims it), and the job carries the run's id.
 */
export async function enqueueOperation(
  db: Db,
  boss: PgBoss,
  request: {
    kind: string;
    input: OperationJob["input"];
    targetId: number | null;
    actor: OperationJob["actor"];
    params?: Record<string, unknown>;
    host?: boolean;
  },
): Promise<{ runId: number; jobId: string }> {
  const queue = request.host ? hostQueue(request.input.target) : OPERATIONS_QUEUE;
  await ensureQueue(boss, queue);
  const runId = await insertRun(db, {
    targetId: request.targetId,
    kind: request.kind,
    params: request.params ?? {},
    triggeredBy: request.actor.via,
    userId: request.actor.userId,
    owned: false,
  });
  const job: OperationJob = { runId, kind: request.kind, input: request.input, actor: request.actor };
  const jobId = await boss.send(queue, job, { singletonKey: request.input.target, retryLimit: 2, retryDelay: 60, retryBackoff: true, expireInHours: 12 });
  if (!jobId) throw new LifeboatError("QUEUE_REFUSED", `The queue refused the ${request.kind} job for ${request.input.target}.`);
  await db
    .update(runs)
    .set({ jobId: `${queue}/${jobId}` })
    .where(eq(runs.id, runId));
  return { runId, jobId };
}

/**
 * Cancel a run: one still waiting in the queue is cancelled there and finished as canceled; one
 * running is flagged, and the worker running it stops it (its tools end, partial output goes).
 */
export async function requestCancel(db: Db, boss: PgBoss | undefined, runId: number): Promise<"canceled" | "requested" | "finished"> {
  const [run] = await db.select().from(runs).where(eq(runs.id, runId));
  if (!run) throw new LifeboatError("RUN_NOT_FOUND", `There is no run ${runId}.`);
  if (!["queued", "running"].includes(run.status)) return "finished";
  if (run.status === "queued" && run.pid === null) {
    const updated = await db
      .update(runs)
      .set({ status: "canceled", error: "cancelled before it started", finishedAt: new Date(), phase: "canceled" })
      .where(and(eq(runs.id, runId), eq(runs.status, "queued")))
      .returning({ id: runs.id });
    if (updated.length && run.jobId && boss) {
      const [queue, id] = run.jobId.split("/");
      if (queue && id) await boss.cancel(queue, id).catch(() => undefined); // the run record is already final
    }
    if (updated.length) return "canceled";
  }
  await db
    .update(runs)
    .set({ cancelRequestedAt: new Date() })
    .where(and(eq(runs.id, runId), inArray(runs.status, ["queued", "running"])));
  return "requested";
}

export function workerLabel(kind: "worker" | "agent"): string {
  return `${kind}:${hostname()}:${process.pid}`;
}
