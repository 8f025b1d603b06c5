import { hostname } from "node:os";
import { and, eq, inArray, isNull, like, lt } from "drizzle-orm";
import PgBoss from "pg-boss";
import type { Db } from "@/lib/db/client";
import { runs, targets } from "@/lib/db/schema";
import { LifeboatError } from "@/lib/engine/errors";
import { OPERATIONS } from "@/lib/operations/registry";
import { insertRun } from "./run-records";

/**
 * The job queue (pg-boss on the metadata database): any number of workers on any number of hosts
 * share it. Operations of one target never run at once: the queue is a singleton queue keyed by
 * target (one active job per target), and the operation itself takes the target's locks. Jobs that
 * need the database host itself (an in-place PITR: OperationDefinition.host) go to that target's
 * host queue, which only a process on that host works: its agent (`npm run agent`), or a worker
 * that can read the target's data directory (the quickstart's).
 */
export const OPERATIONS_QUEUE = "lifeboat-operations";

const HOST_QUEUE_PREFIX = "lifeboat-host-";

export function hostQueue(target: string): string {
  return `${HOST_QUEUE_PREFIX}${target}`;
}

export function isHostQueue(queue: string): boolean {
  return queue.startsWith(HOST_QUEUE_PREFIX);
}

/**
 * How long a host job may wait for a process on the database host to pick it up. An in-place PITR
 * queued at 10:00 must not run at 16:00 because someone started an agent then: past the deadline
 * the run finishes failed (expireUnclaimedHostJobs, and the worker refuses a late pick-up).
 */
export const HOST_JOB_DEADLINE_MINUTES = 10;

/** The phase of a host job's run that nobody picked up in time (a worker that fetches it late skips it). */
export const HOST_JOB_EXPIRED_PHASE = "expired: no agent picked it up";

export function noAgentMessage(target: string, minutes: number = HOST_JOB_DEADLINE_MINUTES): string {
  return `No agent for ${target} picked this up within ${minutes} minutes, so nothing was changed: start \`npm run agent -- --target ${target}\` on the database host (or run \`npm run worker\` there), then queue it again.`;
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
 * Whether a job needs the target's database host: asked explicitly (`npm run enqueue -- --host`),
 * or declared by the operation for this input (an in-place PITR). Input the operation would refuse
 * is not routed anywhere special: whoever picks it up refuses it with the operation's own message.
 */
export function needsHost(kind: string, input: Record<string, unknown>, explicit?: boolean): boolean {
  if (explicit) return true;
  const definition = (OPERATIONS as Record<string, (typeof OPERATIONS)[keyof typeof OPERATIONS] | undefined>)[kind];
  if (!definition?.host) return false;
  const parsed = definition.input.safeParse(input);
  return parsed.success ? (definition.host as (input: unknown) => boolean)(parsed.data) : false;
}

/**
 * Queue an operation: its run record is inserted now (status queued, owned by no process until a
 * worker claims it), and the job carries the run's id. An operation that needs the database host
 * (OperationDefinition.host) goes to the target's host queue, with a deadline for its pick-up.
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
    /** Force the host queue (otherwise the operation's definition decides). */
    host?: boolean | undefined;
  },
): Promise<{ runId: number; jobId: string; queue: string; host: boolean }> {
  const host = needsHost(request.kind, request.input, request.host);
  const queue = host ? hostQueue(request.input.target) : OPERATIONS_QUEUE;
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
  const jobId = await boss.send(queue, job, {
    singletonKey: request.input.target,
    retryLimit: 2,
    retryDelay: 60,
    retryBackoff: true,
    expireInHours: 12,
    // pg-boss drops a host job nobody fetched a little after the deadline (the run is failed at the deadline).
    ...(host ? { retentionSeconds: (HOST_JOB_DEADLINE_MINUTES + 5) * 60 } : {}),
  });
  if (!jobId) throw new LifeboatError("QUEUE_REFUSED", `The queue refused the ${request.kind} job for ${request.input.target}.`);
  await db
    .update(runs)
    .set({ jobId: `${queue}/${jobId}` })
    .where(eq(runs.id, runId));
  return { runId, jobId, queue, host };
}

/**
 * Host jobs nobody picked up within the deadline: their runs finish failed with a sentence saying
 * what to start where, and the jobs are cancelled so a process that starts later never runs them.
 * Every worker and agent calls this periodically (any of them may be the only one running); the
 * update only takes runs still queued and unclaimed, so a pick-up and an expiry never both win.
 */
export async function expireUnclaimedHostJobs(
  db: Db,
  boss: PgBoss,
  options: { now?: Date | undefined; deadlineMinutes?: number | undefined } = {},
): Promise<{ runId: number; target: string }[]> {
  const now = options.now ?? new Date();
  const minutes = options.deadlineMinutes ?? HOST_JOB_DEADLINE_MINUTES;
  const stale = await db
    .select({ id: runs.id, jobId: runs.jobId, target: targets.name })
    .from(runs)
    .leftJoin(targets, eq(targets.id, runs.targetId))
    .where(
      and(
        eq(runs.status, "queued"),
        isNull(runs.pid),
        like(runs.jobId, `${HOST_QUEUE_PREFIX}%`),
        lt(runs.queuedAt, new Date(now.getTime() - minutes * 60_000)),
      ),
    );
  const expired: { runId: number; target: string }[] = [];
  for (const run of stale) {
    const [queue, id] = (run.jobId ?? "").split("/");
    const target = run.target ?? queue?.slice(HOST_QUEUE_PREFIX.length) ?? "the target";
    const updated = await db
      .update(runs)
      .set({ status: "failed", error: noAgentMessage(target, minutes), finishedAt: new Date(), phase: HOST_JOB_EXPIRED_PHASE })
      .where(and(eq(runs.id, run.id), eq(runs.status, "queued"), isNull(runs.pid)))
      .returning({ id: runs.id });
    if (updated.length === 0) continue; // picked up meanwhile
    if (queue && id) await boss.cancel(queue, id).catch(() => undefined); // the run record is already final
    expired.push({ runId: run.id, target });
  }
  return expired;
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
