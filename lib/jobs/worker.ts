import { hostname } from "node:os";
import { and, eq, isNull } from "drizzle-orm";
import type PgBoss from "pg-boss";
import { runs, targets } from "@/lib/db/schema";
import { OperationAbortedError } from "@/lib/engine/errors";
import { redactSecrets } from "@/lib/engine/pg/connection";
import { dataDirectoryProblem } from "@/lib/engine/wal/sample-data-directory";
import { sampleTargetArchiver } from "@/lib/health/sample-target";
import { watchHealth } from "@/lib/health/watch-health";
import { OPERATIONS, reportInterrupted, runOperation, type OperationServices } from "@/lib/operations";
import { resolveTarget } from "@/lib/targets/resolve-target";
import {
  ensureQueue,
  expireUnclaimedHostJobs,
  HOST_JOB_DEADLINE_MINUTES,
  HOST_JOB_EXPIRED_PHASE,
  hostQueue,
  isHostQueue,
  noAgentMessage,
  OPERATIONS_QUEUE,
  type OperationJob,
} from "./queue";
import { finishRun, markInterruptedRuns } from "./run-records";
import { shipWalRound } from "./ship-wal";
import { ensureDefaultSchedules, runDueSchedules } from "./schedules";

/** Failures worth another attempt later (pg-boss retries with backoff); the rest are final. */
const RETRYABLE = new Set(["TARGET_BUSY", "CONNECTION_FAILED", "LOCK_TIMEOUT", "ARCHIVE_WAIT_TIMEOUT", "METADATA_UNAVAILABLE"]);

export type WorkerOptions = {
  services: OperationServices & { meta: NonNullable<OperationServices["meta"]> };
  boss: PgBoss;
  label: string;
  via: "worker" | "agent";
  /** Queues this worker takes jobs from. */
  queues: string[];
  /** Jobs run at once (each on a different target: the queue keeps one per target). */
  concurrency?: number | undefined;
  /** How often due schedules are fired (0: never, e.g. an agent). */
  schedulerIntervalMs?: number | undefined;
  /** How often the archiver is sampled for the health charts (0: never); the first sample is taken at once. */
  sampleIntervalMs?: number | undefined;
  /** Sample only these targets (an agent: its own); default every target. */
  sampleTargets?: string[] | undefined;
  /**
   * How often every target's health checks are judged and recorded, with a "critical" notice when
   * one has just turned critical (0: never, e.g. an agent; several workers may each judge: the
   * notice goes out once because the state is recorded).
   */
  healthIntervalMs?: number | undefined;
  /** How often archived WAL is shipped to the off-site bucket, when one is configured (0: never). */
  offsiteIntervalMs?: number | undefined;
  /** How often host jobs nobody picked up are expired (0: never). */
  hostCheckIntervalMs?: number | undefined;
  /** Minutes a host job may wait for its pick-up (default HOST_JOB_DEADLINE_MINUTES). */
  hostDeadlineMinutes?: number | undefined;
  now?: (() => Date) | undefined;
  onEvent?: ((message: string) => void) | undefined;
};

export type Worker = {
  stop: () => Promise<void>;
  /** Whether a job is being run right now (an agent's supervisor leaves the cluster alone meanwhile). */
  busy: () => boolean;
};

/**
 * A worker: takes operation jobs from the queue and runs each through runOperation (which takes the
 * run over, holds the target's locks and records everything), watches its runs for a cancel
 * request, fires due schedules, expires host jobs nobody picked up, and samples archiver health
 * (with the backlog and free space read from the data directory when this host can read it).
 * Runs left behind by a dead process on this host are marked interrupted when it starts.
 */
export async function startWorker(options: WorkerOptions): Promise<Worker> {
  const { services, boss } = options;
  const db = services.meta.db;
  const say = (message: string) => options.onEvent?.(message);
  const now = () => (options.now ?? (() => new Date()))();
  const deadlineMinutes = options.hostDeadlineMinutes ?? HOST_JOB_DEADLINE_MINUTES;
  const active = new Set<AbortController>();
  const pending = new Set<Promise<unknown>>();
  const timers: NodeJS.Timeout[] = [];

  for (const dead of await markInterruptedRuns(db, { host: hostname() })) {
    await reportInterrupted(services, dead);
    say(`run ${dead.id} (${dead.kind} of ${dead.target ?? "?"}) had been interrupted`);
  }

  /**
   * Take the job's run before anything runs: only a run still queued and unclaimed is taken (the
   * same condition expireUnclaimedHostJobs uses, so an expiry and a pick-up never both win). A run
   * cancelled or expired while its job waited is not run; any other finished run is a retry of a
   * failed attempt, which runOperation records as a run of its own.
   */
  const takeRun = async (job: PgBoss.Job<OperationJob>): Promise<"claimed" | "retry" | "skip"> => {
    const { runId, input } = job.data;
    const [claimed] = await db
      .update(runs)
      .set({ host: hostname(), pid: process.pid })
      .where(and(eq(runs.id, runId), eq(runs.status, "queued"), isNull(runs.pid)))
      .returning({ queuedAt: runs.queuedAt });
    if (claimed) {
      if (isHostQueue(job.name) && now().getTime() - claimed.queuedAt.getTime() > deadlineMinutes * 60_000) {
        await finishRun(db, runId, { status: "failed", error: noAgentMessage(input.target, deadlineMinutes), phase: HOST_JOB_EXPIRED_PHASE });
        say(`${job.data.kind} of ${input.target}: not run, it waited longer than ${deadlineMinutes} minutes (run ${runId})`);
        return "skip";
      }
      return "claimed";
    }
    const [run] = await db.select({ status: runs.status, phase: runs.phase }).from(runs).where(eq(runs.id, runId));
    if (run && (run.status === "canceled" || run.phase === HOST_JOB_EXPIRED_PHASE)) {
      say(`${job.data.kind} of ${input.target}: not run, its run ${runId} was ${run.status === "canceled" ? "cancelled" : "expired"} while it waited`);
      return "skip";
    }
    return "retry";
  };

  const handle = async (job: PgBoss.Job<OperationJob>) => {
    const data = job.data;
    const definition = (OPERATIONS as Record<string, (typeof OPERATIONS)[keyof typeof OPERATIONS] | undefined>)[data.kind];
    if (!definition) {
      await finishRun(db, data.runId, { status: "failed", error: `unknown operation ${JSON.stringify(data.kind)}` });
      return;
    }
    const taken = await takeRun(job);
    if (taken === "skip") return;
    const controller = new AbortController();
    active.add(controller);
    let runId: number | undefined;
    // A cancel request on the run (npm run cancel, the dashboard) stops it: tools end, partial output goes.
    const watch = setInterval(() => {
      if (runId === undefined) return;
      void db
        .select({ cancel: runs.cancelRequestedAt })
        .from(runs)
        .where(eq(runs.id, runId))
        .then(([row]) => {
          if (row?.cancel && !controller.signal.aborted) controller.abort(new OperationAbortedError("canceled", "The operation was cancelled."));
        })
        .catch(() => undefined); // checked again in a second
    }, 1_000);
    try {
      say(`${data.kind} of ${data.input.target}: started (run ${data.runId})`);
      const outcome = await runOperation(definition as never, data.input, {
        actor: { label: data.actor.label, userId: data.actor.userId, role: null, via: data.actor.via === "schedule" ? "schedule" : options.via },
        services,
        signal: controller.signal,
        runId: data.runId,
        onRun: (id) => (runId = id),
      });
      say(`${data.kind} of ${data.input.target}: ${outcome.status}${outcome.error ? ` (${outcome.error.message})` : ""}`);
      if (outcome.runId === undefined && taken === "claimed") {
        // Refused before it took its run over (invalid input, not confirmed, a check failed): the
        // queued run says so instead of waiting forever.
        await finishRun(db, data.runId, {
          status: outcome.status === "canceled" || outcome.status === "interrupted" ? outcome.status : "failed",
          error: redactSecrets(outcome.error?.message ?? outcome.status, [services.env.DB_PASSWORD]),
        });
      }
      if (outcome.status === "failed" && outcome.error && RETRYABLE.has(outcome.error.code)) {
        // pg-boss tries again later, with backoff; each attempt is a run of its own.
        throw new Error(outcome.error.message);
      }
    } finally {
      clearInterval(watch);
      active.delete(controller);
    }
  };

  for (const queue of options.queues) {
    await ensureQueue(boss, queue);
    for (let i = 0; i < (options.concurrency ?? 2); i++) {
      await boss.work<OperationJob>(queue, { batchSize: 1, pollingIntervalSeconds: 1 }, async ([job]) => {
        if (!job) return;
        const run = handle(job);
        pending.add(run);
        try {
          await run;
        } finally {
          pending.delete(run);
        }
      });
    }
  }

  const schedulerMs = options.schedulerIntervalMs ?? 30_000;
  if (schedulerMs > 0) {
    const tick = () =>
      runDueSchedules(db, boss, now())
        .then((fired) => fired.forEach((f) => say(`schedule ${f.scheduleId} fired: run ${f.runId}`)))
        .catch((error: unknown) => say(`scheduler: ${(error as Error).message}`));
    void tick();
    timers.push(setInterval(() => void tick(), schedulerMs));
  }

  const hostCheckMs = options.hostCheckIntervalMs ?? 30_000;
  if (hostCheckMs > 0) {
    const check = () =>
      expireUnclaimedHostJobs(db, boss, { now: now(), deadlineMinutes })
        .then((expired) => expired.forEach((e) => say(`run ${e.runId} (for the database host of ${e.target}) expired: no agent picked it up`)))
        .catch((error: unknown) => say(`host job deadline check: ${(error as Error).message}`));
    void check();
    timers.push(setInterval(() => void check(), hostCheckMs));
  }

  const sampleMs = options.sampleIntervalMs ?? 60_000;
  if (sampleMs > 0) {
    let sampling = false;
    const sample = async () => {
      if (sampling) return; // a slow archive read must not pile samples up
      sampling = true;
      try {
        const names = options.sampleTargets ?? (await db.select({ name: targets.name }).from(targets)).map((t) => t.name);
        for (const name of names) {
          const target = await resolveTarget({ env: services.env, db, name }).catch(() => undefined);
          if (!target) continue;
          await sampleTargetArchiver({ db, env: services.env, target, freshMs: sampleMs * 0.75 }).catch((error: unknown) =>
            say(`archiver sample of ${name}: ${(error as Error).message}`),
          );
        }
      } catch (error) {
        say(`archiver samples: ${(error as Error).message}`);
      } finally {
        sampling = false;
      }
    };
    void sample();
    timers.push(setInterval(() => void sample(), sampleMs));
  }

  const offsiteMs = options.offsiteIntervalMs ?? 0;
  if (offsiteMs > 0 && services.env.LIFEBOAT_S3_BUCKET) {
    let shipping = false;
    const ship = async () => {
      if (shipping) return; // a slow upload must not start a second round
      shipping = true;
      try {
        for (const { name } of await db.select({ name: targets.name }).from(targets)) {
          const target = await resolveTarget({ env: services.env, db, name }).catch(() => undefined);
          if (!target) continue;
          const round = await shipWalRound(services.meta.pool, target).catch((error: unknown) => {
            say(`off-site WAL of ${name}: ${(error as Error).message}`);
            return undefined;
          });
          if (round?.shipped) say(`off-site WAL of ${name}: ${round.shipped} shipped, ${round.pending} waiting`);
        }
      } catch (error) {
        say(`off-site WAL: ${(error as Error).message}`);
      } finally {
        shipping = false;
      }
    };
    void ship();
    timers.push(setInterval(() => void ship(), offsiteMs));
  }

  const healthMs = options.healthIntervalMs ?? 0;
  if (healthMs > 0) {
    let judging = false;
    const judge = async () => {
      if (judging) return;
      judging = true;
      try {
        for (const target of await watchHealth({ db, env: services.env, now: now(), onError: say }))
          for (const check of target.turnedCritical) say(`health of ${target.target}: ${check.title} turned critical (${check.message})`);
      } catch (error) {
        say(`health watch: ${(error as Error).message}`);
      } finally {
        judging = false;
      }
    };
    timers.push(setInterval(() => void judge(), healthMs));
  }

  return {
    busy: () => pending.size > 0,
    stop: async () => {
      for (const timer of timers) clearInterval(timer);
      for (const queue of options.queues) await boss.offWork(queue).catch(() => undefined);
      // Lifeboat is stopping: running operations end as interrupted (children stopped, partial output removed).
      for (const controller of active) controller.abort(new OperationAbortedError("interrupted", "The worker was stopped while the operation ran."));
      await Promise.allSettled([...pending]);
    },
  };
}

/**
 * The host queues a worker on this host serves: those of targets whose data directory this
 * process can read (the quickstart's demo cluster, a worker run next to a local cluster), so an
 * in-place PITR queued from the dashboard runs without a separate agent.
 */
export async function hostQueuesServedHere(services: WorkerOptions["services"]): Promise<{ queues: string[]; targets: string[] }> {
  const served: string[] = [];
  for (const row of await services.meta.db.select({ name: targets.name }).from(targets).orderBy(targets.name)) {
    const target = await resolveTarget({ env: services.env, db: services.meta.db, name: row.name }).catch(() => undefined);
    if (target && (await dataDirectoryProblem(target)) === undefined) served.push(target.name);
  }
  return { queues: served.map(hostQueue), targets: served };
}

/**
 * `npm run worker` (and the quickstart's): registers the default target, gives every target the
 * seed's schedules when it has none, and works the shared queue plus the host queues of targets
 * whose data directory it can read. Targets added later are served after a restart.
 */
export async function startStandardWorker(
  options: Omit<WorkerOptions, "queues" | "via"> & { timezone: string },
): Promise<Worker & { queues: string[]; hostTargets: string[] }> {
  const db = options.services.meta.db;
  await resolveTarget({ env: options.services.env, db }); // registers the default target from DB_*
  for (const target of await db.select({ id: targets.id }).from(targets)) await ensureDefaultSchedules(db, target.id, options.timezone);
  const host = await hostQueuesServedHere(options.services);
  const queues = [OPERATIONS_QUEUE, ...host.queues];
  const worker = await startWorker({ healthIntervalMs: 5 * 60_000, offsiteIntervalMs: 30_000, ...options, via: "worker", queues });
  return { ...worker, queues, hostTargets: host.targets };
}
