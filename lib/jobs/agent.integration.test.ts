import { execFile, spawn, type ChildProcess } from "node:child_process";
import { chmod, copyFile, mkdtemp, readFile, rm } from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { and, desc, eq, isNotNull } from "drizzle-orm";
import pg from "pg";
import type PgBoss from "pg-boss";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { archiverSamples, runs, targets } from "@/lib/db/schema";
import { parseEnv } from "@/lib/env";
import { LocalCluster } from "@/lib/engine/cluster/local-cluster";
import { ManagedCluster } from "@/lib/engine/cluster/managed-cluster";
import { withClient } from "@/lib/engine/pg/server-info";
import { LocalRepository } from "@/lib/engine/repository/repository";
import { TargetLock } from "@/lib/engine/repository/target-lock";
import { BackupLog } from "@/lib/log/backup-log";
import { createTestMetadataDb, type TestMetadataDb } from "@/test/helpers/metadata-db";
import { enqueueOperation, expireUnclaimedHostJobs, HOST_JOB_EXPIRED_PHASE, hostQueue, OPERATIONS_QUEUE, openQueue, requestCancel } from "./queue";
import { hostQueuesServedHere, startWorker } from "./worker";

const exec = promisify(execFile);
const repo = path.resolve(import.meta.dirname, "..", "..");
const tsx = path.join(repo, "node_modules", ".bin", "tsx");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const APP_PASSWORD = "agent-App:pw'1";
const NO_AGENT = /No agent for app picked this up within 10 minutes, so nothing was changed: start `npm run agent -- --target app` on the database host/;

type AgentProcess = { child: ChildProcess; output: () => string; exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }> };

/**
 * Issue 10's agent: the real `npm run agent -- --target app --supervise` process on the "database
 * host" (this machine, with the cluster's data directory), an in-place PITR queued from another
 * process that knows nothing of the host (no DB_DATA_DIR), PostgreSQL kept running and stopped
 * cleanly, and host jobs that nobody picks up failing with a sentence that says what to start.
 */
describe("the agent on the database host (issue 10)", () => {
  let work: string;
  let cluster: LocalCluster;
  let meta: TestMetadataDb;
  let onHost: NodeJS.ProcessEnv;
  let elsewhere: NodeJS.ProcessEnv;
  let targetId: number;
  let agent: AgentProcess | undefined;
  const bosses: PgBoss[] = [];

  const app = () => ({ host: "127.0.0.1", port: cluster.port, database: "app", user: "app", password: APP_PASSWORD });
  const appSql = async <R extends pg.QueryResultRow = pg.QueryResultRow>(text: string) => withClient(app(), async (c) => (await c.query<R>(text)).rows);
  const markers = async () => (await appSql<{ v: string }>("select v from marker order by id")).map((r) => r.v);
  const managed = () => new ManagedCluster({ dataDir: cluster.dataDir, control: { method: "pg_ctl" }, logFile: cluster.logFile });

  const waitFor = async <T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number): Promise<T> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = await probe().catch(() => undefined);
      if (value !== undefined) return value;
      if (Date.now() > deadline)
        throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}${agent ? `\nagent output:\n${agent.output()}` : ""}`);
      await sleep(200);
    }
  };

  /** Switch to a new WAL segment and wait until the archiver has it. */
  const archiveNow = async () => {
    const [row] = await cluster.query<{ f: string }>("select pg_walfile_name(pg_switch_wal()) as f");
    await waitFor(
      `segment ${row!.f} to be archived`,
      async () => {
        const [a] = await cluster.query<{ w: string | null }>("select last_archived_wal as w from pg_stat_archiver");
        return a?.w && a.w.slice(8) >= row!.f.slice(8) ? true : undefined;
      },
      30_000,
    );
  };

  const cli = async (script: string, args: string[], env: NodeJS.ProcessEnv) => {
    try {
      const { stdout, stderr } = await exec(tsx, [path.join(repo, "cli", script), ...args], { cwd: repo, env, timeout: 120_000 });
      return { code: 0, stdout, stderr };
    } catch (error) {
      const e = error as { code: number; stdout: string; stderr: string };
      return { code: e.code, stdout: e.stdout, stderr: e.stderr };
    }
  };

  const startAgent = (): AgentProcess => {
    const child = spawn(tsx, [path.join(repo, "cli", "agent.ts"), "--target", "app", "--supervise"], {
      cwd: repo,
      env: onHost,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout!.setEncoding("utf8").on("data", (c: string) => (output += c));
    child.stderr!.setEncoding("utf8").on("data", (c: string) => (output += c));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.once("exit", (code, signal) => resolve({ code, signal })),
    );
    return { child, output: () => output, exited };
  };

  beforeAll(async () => {
    work = await mkdtemp(path.join(os.tmpdir(), "lifeboat-agent-"));
    // PostgreSQL's OS user runs archive_command and the server under this folder.
    await chmod(work, 0o755);
    const archiveWal = path.join(work, "archive-wal");
    await copyFile(path.join(repo, "bin", "archive-wal"), archiveWal);
    await chmod(archiveWal, 0o755);
    const repository = new LocalRepository(path.join(work, "backups"), "app");
    await repository.prepareArchive();
    // scram-sha-256 on TCP (the only way the agent and the CLI connect); WAL archived into the repository.
    cluster = await LocalCluster.open({
      baseDir: path.join(work, "cluster"),
      password: "agent-superuser-pw",
      walLevel: "replica",
      archiveMode: "on",
      archiveCommand: `'${archiveWal}' %p '${repository.archiveDir}' %f`,
    });
    await cluster.start();
    // The app's role: not a superuser, and without pg_monitor (the backlog is read from the files by the agent).
    await cluster.query(`create role app login createdb replication password ${pg.escapeLiteral(APP_PASSWORD)}`);
    await cluster.query("create database app owner app");
    await cluster.query("grant execute on function pg_create_restore_point(text) to app");
    await cluster.query("grant execute on function pg_switch_wal() to app");
    await appSql("create table marker (id serial primary key, v text not null); insert into marker (v) values ('before-base')");
    await archiveNow();

    meta = await createTestMetadataDb();
    elsewhere = {
      NODE_ENV: "test",
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      DB_HOST: "127.0.0.1",
      DB_PORT: String(cluster.port),
      DB_NAME: "app",
      DB_USER: "app",
      DB_PASSWORD: APP_PASSWORD,
      DB_TARGET_NAME: "app",
      DATABASE_URL: meta.url,
      BACKUP_DIR: path.join(work, "backups"),
      LOG_DIR: path.join(work, "logs"),
      LIFEBOAT_LOCK_TIMEOUT: "60",
    };
    // The database host: the same target, plus what only this host knows.
    onHost = { ...elsewhere, DB_DATA_DIR: cluster.dataDir, DB_CONTROL: "pg_ctl", DB_OS_USER: "postgres" };
    const backup = await cli("backup.ts", ["--kinds", "base"], elsewhere);
    expect(backup.code, backup.stderr).toBe(0);
    const [row] = await meta.db.select().from(targets).where(eq(targets.name, "app"));
    targetId = row!.id;
  });

  afterAll(async () => {
    if (agent && agent.child.exitCode === null) {
      agent.child.kill("SIGKILL");
      await agent.exited;
    }
    for (const boss of bosses) await boss.stop({ graceful: false }).catch(() => undefined);
    await cluster?.remove();
    await meta?.drop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it("refuses to start without a data directory it can read (exit 2, a sentence saying why)", async () => {
    const none = await cli("agent.ts", ["--target", "app"], elsewhere);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/app declares no data directory on this host \(DB_DATA_DIR/);
    const wrong = await cli("agent.ts", ["--target", "app"], { ...onHost, DB_DATA_DIR: path.join(work, "nowhere") });
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toMatch(/nowhere is not a PostgreSQL data directory/);
  });

  it("samples the backlog and free space from the host, and starts PostgreSQL again when it stops outside any operation", async () => {
    agent = startAgent();
    await waitFor("the agent to be ready", async () => (/ready: app's host queue/.test(agent!.output()) ? true : undefined), 90_000);
    // The role has no pg_monitor: only the host's files give the backlog.
    const sample = await waitFor(
      "a sample with the host's numbers",
      async () =>
        (
          await meta.db
            .select()
            .from(archiverSamples)
            .where(and(eq(archiverSamples.targetId, targetId), isNotNull(archiverSamples.readyCount), isNotNull(archiverSamples.dataVolumeFreeBytes)))
        )[0],
      60_000,
    );
    expect(sample.readyCount).toBeGreaterThanOrEqual(0);
    expect(sample.dataVolumeFreeBytes).toBeGreaterThan(0);

    const before = await managed().postmasterPid();
    expect(before).toBeDefined();
    await cluster.stop("immediate"); // a crash, as far as the agent can tell
    const after = await waitFor(
      "PostgreSQL to be started again",
      async () => {
        const pid = await managed().postmasterPid();
        if (pid === undefined || pid === before) return undefined;
        await appSql("select 1");
        return pid;
      },
      60_000,
    );
    expect(after).not.toBe(before);
    await waitFor("the agent to say so", async () => (/had stopped unexpectedly: started it again/.test(agent!.output()) ? true : undefined), 10_000);
  });

  it("leaves PostgreSQL stopped while another process holds the target's lock, and starts it once the lock is released", async () => {
    // As `npm run restore pitr … --yes` typed on this host would: its in-place recovery has the cluster stopped.
    const restarted = () => agent!.output().match(/had stopped unexpectedly: started it again/g)?.length ?? 0;
    const before = restarted();
    const lock = await TargetLock.acquire(path.join(work, "backups", "app"), "app", "pitr");
    try {
      await cluster.stop("immediate");
      await waitFor("the agent to leave it alone", async () => (/stays stopped until it ends/.test(agent!.output()) ? true : undefined), 20_000);
      await sleep(3000);
      expect(await managed().isRunning()).toBe(false);
    } finally {
      await lock.release();
    }
    await waitFor(
      "PostgreSQL to be started again",
      async () => (restarted() > before && (await managed().isRunning()) && (await appSql("select 1")) ? true : undefined),
      60_000,
    );
  });

  it("performs an in-place PITR queued from another process, reporting progress through the run record", async () => {
    expect(agent?.child.exitCode, "the agent of the previous test runs").toBeNull();
    const restarts = agent!.output().match(/had stopped unexpectedly/g)?.length ?? 0;
    await appSql("insert into marker (v) values ('precious'); create table keepsake as select 42 as k");
    await sleep(1000);
    const moment = new Date().toISOString();
    await sleep(1000);
    await appSql("delete from marker where v = 'precious'; insert into marker (v) values ('after-the-moment'); drop table keepsake");

    // Another process, which knows nothing of the host: the operation itself routes to the host queue.
    const queued = await cli("enqueue.ts", ["pitr", "--input", JSON.stringify({ time: moment, mode: "in-place", confirm: "app" })], elsewhere);
    expect(queued.code, queued.stderr).toBe(0);
    expect(queued.stdout).toMatch(/for its database host/);
    const runId = Number(/as run (\d+)/.exec(queued.stdout)![1]);

    const phases = new Set<string>();
    const done = await waitFor(
      `run ${runId} to finish`,
      async () => {
        const [run] = await meta.db.select().from(runs).where(eq(runs.id, runId));
        if (run?.phase) phases.add(run.phase);
        return run && !["queued", "running"].includes(run.status) ? run : undefined;
      },
      300_000,
    );
    expect(done.status, `${done.error}\n${agent!.output()}`).toBe("succeeded");
    expect(done.jobId).toMatch(new RegExp(`^${hostQueue("app")}/`));
    expect(done.result).toMatchObject({ timeline: expect.any(Number) });
    // Progress reached the run record while the agent worked (throttled: some of the phases).
    expect([...phases].filter((p) => /WAL|base backup|cluster|promoting|live configuration/.test(p)).length, [...phases].join(", ")).toBeGreaterThan(0);
    expect(agent!.output()).toMatch(new RegExp(`pitr of app: started \\(run ${runId}\\)`));
    // The run is final before the agent's worker says so.
    await waitFor("the agent to report it", async () => (/pitr of app: succeeded/.test(agent!.output()) ? true : undefined), 10_000);

    // The deleted row is back, the later one gone, the dropped table there again.
    expect(await markers()).toEqual(["before-base", "precious"]);
    expect(await appSql("select k from keepsake")).toEqual([{ k: 42 }]);
    // The supervisor left the cluster alone while the PITR had it stopped.
    expect(agent!.output().match(/had stopped unexpectedly/g)?.length ?? 0).toBe(restarts);
    await appSql("insert into marker (v) values ('after-recovery')");
  });

  it("on SIGTERM stops the worker, then PostgreSQL with a fast shutdown, and exits 0", async () => {
    expect(agent?.child.exitCode, "the agent of the previous tests runs").toBeNull();
    const logBefore = (await readFile(cluster.logFile, "utf8")).length;
    agent!.child.kill("SIGTERM");
    const exit = await Promise.race([agent!.exited, sleep(120_000).then(() => undefined)]);
    expect(exit, agent!.output()).toEqual({ code: 0, signal: null });
    expect(await managed().isRunning()).toBe(false);
    const log = (await readFile(cluster.logFile, "utf8")).slice(logBefore);
    expect(log).toMatch(/received fast shutdown request/);
    expect(log).toMatch(/database system is shut down/);
    expect(agent!.output()).toMatch(/PostgreSQL stopped cleanly/);
  });

  it("at boot, a PostgreSQL that cannot start fails the agent within its deadline, quoting the server's log", async () => {
    // Another server holds the cluster's port.
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(cluster.port, "127.0.0.1", resolve));
    try {
      const started = Date.now();
      const child = spawn(tsx, [path.join(repo, "cli", "agent.ts"), "--target", "app", "--supervise", "--start-timeout", "20"], { cwd: repo, env: onHost });
      let stderr = "";
      child.stderr.setEncoding("utf8").on("data", (c: string) => (stderr += c));
      const code = await Promise.race([new Promise<number | null>((r) => child.once("exit", (c) => r(c))), sleep(90_000).then(() => "timeout" as const)]);
      if (code === "timeout") child.kill("SIGKILL");
      expect(code, stderr).toBe(1);
      expect(stderr).toMatch(/did not start/);
      expect(stderr).toMatch(/The server's log says: .*could not bind IPv4 address "127\.0\.0\.1": Address already in use/);
      expect(Date.now() - started).toBeLessThan(60_000);
    } finally {
      await new Promise((r) => blocker.close(r));
    }
    expect(await managed().isRunning()).toBe(false);
  });

  it("routes host operations to the host queue, and a host job nobody picks up fails within its deadline, saying what to start", async () => {
    const boss = await openQueue(meta.url, { application: "agent test" });
    bosses.push(boss);
    const actor = { label: "test", userId: null, via: "cli" as const };
    const inPlace = { target: "app", time: new Date().toISOString(), mode: "in-place", confirm: "app" };

    // Routing: the operation decides; --host still forces it.
    const newInstance = await enqueueOperation(meta.db, boss, { kind: "pitr", input: { target: "app", latest: true, mode: "new-instance" }, targetId, actor });
    expect(newInstance).toMatchObject({ queue: OPERATIONS_QUEUE, host: false });
    const forced = await enqueueOperation(meta.db, boss, { kind: "backup", input: { target: "app", kinds: ["schema"] }, targetId, actor, host: true });
    expect(forced).toMatchObject({ queue: hostQueue("app"), host: true });
    for (const q of [newInstance, forced]) expect(await requestCancel(meta.db, boss, q.runId)).toBe("canceled");

    // Nobody works the host queue (the agent stopped): at the deadline the run fails, and the job is cancelled.
    const waiting = await enqueueOperation(meta.db, boss, { kind: "pitr", input: inPlace, targetId, actor });
    expect(waiting).toMatchObject({ queue: hostQueue("app"), host: true });
    expect(await expireUnclaimedHostJobs(meta.db, boss, { now: new Date(Date.now() + 9 * 60_000) })).toEqual([]);
    expect(await expireUnclaimedHostJobs(meta.db, boss, { now: new Date(Date.now() + 11 * 60_000) })).toEqual([{ runId: waiting.runId, target: "app" }]);
    const [expired] = await meta.db.select().from(runs).where(eq(runs.id, waiting.runId));
    expect(expired).toMatchObject({ status: "failed", phase: HOST_JOB_EXPIRED_PHASE, startedAt: null });
    expect(expired!.error).toMatch(NO_AGENT);
    expect((await boss.getJobById(hostQueue("app"), waiting.jobId))?.state).toBe("cancelled");

    // An agent that comes up after the deadline does not run the stale job either: it fails it the same way.
    const late = await enqueueOperation(meta.db, boss, { kind: "pitr", input: inPlace, targetId, actor });
    const own = await openQueue(meta.url, { application: "late agent" });
    bosses.push(own);
    const worker = await startWorker({
      services: { env: parseEnv(onHost), meta, log: new BackupLog(path.join(work, "logs")) },
      boss: own,
      label: "late-agent",
      via: "agent",
      queues: [hostQueue("app")],
      concurrency: 1,
      schedulerIntervalMs: 0,
      sampleIntervalMs: 0,
      hostCheckIntervalMs: 0,
      now: () => new Date(Date.now() + 11 * 60_000),
    });
    try {
      const run = await waitFor(
        "the late job to be refused",
        async () => {
          const [row] = await meta.db.select().from(runs).where(eq(runs.id, late.runId));
          return row && row.status !== "queued" ? row : undefined;
        },
        30_000,
      );
      expect(run).toMatchObject({ status: "failed", phase: HOST_JOB_EXPIRED_PHASE });
      expect(run.error).toMatch(NO_AGENT);
    } finally {
      await worker.stop();
    }
    // Nothing ran: no run of the late agent's made it past the queue, and the cluster was never started.
    const [newest] = await meta.db.select().from(runs).orderBy(desc(runs.id)).limit(1);
    expect(newest!.id).toBe(late.runId);
    expect(await managed().isRunning()).toBe(false);
  });

  it("a worker serves the host queues of targets whose data directory it can read", async () => {
    const services = (env: NodeJS.ProcessEnv) => ({ env: parseEnv(env), meta, log: new BackupLog(path.join(work, "logs")) });
    expect(await hostQueuesServedHere(services(onHost))).toEqual({ queues: [hostQueue("app")], targets: ["app"] });
    expect(await hostQueuesServedHere(services(elsewhere))).toEqual({ queues: [], targets: [] });
  });
});
