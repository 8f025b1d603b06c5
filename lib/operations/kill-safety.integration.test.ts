import { execFile, spawn, type ChildProcess } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { chmod, copyFile, mkdir, mkdtemp, open, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { desc, eq } from "drizzle-orm";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runs } from "@/lib/db/schema";
import { LocalCluster } from "@/lib/engine/cluster/local-cluster";
import { isRoot } from "@/lib/engine/cluster/os-user";
import { LocalRepository } from "@/lib/engine/repository/repository";
import { createTestMetadataDb, type TestMetadataDb } from "@/test/helpers/metadata-db";
import { cliEnv, createTestTarget, type TestTarget } from "@/test/helpers/target";

/**
 * Issue 8's kill and disk points, against real PostgreSQL and the real CLI (`node --import tsx
 * cli/….ts`, as `npm run backup` / `npm run restore` start it): a backup, a restore and a PITR
 * killed with SIGKILL (nothing they started keeps running, the restore committed nothing, the next
 * operation marks the run interrupted and undoes the half-done PITR) or stopped with SIGTERM (the
 * CLI exits 143 by itself, the run is interrupted at once, nothing partial is left); a repository
 * disk that is full when the lock is taken; two in-place PITRs at once.
 */

const exec = promisify(execFile);
const repo = path.resolve(import.meta.dirname, "..", "..");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const BUSY = /Another backup, restore or recovery of app is running/;

// ---------------------------------------------------------------------------------------------
// The CLI as a child process

type CliExit = { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string };
type Cli = { child: ChildProcess; exited: Promise<CliExit>; exit: CliExit | undefined };

/** Every CLI this file starts, so that afterAll can stop what a failed test left running. */
const started: Cli[] = [];

function startCli(env: NodeJS.ProcessEnv, script: string, args: string[]): Cli {
  // One Node process with tsx loaded in it, as package.json's scripts start the CLI.
  const child = spawn(process.execPath, ["--import", "tsx", path.join(repo, "cli", script), ...args], { cwd: repo, env, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout!.setEncoding("utf8").on("data", (c: string) => (stdout += c));
  child.stderr!.setEncoding("utf8").on("data", (c: string) => (stderr += c));
  const cli: Cli = {
    child,
    exit: undefined,
    exited: new Promise<CliExit>((resolve) => {
      child.once("exit", (code, signal) => {
        // Output may still be in the pipes: wait for them to close (briefly, in case an orphan holds them).
        const done = () => {
          cli.exit = { code, signal, stdout, stderr };
          resolve(cli.exit);
        };
        const timer = setTimeout(done, 1_000);
        child.once("close", () => {
          clearTimeout(timer);
          done();
        });
      });
    }),
  };
  started.push(cli);
  return cli;
}

async function runCli(env: NodeJS.ProcessEnv, script: string, args: string[], timeoutMs = 120_000): Promise<CliExit & { ms: number }> {
  const begun = Date.now();
  const cli = startCli(env, script, args);
  const timer = setTimeout(() => killTree(cli.child.pid), timeoutMs);
  try {
    const exit = await cli.exited;
    return { ...exit, ms: Date.now() - begun };
  } finally {
    clearTimeout(timer);
  }
}

/** Resolve with `promise`, or fail after `ms`. */
async function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not happen within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Poll until `probe` returns something truthy; fails early (with its output) if `cli` exits first. */
async function waitFor<T>(what: string, probe: () => T | undefined | false | Promise<T | undefined | false>, options: { cli?: Cli; timeoutMs?: number } = {}) {
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (options.cli?.exit) {
      const { code, stdout, stderr } = options.cli.exit;
      throw new Error(`the CLI exited (${code}) before ${what}:\n${stdout}\n${stderr}`);
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(15);
  }
}

// ---------------------------------------------------------------------------------------------
// Processes, from /proc

type Proc = { pid: number; ppid: number; state: string; startTime: string; comm: string; cmdline: string };

function readProc(pid: number): Proc | undefined {
  try {
    const statLine = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = statLine.slice(statLine.lastIndexOf(")") + 2).split(" ");
    const comm = statLine.slice(statLine.indexOf("(") + 1, statLine.lastIndexOf(")"));
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ").trim();
    return { pid, ppid: Number(fields[1]), state: fields[0]!, startTime: fields[19]!, comm, cmdline };
  } catch {
    return undefined;
  }
}

function allProcs(): Proc[] {
  return readdirSync("/proc")
    .filter((n) => /^\d+$/.test(n))
    .flatMap((n) => readProc(Number(n)) ?? []);
}

/** A zombie has exited; only its parent has not collected it yet. */
const isZombie = (p: Proc) => p.state === "Z" || p.state === "X";

function descendantsOf(root: number): Proc[] {
  const procs = allProcs();
  const found: Proc[] = [];
  let frontier = [root];
  while (frontier.length) {
    const next = procs.filter((p) => frontier.includes(p.ppid));
    found.push(...next);
    frontier = next.map((p) => p.pid);
  }
  return found;
}

/** The processes a Lifeboat process started (a PostgreSQL server started through pg_ctl is not one of its tools). */
const toolsOf = (holderPid: number) => descendantsOf(holderPid).filter((p) => p.comm !== "postgres" && !isZombie(p));

/** Those of `procs` still running: same pid and start time, not a zombie. */
function stillRunning(procs: Proc[]): Proc[] {
  return procs.filter((p) => {
    const now = readProc(p.pid);
    return now !== undefined && now.startTime === p.startTime && !isZombie(now);
  });
}

const TOOLS = new Set([
  "pg_dump",
  "pg_dumpall",
  "pg_restore",
  "pg_basebackup",
  "pg_verifybackup",
  "pg_ctl",
  "pg_waldump",
  "psql",
  "cp",
  "tar",
  "zstd",
  "age",
  "setpriv",
  "runuser",
]);

/** Any PostgreSQL (or copy) tool whose command line names `text` (a test's own folder). */
const toolsMentioning = (text: string) => allProcs().filter((p) => TOOLS.has(p.comm) && !isZombie(p) && p.cmdline.includes(text));

const describeProcs = (procs: Proc[]) => procs.map((p) => `${p.comm}[${p.pid}] ${p.cmdline.slice(0, 160)}`);

/** Within a couple of seconds of Lifeboat's death, none of `procs` and no tool naming `marker` runs. */
async function expectNoSurvivors(procs: Proc[], marker: string, withinMs = 2_500, options: { soft?: boolean } = {}): Promise<void> {
  const deadline = Date.now() + withinMs;
  const survivors = () => [...stillRunning(procs), ...toolsMentioning(marker).filter((p) => !procs.some((q) => q.pid === p.pid))];
  while (survivors().length && Date.now() < deadline) await sleep(50);
  (options.soft ? expect.soft : expect)(describeProcs(survivors()), `still running ${withinMs} ms after Lifeboat stopped`).toEqual([]);
}

/** SIGKILL a CLI's whole tree (only processes this file started). */
function killTree(pid: number | undefined): void {
  if (!pid) return;
  for (const p of [...descendantsOf(pid).reverse(), readProc(pid)]) {
    if (!p || p.comm === "postgres") continue;
    try {
      process.kill(p.pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The repository's lock file, run records, the log

type LockFile = {
  format: string;
  pid: number;
  startTime?: string;
  runId: number | null;
  children: { pid: number; startTime?: string; command: string }[];
  journal: { id: string; action: string }[];
};

async function readLock(dir: string): Promise<LockFile | undefined> {
  try {
    return JSON.parse(await readFile(path.join(dir, ".lock"), "utf8")) as LockFile;
  } catch {
    return undefined;
  }
}

/** Files of a folder whose names begin with a dot (the lock, temp files) or are temp names anywhere below base/. */
async function hiddenNames(dir: string): Promise<string[]> {
  const top = (await readdir(dir).catch(() => [] as string[])).filter((n) => n.startsWith("."));
  const base = (await readdir(path.join(dir, "base")).catch(() => [] as string[])).filter((n) => n.startsWith(".")).map((n) => `base/${n}`);
  return [...top, ...base];
}

/** Password-file folders a process left in the temp folder (they hold the target's password). */
const passfilesOf = (pid: number) => readdirSync(os.tmpdir()).filter((n) => n.startsWith(`lifeboat-pass-${pid}-`));

const logLinesOf = async (logDir: string, runId: number) =>
  (await readFile(path.join(logDir, "backup.log"), "utf8").catch(() => "")).split("\n").filter((l) => new RegExp(` run=${runId}( |$)`).test(l));

/** A killed operation: the lock's record of it, and what it had started, taken just before the kill. */
type Victim = { runId: number; pid: number; lock: LockFile; tools: Proc[] };

async function victimOf(cli: Cli, dir: string): Promise<Victim> {
  const lock = await readLock(dir);
  if (!lock) throw new Error("no lock file");
  // The lock names the process doing the work: the one Node process we started.
  expect(lock.pid).toBe(cli.child.pid);
  expect(lock.runId).toEqual(expect.any(Number));
  return { runId: lock.runId!, pid: lock.pid, lock, tools: toolsOf(lock.pid) };
}

/** SIGKILL the process running the operation (as the OOM killer would), and wait for the CLI to end. */
async function sigkill(cli: Cli, dir: string): Promise<Victim> {
  const victim = await victimOf(cli, dir);
  process.kill(victim.pid, "SIGKILL");
  await within(10_000, "the CLI ending after SIGKILL", cli.exited);
  return victim;
}

// ---------------------------------------------------------------------------------------------

describe("kill safety: backups and restores killed or stopped half-way (issue 8)", () => {
  let target: TestTarget;
  let meta: TestMetadataDb;
  let work: string;
  let dir: string;
  let logDir: string;
  let env: NodeJS.ProcessEnv;
  let dump: string;
  /** The target's content before each restore: a restore that committed anything would change it. */
  let before: Record<string, string>;

  const runOf = async (id: number) => (await meta.db.select().from(runs).where(eq(runs.id, id)))[0]!;

  /** The run a dead process left: still `running` until the next operation looks. */
  const expectStillRunning = async (victim: Victim) => {
    const record = await runOf(victim.runId);
    expect(record).toMatchObject({ status: "running", pid: victim.pid });
    expect(record.finishedAt).toBeNull();
  };

  /** The next operation on the target found the dead run: interrupted, finished, one ERROR line; its password file is gone. */
  const expectFoundInterrupted = async (victim: Victim) => {
    const record = await runOf(victim.runId);
    expect(record).toMatchObject({ status: "interrupted" });
    expect(record.finishedAt).toBeInstanceOf(Date);
    expect(record.error).toMatch(/stopped before it finished/);
    const lines = await logLinesOf(logDir, victim.runId);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(` ERROR interrupted target=app status=INTERRUPTED run=${victim.runId}( |$)`));
    expect(passfilesOf(victim.pid)).toEqual([]);
  };

  // Lifeboat names pg_restore's session "lifeboat restore <pid>-<n>" (its lock-wait watchdog finds it by that name).
  const pgRestoreCopying = async () =>
    (await target.cluster.query("select pid from pg_stat_activity where application_name like 'lifeboat restore %' and query ilike 'copy %'")).length > 0;

  const pgRestoreSessions = async () =>
    (await target.cluster.query("select pid from pg_stat_activity where application_name like 'lifeboat restore %'")).length;

  /** pg_dump at -Z9 writing the full dump into its temp file. */
  const dumping = async () => {
    const lock = await readLock(dir);
    if (!lock?.children.some((c) => c.command === "pg_dump")) return undefined;
    const temp = (await readdir(dir)).find((n) => n.startsWith(".tmp-") && n.includes("full_backup_"));
    if (!temp) return undefined;
    const size = await stat(path.join(dir, temp)).then(
      (s) => s.size,
      () => 0,
    );
    return size > 64 * 1024 ? temp : undefined;
  };

  beforeAll(async () => {
    target = await createTestTarget();
    // A big table of poorly compressible text: pg_dump -Z9 and pg_restore take seconds on it.
    await target.query("create table big (id bigint primary key, payload text not null)");
    await target.query("insert into big select g, md5(g::text) || md5((g * 31)::text) from generate_series(1, 1000000) g");
    await target.query("create table small (id int primary key, v text not null)");
    await target.query("insert into small select g, 'row ' || g from generate_series(1, 100) g");
    await target.query("analyze");
    meta = await createTestMetadataDb();
    work = await mkdtemp(path.join(os.tmpdir(), "lifeboat-kill-"));
    dir = path.join(work, "backups", "app");
    logDir = path.join(work, "logs");
    env = cliEnv(target, {
      DATABASE_URL: meta.url,
      BACKUP_DIR: path.join(work, "backups"),
      LOG_DIR: logDir,
      LIFEBOAT_DUMP_COMPRESSOR: "pg_dump",
      LIFEBOAT_DUMP_COMPRESSION: "9",
    });

    // The dump the restores use (uncompressed: quick to write).
    const made = await runCli({ ...env, LIFEBOAT_DUMP_COMPRESSION: "0" }, "backup.ts", ["--kinds", "full"]);
    expect(made.code, made.stderr).toBe(0);
    dump = /OK\s+full\s+(\S+)/.exec(made.stdout)![1]!;
    // Changed since the dump: a restore that committed anything would show.
    await target.query("update small set v = 'changed after the backup' where id <= 10");
    await target.query("insert into small values (1000, 'added after the backup')");
    before = await target.fingerprint();
  });

  afterAll(async () => {
    for (const cli of started) if (!cli.exit) killTree(cli.child.pid);
    await target?.remove();
    await meta?.drop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it("SIGKILL during a backup: pg_dump dies with it; the next backup removes the partial file and marks the run interrupted [S14] [S26]", async () => {
    const cli = startCli(env, "backup.ts", ["--kinds", "full"]);
    const temp = await waitFor("pg_dump to be writing the dump", dumping, { cli });
    const victim = await sigkill(cli, dir);
    expect(victim.tools.map((p) => p.comm)).toContain("pg_dump");
    expect(victim.lock.children.map((c) => c.command)).toContain("pg_dump");
    await expectNoSurvivors(victim.tools, work);
    await expectStillRunning(victim);
    // SIGKILL leaves the partial file and the lock of a dead holder behind: the next operation deals with them.
    expect(await hiddenNames(dir)).toEqual(expect.arrayContaining([".lock", temp]));

    const next = await runCli(env, "backup.ts", ["--kinds", "schema"]);
    expect(next.code, next.stderr).toBe(0);
    expect(next.stderr).toMatch(/removed 1 partial file\(s\)/);
    await expectFoundInterrupted(victim);
    expect(await hiddenNames(dir)).toEqual([]);
  });

  it("SIGKILL during a restore: pg_restore dies with it and its single transaction commits nothing [S26]", async () => {
    const cli = startCli(env, "restore.ts", ["backup", dump, "--yes"]);
    await waitFor(
      "pg_restore to be copying rows",
      async () => (await pgRestoreCopying()) && (await readLock(dir))?.children.some((c) => c.command === "pg_restore"),
      {
        cli,
      },
    );
    const victim = await sigkill(cli, dir);
    expect(victim.tools.map((p) => p.comm)).toContain("pg_restore");
    await expectNoSurvivors(victim.tools, work);
    // The server notices the client is gone and rolls the whole restore back.
    await waitFor("the server to end pg_restore's session", async () => (await pgRestoreSessions()) === 0, { timeoutMs: 10_000 });
    expect(await target.fingerprint()).toEqual(before);
    await expectStillRunning(victim);

    const next = await runCli(env, "backup.ts", ["--kinds", "schema"]);
    expect(next.code, next.stderr).toBe(0);
    await expectFoundInterrupted(victim);
    expect(await hiddenNames(dir)).toEqual([]);
    expect(await target.fingerprint()).toEqual(before);
  });

  it("SIGTERM during a backup: the CLI stops by itself with 143, the run is interrupted at once, nothing partial is left [S14] [S26]", async () => {
    const cli = startCli(env, "backup.ts", ["--kinds", "full"]);
    await waitFor("pg_dump to be writing the dump", dumping, { cli });
    const victim = await victimOf(cli, dir);
    const sent = Date.now();
    // SIGTERM to the CLI, as a service manager or `docker stop` sends it.
    cli.child.kill("SIGTERM");
    const exit = await within(15_000, "the CLI exiting after SIGTERM", cli.exited);
    const took = Date.now() - sent;
    expect(exit.code, exit.stderr).toBe(143);
    expect(took, "seconds from SIGTERM to exit").toBeLessThan(5_000);
    expect(exit.stderr).toMatch(/SIGTERM received/);
    await expectNoSurvivors(victim.tools, work, 500);

    const record = await runOf(victim.runId);
    expect(record).toMatchObject({ status: "interrupted" });
    expect(record.finishedAt).toBeInstanceOf(Date);
    const lines = await logLinesOf(logDir, victim.runId);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(` ERROR backup target=app status=INTERRUPTED run=${victim.runId} `));
    expect(await hiddenNames(dir)).toEqual([]);
    expect((await readdir(dir)).filter((n) => n.startsWith(".tmp-"))).toEqual([]);
    expect(passfilesOf(victim.pid)).toEqual([]);
  });

  it("SIGTERM during a restore: the CLI stops by itself with 143, the run is interrupted, the database is as before [S26]", async () => {
    const cli = startCli(env, "restore.ts", ["backup", dump, "--yes"]);
    await waitFor(
      "pg_restore to be copying rows",
      async () => (await pgRestoreCopying()) && (await readLock(dir))?.children.some((c) => c.command === "pg_restore"),
      {
        cli,
      },
    );
    const victim = await victimOf(cli, dir);
    const sent = Date.now();
    cli.child.kill("SIGTERM");
    const exit = await within(15_000, "the CLI exiting after SIGTERM", cli.exited);
    expect(exit.code, exit.stderr).toBe(143);
    expect(Date.now() - sent, "ms from SIGTERM to exit").toBeLessThan(5_000);
    await expectNoSurvivors(victim.tools, work, 500);

    const record = await runOf(victim.runId);
    expect(record).toMatchObject({ status: "interrupted", kind: "restore" });
    expect(record.finishedAt).toBeInstanceOf(Date);
    const lines = await logLinesOf(logDir, victim.runId);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(` ERROR restore target=app status=INTERRUPTED run=${victim.runId} `));
    expect(await hiddenNames(dir)).toEqual([]);
    expect(passfilesOf(victim.pid)).toEqual([]);
    await waitFor("the server to end pg_restore's session", async () => (await pgRestoreSessions()) === 0, { timeoutMs: 10_000 });
    expect(await target.fingerprint()).toEqual(before);
  });

  it.skipIf(!isRoot())(
    "a full repository disk: the backup is refused with a clear message and leaves no lock; once space is freed the next one succeeds [S14] [S27]",
    async () => {
      const root = path.join(work, "small-disk");
      const small = path.join(root, "app");
      await mkdir(small, { recursive: true });
      await exec("mount", ["-t", "tmpfs", "-o", "size=2m,mode=0700", "tmpfs", small]);
      try {
        const filler = path.join(small, "filler");
        await fillDisk(filler);
        const diskEnv = { ...env, BACKUP_DIR: root };
        const refused = await runCli(diskEnv, "backup.ts", ["--kinds", "schema"]);
        expect(refused.code).toBe(1);
        expect(refused.stderr).toMatch(/disk .*full/i);
        const [record] = await meta.db.select().from(runs).orderBy(desc(runs.id)).limit(1);
        expect(record).toMatchObject({ kind: "backup", status: "failed" });
        expect(record!.finishedAt).toBeInstanceOf(Date);
        expect(record!.error).toMatch(/disk .*full/i);
        const lines = await logLinesOf(logDir, record!.id);
        expect(lines).toHaveLength(1);
        expect(lines[0]).toMatch(/ ERROR backup target=app status=FAILED /);
        expect(lines[0]).toMatch(/disk .*full/i);
        // Not even an empty lock: nobody has to delete anything by hand.
        expect(await readdir(small)).toEqual(["filler"]);

        await rm(filler);
        const next = await runCli(diskEnv, "backup.ts", ["--kinds", "schema"]);
        expect(next.code, next.stderr).toBe(0);
        const names = await readdir(small);
        expect(names.filter((n) => n.startsWith("schema_") && n.endsWith(".manifest.json"))).toHaveLength(1);
        expect(names.filter((n) => n.startsWith("."))).toEqual([]);
      } finally {
        await exec("umount", [small]).catch(() => exec("umount", ["-l", small]));
      }
    },
  );

  it("a dead holder's child that has exited but was not reaped yet (a zombie: PID 1 is no init in a container) does not block the next operation [S26]", async () => {
    // A parent that never reaps: sh starts `sleep 0` in the background and then becomes `sleep 60`.
    const parent = spawn("sh", ["-c", "sleep 0 & exec sleep 60"], { stdio: "ignore" });
    try {
      const zombie = await waitFor("a zombie", () => allProcs().find((p) => p.ppid === parent.pid && isZombie(p)), { timeoutMs: 5_000 });
      const gone = spawn("true");
      await new Promise((r) => gone.once("exit", r));
      // The lock a Lifeboat process killed mid-dump would leave, its pg_dump dead but not yet collected.
      const lock = {
        format: "lifeboat-lock",
        host: os.hostname(),
        pid: gone.pid,
        startTime: "1",
        operation: "backup",
        since: new Date().toISOString(),
        runId: null,
        children: [{ pid: zombie.pid, startTime: zombie.startTime, command: "pg_dump" }],
        journal: [],
      };
      // The same backup with no lock left behind, timed on this machine now (its load varies).
      const baseline = await runCli(env, "backup.ts", ["--kinds", "schema"]);
      expect(baseline.code, baseline.stderr).toBe(0);
      await writeFile(path.join(dir, ".lock"), `${JSON.stringify(lock)}\n`, { mode: 0o600 });
      const next = await runCli(env, "backup.ts", ["--kinds", "schema"]);
      expect(next.stderr).not.toMatch(BUSY);
      expect(next.code, next.stderr).toBe(0);
      // Waiting for the zombie as for a live child would add the 10 s kill deadline.
      expect(next.ms - baseline.ms, "a zombie is not waited for").toBeLessThan(6_000);
    } finally {
      parent.kill("SIGKILL");
      await rm(path.join(dir, ".lock"), { force: true });
    }
  });
});

/** Write until the file system has not a byte left. */
async function fillDisk(file: string): Promise<void> {
  const handle = await open(file, "w");
  try {
    for (const size of [1024 * 1024, 64 * 1024, 4096, 512, 1]) {
      const chunk = Buffer.alloc(size, 0x61);
      for (;;) {
        try {
          const { bytesWritten } = await handle.write(chunk);
          if (bytesWritten < size) break;
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code === "ENOSPC") break;
          throw error;
        }
      }
    }
  } finally {
    await handle.close();
  }
}

// ---------------------------------------------------------------------------------------------

describe("kill safety: base backups and point-in-time recoveries killed half-way, and two at once (issue 8)", () => {
  let target: TestTarget;
  let meta: TestMetadataDb;
  let work: string;
  let dir: string;
  let logDir: string;
  let env: NodeJS.ProcessEnv;
  let repository: LocalRepository;
  const instances: string[] = [];

  const runOf = async (id: number) => (await meta.db.select().from(runs).where(eq(runs.id, id)))[0]!;
  const markers = async () => (await target.query<{ v: string }>("select v from marker order by id")).map((r) => r.v);
  const cluster = () => target.cluster;
  const asideDirs = () => readdirSync(cluster().baseDir).filter((n) => n.startsWith("pgdata.pre-pitr-"));

  const archiveNow = async () => {
    const [row] = await cluster().query<{ f: string }>("select pg_walfile_name(pg_switch_wal()) as f");
    for (let i = 0; i < 300; i++) {
      const [a] = await cluster().query<{ w: string | null }>("select last_archived_wal as w from pg_stat_archiver");
      if (a?.w && a.w.slice(8) >= row!.f.slice(8)) return;
      await sleep(100);
    }
    throw new Error(`segment ${row!.f} was not archived`);
  };

  const expectFoundInterrupted = async (victim: Victim) => {
    const record = await runOf(victim.runId);
    expect(record).toMatchObject({ status: "interrupted" });
    expect(record.finishedAt).toBeInstanceOf(Date);
    const lines = await logLinesOf(logDir, victim.runId);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(` ERROR interrupted target=app status=INTERRUPTED run=${victim.runId}( |$)`));
  };

  const historyFiles = () => readdirSync(repository.archiveDir).filter((n) => /^[0-9A-F]{8}\.history$/.test(n));

  const postgresRunningFrom = (folder: string) => allProcs().filter((p) => p.comm === "postgres" && !isZombie(p) && p.cmdline.includes(folder));

  beforeAll(async () => {
    work = await mkdtemp(path.join(os.tmpdir(), "lifeboat-kill-pitr-"));
    // The cluster's OS user runs archive_command and the recovered instances below this folder.
    await chmod(work, 0o755);
    const archiveWal = path.join(work, "archive-wal");
    await copyFile(path.join(repo, "bin", "archive-wal"), archiveWal);
    await chmod(archiveWal, 0o755);
    repository = new LocalRepository(path.join(work, "backups"), "app");
    await repository.prepareArchive();
    dir = repository.dir;
    logDir = path.join(work, "logs");

    // A managed cluster in Lifeboat's layout (<folder>/pgdata) that archives into the repository.
    target = await createTestTarget();
    await cluster().query("alter system set archive_mode = on");
    await cluster().query(`alter system set archive_command = ${pg.escapeLiteral(`'${archiveWal}' %p '${repository.archiveDir}' %f`)}`);
    await cluster().stop();
    await cluster().start();
    await cluster().query("alter role app replication");
    await cluster().query("grant pg_monitor to app");

    meta = await createTestMetadataDb();
    env = cliEnv(target, { DATABASE_URL: meta.url, BACKUP_DIR: path.join(work, "backups"), LOG_DIR: logDir, DB_DATA_DIR: cluster().dataDir });

    await target.query("create table marker (id serial primary key, v text not null)");
    await target.query("insert into marker (v) values ('a')");
    await archiveNow();
    const base = await runCli(env, "backup.ts", ["--kinds", "base"]);
    expect(base.code, base.stderr).toBe(0);
    await target.query("insert into marker (v) values ('b')");
    await cluster().query("select pg_create_restore_point('after-b')");
    await target.query("insert into marker (v) values ('c')");
    // WAL for recovery to chew on (seconds of replay), and a data directory pg_basebackup takes a moment to copy.
    await target.query("create table filler as select g, md5(g::text) || md5((g * 7)::text) as t from generate_series(1, 1000000) g");
    await cluster().query("select pg_create_restore_point('after-filler')");
    await target.query("insert into marker (v) values ('d')");
    await archiveNow();
  });

  afterAll(async () => {
    for (const cli of started) if (!cli.exit) killTree(cli.child.pid);
    for (const folder of instances) await (await LocalCluster.existing({ baseDir: folder }).catch(() => undefined))?.stop("immediate").catch(() => {});
    await target?.remove();
    await meta?.drop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it("SIGKILL during a base backup: pg_basebackup and its WAL streamer die with it; the next backup cleans up [S14] [S26]", async () => {
    const cli = startCli(env, "backup.ts", ["--kinds", "base"]);
    // pg_basebackup --wal-method=stream forks a WAL streamer (a grandchild of Lifeboat): wait until it runs.
    await waitFor(
      "pg_basebackup and its WAL streamer",
      async () => {
        const lock = await readLock(dir);
        const tool = lock?.children.find((c) => c.command === "pg_basebackup");
        // The recorded child leads the tool's process group (a guard in front of pg_basebackup).
        return tool && descendantsOf(tool.pid).filter((p) => p.comm === "pg_basebackup" && !isZombie(p)).length >= 2;
      },
      { cli },
    );
    const victim = await sigkill(cli, dir);
    expect(victim.tools.filter((p) => p.comm === "pg_basebackup").length).toBeGreaterThanOrEqual(2);
    // The guard leading the group takes the WAL streamer down too, without waiting for the next operation.
    await expectNoSurvivors(victim.tools, work, 2_500);
    expect(await readdir(repository.baseDir)).toEqual(expect.arrayContaining([expect.stringMatching(/^\.tmp-/)]));

    const next = await runCli(env, "backup.ts", ["--kinds", "schema"]);
    expect(next.code, next.stderr).toBe(0);
    await expectFoundInterrupted(victim);
    // Taking over the dead holder's lock kills whatever is left of its children's process groups.
    await expectNoSurvivors(victim.tools, work, 500);
    expect(await hiddenNames(dir)).toEqual([]);
  });

  it("SIGKILL during an in-place PITR's recovery: the next operation stops the half-recovered server and puts the original data directory back, leaving no trace [S26]", async () => {
    const rowsBefore = await markers();
    expect(rowsBefore).toEqual(["a", "b", "c", "d"]);
    const cli = startCli(env, "restore.ts", ["pitr", "--name", "after-filler", "--yes"]);
    // Recovery runs: the data directory was moved aside, and a server runs from the restored one.
    await waitFor(
      "recovery to run in the restored data directory",
      () => asideDirs().length > 0 && existsSync(path.join(cluster().dataDir, "postmaster.pid")),
      {
        cli,
      },
    );
    const victim = await sigkill(cli, dir);
    expect(victim.lock.journal.map((e) => e.action)).toContain("pitr-in-place");
    await expectNoSurvivors(victim.tools, work);
    await expectNoSurvivors([], cluster().baseDir);
    expect(asideDirs()).toHaveLength(1);
    // Until the undo, the half-recovered server must not become a primary on the target's port:
    // the application would write into a data directory the undo then throws away.
    let promoted = false;
    for (const deadline = Date.now() + 3_000; !promoted && Date.now() < deadline; await sleep(100)) {
      promoted = (await target.query<{ r: boolean }>("select pg_is_in_recovery() as r").catch(() => [{ r: true }]))[0]?.r === false;
    }
    expect.soft(promoted, "the half-recovered server promoted itself to a writable primary on the target's port while Lifeboat was dead").toBe(false);

    const next = await runCli(env, "backup.ts", ["--kinds", "schema"]);
    expect(next.code, next.stderr).toBe(0);
    expect(next.stderr).toMatch(/previous data directory was put back and started/);
    await expectFoundInterrupted(victim);
    expect(asideDirs()).toEqual([]);
    expect(await cluster().isRunning()).toBe(true);
    expect(await markers()).toEqual(rowsBefore);
    const [{ tli }] = (await cluster().query<{ tli: string }>("select substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8) as tli")) as [{ tli: string }];
    expect(parseInt(tli, 16)).toBe(1);
    expect(await hiddenNames(dir)).toEqual([]);
    // The abandoned recovery ran on as a daemon after Lifeboat died; if it promoted before the undo
    // stopped it, its new timeline's history file went into the archive. Soft: the next test shows the effect.
    expect.soft(historyFiles(), "history files of the abandoned recovery's timeline left in the archive").toEqual([]);
  });

  it("SIGTERM during an in-place PITR: the CLI puts the data directory back itself and exits 143; the run is interrupted at once [S26]", async () => {
    const rowsBefore = await markers();
    const cli = startCli(env, "restore.ts", ["pitr", "--name", "after-b", "--yes"]);
    await waitFor("the data directory to be moved aside", () => asideDirs().length > 0, { cli });
    const victim = await victimOf(cli, dir);
    const sent = Date.now();
    cli.child.kill("SIGTERM");
    const exit = await within(30_000, "the CLI exiting after SIGTERM", cli.exited);
    expect(exit.code, exit.stderr).toBe(143);
    // Putting the data directory back includes starting the cluster again.
    expect(Date.now() - sent, "ms from SIGTERM to exit").toBeLessThan(10_000);
    await expectNoSurvivors(victim.tools, work, 500);

    const record = await runOf(victim.runId);
    expect(record).toMatchObject({ status: "interrupted", kind: "pitr" });
    expect(record.finishedAt).toBeInstanceOf(Date);
    const lines = await logLinesOf(logDir, victim.runId);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(` ERROR pitr target=app status=INTERRUPTED run=${victim.runId} `));
    expect(await hiddenNames(dir)).toEqual([]);
    expect(asideDirs()).toEqual([]);
    expect(await cluster().isRunning()).toBe(true);
    expect(await markers()).toEqual(rowsBefore);
  });

  it("SIGKILL during a PITR to a new instance: the next operation stops the server running from the half-made instance and removes its folder [S26]", async () => {
    const folder = path.join(work, "recovered");
    instances.push(folder);
    const cli = startCli(env, "restore.ts", ["pitr", "latest", "--to-new-instance", "--data-dir", folder, "--yes"]);
    await waitFor("recovery to run in the new instance", () => existsSync(path.join(folder, "pgdata", "postmaster.pid")), { cli });
    const victim = await sigkill(cli, dir);
    expect(victim.lock.journal.map((e) => e.action)).toContain("remove-pitr-instance");
    await expectNoSurvivors(victim.tools, work);
    // What pdeathsig cannot cover: the server pg_ctl started is a daemon. The journal is there for it.
    expect(postgresRunningFrom(folder).length).toBeGreaterThan(0);

    const next = await runCli(env, "backup.ts", ["--kinds", "schema"]);
    expect(next.code, next.stderr).toBe(0);
    expect(next.stderr).toMatch(/removed the half-recovered instance/);
    await expectFoundInterrupted(victim);
    expect(existsSync(folder)).toBe(false);
    await waitFor("no postgres to run from the removed instance", () => postgresRunningFrom(folder).length === 0, { timeoutMs: 5_000 });
    expect(await hiddenNames(dir)).toEqual([]);
  });

  it("after an interrupted in-place PITR was undone, a moment written since is still recoverable (the abandoned attempt's timeline is not followed) [S4] [S26]", async () => {
    const rowsBefore = await markers();
    await target.query("insert into marker (v) values ('after-undo')");
    const [{ at }] = (await target.query<{ at: Date }>("select clock_timestamp() as at")) as [{ at: Date }];
    await sleep(50);
    await target.query("insert into marker (v) values ('later')");
    await archiveNow();
    const folder = path.join(work, "after-undo");
    instances.push(folder);
    // A UTC time without an offset (LIFEBOAT_TIMEZONE is UTC): exactly what was committed by then.
    const when = at.toISOString().replace("T", " ").replace("Z", "");
    const result = await runCli(env, "restore.ts", ["pitr", when, "--to-new-instance", "--data-dir", folder, "--yes"]);
    expect(result.code, `${result.stdout}\n${result.stderr}`).toBe(0);
    const instance = (await LocalCluster.existing({ baseDir: folder }))!;
    try {
      const rows = await instance.query<{ v: string }>("select v from marker order by id", [], "app");
      expect(rows.map((r) => r.v)).toEqual([...rowsBefore, "after-undo"]);
    } finally {
      await instance.remove();
    }
  });

  it("two in-place PITRs started at once: one recovers, the other is refused as busy; the cluster ends healthy with the expected rows [S13]", async () => {
    const [first, second] = await Promise.all([
      runCli(env, "restore.ts", ["pitr", "--name", "after-b", "--yes"]),
      runCli(env, "restore.ts", ["pitr", "--name", "after-b", "--yes"]),
    ]);
    const outcomes = [first, second];
    const winners = outcomes.filter((o) => o.code === 0);
    const losers = outcomes.filter((o) => o.code !== 0);
    expect(winners, outcomes.map((o) => o.stderr).join("\n---\n")).toHaveLength(1);
    expect(losers).toHaveLength(1);
    expect(losers[0]!.code).toBe(1);
    expect(losers[0]!.stderr).toMatch(BUSY);
    expect(winners[0]!.stdout).toMatch(/Recovered in place/);

    const pitrRuns = (await meta.db.select().from(runs).orderBy(desc(runs.id)).limit(2)).filter((r) => r.kind === "pitr");
    expect(pitrRuns.map((r) => r.status).sort()).toEqual(["failed", "succeeded"]);
    expect(pitrRuns.find((r) => r.status === "failed")!.error).toMatch(BUSY);

    expect(await cluster().isRunning()).toBe(true);
    expect(await markers()).toEqual(["a", "b"]);
    await target.query("insert into marker (v) values ('writable')");
    expect(asideDirs()).toEqual([]);
    expect(await hiddenNames(dir)).toEqual([]);
  });
});
