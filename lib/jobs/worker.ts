import { eq } from "drizzle-orm";
import type PgBoss from "pg-boss";
import { recordArchiverSample } from "@/lib/catalog/record-archiver-sample";
import { runs, targets } from "@/lib/db/schema";
import { OperationAbortedError } from "@/lib/engine/errors";
import { sampleArchiver } from "@/lib/engine/wal/sample-archiver";
import { OPERATIONS, runOperation, type OperationServices } from "@/lib/operations";
import { identities } from "@/lib/operations/settings";
import { resolveTarget } from "@/lib/targets/resolve-target";
import { ensureQueue, type OperationJob } from "./queue";
import { finishRun, markInterruptedRuns } from "./run-records";
import { runDueSchedules } from "./schedules";
import { hostname } from "node:os";

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
  /** How often every target's archiver is sampled for the health charts (0: never). */
  sampleIntervalMs?: number | undefined;
  now?: (() => Date) | undefined;
  onEvent?: ((message: string) => void) | undefined;
};

export type Worker = { stop: () => Promise<void> };

/**
 * A worker: takes operation jobs from the queue and runs each through runOperation (which takes the
 * run over, holds the target's locks and records everything), watches its runs for a cancel
 * request, fires due schedules and samples archiver health. Runs left behind by a dead process on
 * this host are marked interrupted when it starts.
 */
export async function startWorker(options: WorkerOptions): Promise<Worker> {
  const { services, boss } = options;
  const db = services.meta.db;
  const say = (message: string) => options.onEvent?.(message);
  const active = new Set<AbortController>();
  const pending = new Set<Promise<unknown>>();
  const timers: NodeJS.Timeout[] = [];

  for (const dead of await markInterruptedRuns(db, { host: hostname() })) say(`run ${dead.id} (${dead.kind} of ${dead.target ?? "?"}) had been interrupted`);

  const handle = async (job: PgBoss.Job<OperationJob>) => {
    const data = job.data;
    const definition = (OPERATIONS as Record<string, (typeof OPERATIONS)[keyof typeof OPERATIONS] | undefined>)[data.kind];
    if (!definition) {
      await finishRun(db, data.runId, { status: "failed", error: `unknown operation ${JSON.stringify(data.kind)}` });
      return;
    }
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
      runDueSchedules(db, boss, (options.now ?? (() => new Date()))())
        .then((fired) => fired.forEach((f) => say(`schedule ${f.scheduleId} fired: run ${f.runId}`)))
        .catch((error: unknown) => say(`scheduler: ${(error as Error).message}`));
    void tick();
    timers.push(setInterval(() => void tick(), schedulerMs));
  }

  const sampleMs = options.sampleIntervalMs ?? 60_000;
  if (sampleMs > 0) {
    const sample = async () => {
      for (const row of await db.select({ name: targets.name }).from(targets)) {
        try {
          const target = await resolveTarget({ env: services.env, db, name: row.name });
          if (target.id === null) continue;
          const stats = await sampleArchiver(target.connection, {
            archive: {
              dir: target.repository.archiveDir,
              streamDir: target.repository.streamDir,
              pgBinDir: services.env.PG_BIN_DIR,
              identities: await identities(services.env).catch(() => []),
            },
          });
          await recordArchiverSample(db, target.id, stats);
        } catch (error) {
          say(`archiver sample of ${row.name}: ${(error as Error).message}`);
        }
      }
    };
    timers.push(setInterval(() => void sample(), sampleMs));
  }

  return {
    stop: async () => {
      for (const timer of timers) clearInterval(timer);
      for (const queue of options.queues) await boss.offWork(queue).catch(() => undefined);
      // Lifeboat is stopping: running operations end as interrupted (children stopped, partial output removed).
      for (const controller of active) controller.abort(new OperationAbortedError("interrupted", "The worker was stopped while the operation ran."));
      await Promise.allSettled([...pending]);
    },
  };
}
