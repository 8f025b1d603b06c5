/**
 * npm run agent -- [--target NAME] [--supervise] [--start-timeout SECONDS]
 * Runs on a target's database host when Lifeboat itself runs elsewhere (docker-compose, a dashboard
 * serving several database hosts): a worker bound to that target's host queue only. It runs the
 * operations that need the host (in-place PITR), samples the archive backlog from
 * pg_wal/archive_status and the data volume's free space every minute, and reports through the same
 * run records. No new protocol: the queue on the metadata database is the channel. It refuses to
 * start (exit 2) when the target has no data directory it can read.
 *
 * With --supervise it also keeps PostgreSQL running (the docker-compose `postgres` service's
 * entrypoint): it starts the cluster at boot, starts it again when it stops unexpectedly, and on
 * SIGTERM/SIGINT stops the worker and then PostgreSQL (fast shutdown), so a container stops cleanly.
 */
import { open } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { Command } from "commander";
import type PgBoss from "pg-boss";
import { createDb, type DbHandle } from "@/lib/db/client";
import { migrateDatabase } from "@/lib/db/migrate";
import { getEnv, type TEnv } from "@/lib/env";
import type { ManagedCluster } from "@/lib/engine/cluster/managed-cluster";
import { InvalidInputError, LifeboatError, TargetBusyError } from "@/lib/engine/errors";
import { undoJournalEntry } from "@/lib/engine/journal/undo-journal-entry";
import { hostQueue, openQueue, workerLabel } from "@/lib/jobs/queue";
import { dataDirectoryProblem } from "@/lib/engine/wal/sample-data-directory";
import { startWorker, type Worker } from "@/lib/jobs/worker";
import { BackupLog } from "@/lib/log/backup-log";
import { acquireOperationLock } from "@/lib/operations/locks";
import { managedClusterOf, resolveTarget, type ResolvedTarget } from "@/lib/targets/resolve-target";
import { runCli, warn } from "./context";

const program = new Command("agent")
  .description("Work a target's host queue on its database host (and, with --supervise, keep its PostgreSQL running)")
  .option("--target <name>", "the target whose database host this is (default: the one from DB_*)")
  .option("--supervise", "start PostgreSQL, restart it when it stops unexpectedly, stop it when the agent stops")
  .option("--start-timeout <seconds>", "how long PostgreSQL may take to start", "120")
  .showHelpAfterError();

const SAMPLE_INTERVAL_MS = 60_000;
const WATCH_INTERVAL_MS = 1_000;
const METADATA_RETRY_MS = 10_000;
/** Undo work in a lock's journal that is about the cluster itself (lib/engine/journal): done before it is started. */
const CLUSTER_UNDO = new Set(["pitr-in-place", "pitr-finish"]);

runCli(async () => {
  program.parse();
  const opts = program.opts<{ target?: string; supervise?: boolean; startTimeout: string }>();
  const startTimeoutMs = Number(opts.startTimeout) * 1000;
  if (!Number.isFinite(startTimeoutMs) || startTimeoutMs < 1000) throw new InvalidInputError("--start-timeout must be a number of seconds (at least 1)");
  const env = getEnv();
  const name = opts.target ?? env.DB_TARGET_NAME;
  const stopping = signalLatch();

  let meta: DbHandle | undefined;
  let boss: PgBoss | undefined;
  let worker: Worker | undefined;
  let supervisor: Supervisor | undefined;
  let exitCode = 0;
  try {
    // The default target is known from DB_* alone: a supervisor starts PostgreSQL before (and
    // whether or not) the metadata database answers. Other targets are rows in it.
    let target = name === env.DB_TARGET_NAME ? await resolveTarget({ env, name }) : undefined;
    if (target) await refuseUnlessOnHost(target);
    if (target && opts.supervise) supervisor = await superviseCluster(target, env, () => worker, startTimeoutMs);

    // A supervisor keeps PostgreSQL running whatever happens to the worker's side: the metadata
    // database and the queue are retried until they work (or a signal stops the agent).
    for (;;) {
      meta = await connectMetadata(env, { keepTrying: supervisor !== undefined, stopping: stopping.promise });
      if (!meta) break; // a signal came while waiting for it
      try {
        const db = meta;
        target = await resolveTarget({ env, db: db.db, name });
        await refuseUnlessOnHost(target);
        if (!supervisor && opts.supervise) supervisor = await superviseCluster(target, env, () => worker, startTimeoutMs);
        boss = await openQueue(env.DATABASE_URL, { application: "lifeboat agent" });
        const label = workerLabel("agent");
        worker = await startWorker({
          services: { env, meta: db, log: new BackupLog(path.resolve(env.LOG_DIR), [env.DB_PASSWORD]) },
          boss,
          label,
          via: "agent",
          queues: [hostQueue(target.name)],
          // One target, one operation at a time (its queue keeps one active job anyway).
          concurrency: 1,
          schedulerIntervalMs: 0,
          sampleIntervalMs: SAMPLE_INTERVAL_MS,
          sampleTargets: [target.name],
          onEvent: (message) => warn(message),
        });
        warn(
          `${label} ready: ${target.name}'s host queue (${hostQueue(target.name)}), data directory ${target.dataDir}${supervisor ? ", supervising PostgreSQL" : ""}`,
        );
        break;
      } catch (error) {
        if (!supervisor || error instanceof InvalidInputError) throw error;
        warn(`the agent's worker could not start (${(error as Error).message}); PostgreSQL keeps running, trying again in ${METADATA_RETRY_MS / 1000} s`);
        await boss?.stop({ graceful: false }).catch(() => undefined);
        boss = undefined;
        await meta.close().catch(() => undefined);
        meta = undefined;
        if (await stoppedWithin(METADATA_RETRY_MS, stopping.promise)) break;
      }
    }
    await stopping.promise;
  } finally {
    // Order matters: no restart while stopping, then the running operation ends (an in-place PITR
    // puts the previous data directory back), then PostgreSQL stops.
    await supervisor?.pause();
    await worker?.stop();
    await boss?.stop({ graceful: true, timeout: 10_000 }).catch(() => undefined);
    if (supervisor) exitCode = await supervisor.shutdown();
    await meta?.close().catch(() => undefined);
  }
  return exitCode;
});

/** Resolves on the first SIGINT/SIGTERM; a second one exits at once. */
function signalLatch(): { promise: Promise<NodeJS.Signals> } {
  let received: NodeJS.Signals | undefined;
  let resolve: (signal: NodeJS.Signals) => void = () => undefined;
  const promise = new Promise<NodeJS.Signals>((r) => (resolve = r));
  const handler = (signal: NodeJS.Signals) => {
    if (received) process.exit(128 + (os.constants.signals[signal] ?? 15));
    received = signal;
    warn(`${signal}: stopping the agent (again to quit at once)`);
    resolve(signal);
  };
  process.on("SIGINT", handler);
  process.on("SIGTERM", handler);
  return { promise };
}

async function refuseUnlessOnHost(target: ResolvedTarget): Promise<void> {
  const problem = await dataDirectoryProblem(target);
  if (problem) throw new InvalidInputError(`The agent runs on ${target.name}'s database host and needs its data directory: ${problem}.`);
}

/**
 * The metadata database (the agent's only channel). A supervisor keeps PostgreSQL running while it
 * is unreachable and tries again every few seconds; a plain agent gives up at once (exit 1).
 */
async function connectMetadata(env: TEnv, options: { keepTrying: boolean; stopping: Promise<unknown> }): Promise<DbHandle | undefined> {
  for (;;) {
    const handle = createDb(env.DATABASE_URL, { max: 3 });
    try {
      await migrateDatabase(handle);
      return handle;
    } catch (error) {
      await handle.close().catch(() => undefined);
      const message = `the metadata database is unreachable (${(error as Error).message})`;
      if (!options.keepTrying) throw new LifeboatError("METADATA_UNAVAILABLE", `${message}: the agent takes its jobs from there.`, {}, { cause: error });
      warn(`${message}; PostgreSQL keeps running, trying again in ${METADATA_RETRY_MS / 1000} s`);
    }
    if (await stoppedWithin(METADATA_RETRY_MS, options.stopping)) return undefined;
  }
}

/** Wait `ms`, or less if the agent is told to stop meanwhile; true when it was. */
async function stoppedWithin(ms: number, stopping: Promise<unknown>): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const stopped = await Promise.race([stopping.then(() => true), new Promise<boolean>((r) => (timer = setTimeout(() => r(false), ms)))]);
  clearTimeout(timer);
  return stopped;
}

async function superviseCluster(target: ResolvedTarget, env: TEnv, worker: () => Worker | undefined, startTimeoutMs: number): Promise<Supervisor> {
  const cluster = managedClusterOf(target, env.PG_BIN_DIR);
  if (!cluster) throw new InvalidInputError(`${target.name} declares no data directory on this host, so there is no PostgreSQL to supervise.`);
  const supervisor = new Supervisor(cluster, target, env, { worker, startTimeoutMs });
  await supervisor.boot();
  supervisor.watch();
  return supervisor;
}

/**
 * Keeps a target's PostgreSQL running on this host.
 *
 * Who may have it stopped: an operation that holds the target's lock (an in-place PITR stops,
 * replaces and starts the cluster itself). So a start by the supervisor is done *under that same
 * lock* (the lock file in the target's repository folder, which every operation takes, whatever
 * host it runs on): when an operation of this agent (the worker's busy flag, checked first so we
 * do not even compete for the lock), of a CLI on this host, or of any other Lifeboat process holds
 * it, the stopped cluster is left alone; and an in-place PITR that starts meanwhile waits for the
 * supervisor's start to finish (it is refused as busy and pg-boss retries it), never the other
 * way round. Taking the lock also runs the undo work a dead holder left in its journal (an
 * interrupted in-place PITR puts the previous data directory back), exactly as the next operation
 * would: the cluster is never started on a half-restored data directory.
 */
class Supervisor {
  private timer: NodeJS.Timeout | undefined;
  private ticking: Promise<void> = Promise.resolve();
  private paused = false;
  private retryAt = 0;
  private backoffMs = 0;
  private lastNote: string | undefined;

  constructor(
    private readonly cluster: ManagedCluster,
    private readonly target: ResolvedTarget,
    private readonly env: TEnv,
    private readonly deps: { worker: () => Worker | undefined; startTimeoutMs: number },
  ) {}

  /** At boot: PostgreSQL runs when this returns, or it throws with the server's own words. */
  async boot(): Promise<void> {
    if (await this.cluster.isRunning()) {
      warn(`PostgreSQL in ${this.cluster.dataDir} is running`);
      return;
    }
    warn(`PostgreSQL in ${this.cluster.dataDir} is not running: starting it`);
    const outcome = await this.startUnderLock();
    if (outcome.startsWith("busy: ")) {
      // Someone else's operation holds the cluster (a CLI on this host): watch() starts it when it ends.
      warn(`not starting PostgreSQL yet: ${outcome.slice(6)}`);
      return;
    }
    warn(`PostgreSQL in ${this.cluster.dataDir} started`);
  }

  watch(): void {
    const next = () => {
      if (this.paused) return;
      this.timer = setTimeout(() => {
        this.ticking = this.tick().finally(next);
      }, WATCH_INTERVAL_MS);
    };
    next();
  }

  private async tick(): Promise<void> {
    if (await this.cluster.isRunning()) {
      this.backoffMs = 0;
      this.lastNote = undefined;
      return;
    }
    if (this.deps.worker()?.busy()) return this.note("an operation of this agent is running; it stops and starts PostgreSQL itself");
    if (Date.now() < this.retryAt) return;
    try {
      const outcome = await this.startUnderLock();
      if (outcome.startsWith("busy: ")) return this.note(`${outcome.slice(6).replace(/\.\s*$/, "")}; PostgreSQL stays stopped until it ends`);
      if (this.paused) return;
      warn(`PostgreSQL in ${this.cluster.dataDir} had stopped unexpectedly: started it again`);
      this.backoffMs = 0;
      this.lastNote = undefined;
    } catch (error) {
      this.backoffMs = Math.min(Math.max(this.backoffMs * 2, 2_000), 60_000);
      this.retryAt = Date.now() + this.backoffMs;
      warn(
        `PostgreSQL in ${this.cluster.dataDir} stopped and could not be started again: ${(error as Error).message} (trying again in ${this.backoffMs / 1000} s)`,
      );
    }
  }

  private note(message: string): void {
    if (message !== this.lastNote) warn(`PostgreSQL in ${this.cluster.dataDir} is stopped: ${message}`);
    this.lastNote = message;
  }

  /**
   * Under the target's lock: the journal of a dead holder first, then start the cluster (if the
   * undo did not already) within the deadline. "busy: …" when another operation holds the lock.
   */
  private async startUnderLock(): Promise<string> {
    let lock;
    try {
      lock = await acquireOperationLock({
        // The lock file alone: every operation takes it too, and a restart must not depend on the
        // metadata database being up.
        meta: undefined,
        repositoryDir: this.target.repository.dir,
        target: this.target.name,
        operation: "agent: start PostgreSQL",
      });
    } catch (error) {
      if (error instanceof TargetBusyError) return `busy: ${error.message}`;
      throw error;
    }
    try {
      // Only what concerns this cluster's data directory; the rest (a scratch database to drop)
      // needs the server up and stays in the lock for the next operation.
      for (const entry of lock.file.pendingJournal.filter((e) => CLUSTER_UNDO.has(e.action))) {
        const done = await undoJournalEntry(entry, {
          connection: this.target.connection,
          cluster: this.cluster,
          osUser: this.target.osUser,
          pgBinDir: this.env.PG_BIN_DIR,
        });
        await lock.file.resolve(entry.id);
        warn(done);
      }
      if (this.paused || (await this.cluster.isRunning())) return "running";
      try {
        await this.cluster.start({ timeoutMs: this.deps.startTimeoutMs });
      } catch (error) {
        const log = await serverLogTail(this.cluster);
        throw new LifeboatError(
          "CLUSTER_START_FAILED",
          `${(error as Error).message.replace(/\.?\s*$/, "")}.${log ? ` The server's log says: ${log}` : ""}`,
          {},
          { cause: error },
        );
      }
      // pg_ctl -w may return just before a server that cannot run stops again: look once more.
      await new Promise((r) => setTimeout(r, 500));
      if (!(await this.cluster.isRunning())) {
        const log = await serverLogTail(this.cluster);
        throw new LifeboatError(
          "CLUSTER_START_FAILED",
          `PostgreSQL in ${this.cluster.dataDir} started and stopped again.${log ? ` The server's log says: ${log}` : ""}`,
        );
      }
      return "started";
    } finally {
      await lock.release().catch((error: unknown) => warn(`the lock of ${this.target.name} could not be released: ${(error as Error).message}`));
    }
  }

  /** No more restarts (the agent is stopping); waits for a start in progress. */
  async pause(): Promise<void> {
    this.paused = true;
    if (this.timer) clearTimeout(this.timer);
    await this.ticking;
  }

  /** Fast shutdown (sessions end, a checkpoint, a clean stop); immediate if that does not finish in time. Returns the exit code. */
  async shutdown(): Promise<number> {
    if (!(await this.cluster.isRunning())) return 0;
    warn(`stopping PostgreSQL in ${this.cluster.dataDir} (fast shutdown)`);
    try {
      await this.cluster.stop("fast", { timeoutMs: 90_000 });
      warn("PostgreSQL stopped cleanly");
      return 0;
    } catch (error) {
      warn(`PostgreSQL did not stop cleanly (${(error as Error).message}); stopping it immediately (it recovers from its WAL at the next start)`);
      await this.cluster.stop("immediate", { timeoutMs: 30_000 }).catch(() => undefined);
      return 1;
    }
  }
}

/** The server's last relevant log lines (pg_ctl's -l file), to quote when it does not start. */
async function serverLogTail(cluster: ManagedCluster): Promise<string> {
  let text: string;
  try {
    const file = await open(cluster.logFile, "r");
    try {
      const { size } = await file.stat();
      const length = Math.min(size, 32 * 1024);
      const buffer = Buffer.alloc(length);
      await file.read(buffer, 0, length, size - length);
      text = buffer.toString("utf8");
    } finally {
      await file.close();
    }
  } catch {
    return ""; // no log file this agent can read (systemd, pg_ctlcluster: the journal or /var/log/postgresql has it)
  }
  const lines = text
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean)
    .slice(-40);
  const relevant = lines.filter((l) => /FATAL|PANIC|ERROR|could not/.test(l));
  return (relevant.length ? relevant : lines).slice(-3).join(" | ");
}
