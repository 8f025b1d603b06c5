import { execFile, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { chmod, copyFile, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { and, desc, eq, gt } from "drizzle-orm";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { listBackups } from "@/lib/catalog/list-backups";
import { auditLog, backupArtifacts, runs, targets } from "@/lib/db/schema";
import { parseEnv } from "@/lib/env";
import { LocalCluster } from "@/lib/engine/cluster/local-cluster";
import { generateKeyPair } from "@/lib/engine/crypto/age";
import { findPgBinary } from "@/lib/engine/pg/find-pg-binary";
import { withClient } from "@/lib/engine/pg/server-info";
import { sha256File } from "@/lib/engine/repository/files";
import type { Manifest } from "@/lib/engine/repository/manifest";
import { LocalRepository } from "@/lib/engine/repository/repository";
import { TargetLock } from "@/lib/engine/repository/target-lock";
import { parseLsn, segmentFileName, segmentOf } from "@/lib/engine/wal/wal-names";
import { finishRun, insertRun, markRunning, updateRunProgress, type FinalStatus } from "@/lib/jobs/run-records";
import { BackupLog } from "@/lib/log/backup-log";
import { runOperation, type Actor, type OperationOutcome } from "@/lib/operations";
import { backupOperation } from "@/lib/operations/backup";
import { acquireOperationLock } from "@/lib/operations/locks";
import { pitrOperation } from "@/lib/operations/pitr";
import { restoreEnvOperation } from "@/lib/operations/restore-env";
import { restoreFullOperation } from "@/lib/operations/restore-full";
import { restoreJsonOperation } from "@/lib/operations/restore-json";
import type { OperationDefinition } from "@/lib/operations/types";
import { ZBackupRequest } from "@/lib/validations/operations";
import { createTestMetadataDb, type TestMetadataDb } from "@/test/helpers/metadata-db";

const exec = promisify(execFile);
const repo = path.resolve(import.meta.dirname, "..", "..");
const tsx = path.join(repo, "node_modules", ".bin", "tsx");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const actor: Actor = { label: "test", userId: null, role: null, via: "cli" };
const BUSY = /Another backup, restore or recovery of app is running/;
const APP_PASSWORD = "ops-App:pw'1";

type CliResult = { code: number; stdout: string; stderr: string };
type AnyOutcome = OperationOutcome<unknown>;

/**
 * Issue 7's "Done when", against real PostgreSQL: one password-protected target cluster that
 * archives its WAL into the repository (so base backups and PITR work), one throwaway metadata
 * database, and runOperation (or the CLI) around every operation kind.
 */
describe("the operations layer on every path (issue 7)", () => {
  let work: string;
  let cluster: LocalCluster;
  let meta: TestMetadataDb;
  let repository: LocalRepository;
  let log: BackupLog;
  let vars: Record<string, string>;
  let targetId: number;
  /** Artifacts of the set taken in beforeAll, by kind. */
  const files: Record<string, string> = {};

  const appConnection = () => ({ host: "127.0.0.1", port: cluster.port, database: "app", user: "app", password: APP_PASSWORD });
  const appSql = async <R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, params: unknown[] = []) =>
    withClient(appConnection(), async (c) => (await c.query<R>(text, params)).rows);
  const adminSql = async <R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, params: unknown[] = [], database = "postgres") =>
    withClient(cluster.adminConnection(database), async (c) => (await c.query<R>(text, params)).rows);

  /** Switch to a new WAL segment and wait until the archiver has it. */
  const archiveNow = async () => {
    const [row] = await adminSql<{ f: string }>("select pg_walfile_name(pg_switch_wal()) as f");
    for (let i = 0; i < 150; i++) {
      const [a] = await adminSql<{ w: string | null }>("select last_archived_wal as w from pg_stat_archiver");
      if (a?.w && a.w.slice(8) >= row!.f.slice(8)) return;
      await sleep(200);
    }
    throw new Error(`segment ${row!.f} was not archived`);
  };

  const run = (
    definition: OperationDefinition<{ target?: string | undefined }, unknown>,
    input: unknown,
    options: { env?: Record<string, string>; withoutMeta?: boolean } = {},
  ): Promise<AnyOutcome> =>
    runOperation(definition, input, {
      actor,
      services: { env: parseEnv({ ...vars, ...options.env }), meta: options.withoutMeta ? undefined : meta, log },
    });
  // The definitions are generic over their input; the helper takes any of them.
  const op = <I extends { target?: string | undefined }, R>(definition: OperationDefinition<I, R>) =>
    definition as unknown as OperationDefinition<{ target?: string | undefined }, unknown>;

  const logLines = async () => (await readFile(log.file, "utf8").catch(() => "")).split("\n").filter(Boolean);
  const maxId = async (table: typeof runs | typeof auditLog) => {
    const [row] = await meta.db.select({ id: table.id }).from(table).orderBy(desc(table.id)).limit(1);
    return row?.id ?? 0;
  };
  const listing = async () => ({
    repository: (await repository.list()).artifacts.map((a) => `${a.manifest.kind} ${a.manifest.artifact}`).sort(),
    listed: (await listBackups(repository, { db: meta.db, targetId })).rows.map((r) => `${r.kind} ${r.file} ${r.status}`).sort(),
    catalog: (await meta.db.select({ file: backupArtifacts.fileName, status: backupArtifacts.status }).from(backupArtifacts))
      .map((r) => `${r.file} ${r.status}`)
      .sort(),
  });

  /**
   * The contract of a failed operation: one finished run record (failed, finishedAt, error), one
   * line in backup.log with ERROR and FAILED, one audit row, nothing new listed or catalogued.
   */
  const expectOneFailedRun = async (kind: string, error: RegExp, go: () => Promise<AnyOutcome>) => {
    const before = { lines: await logLines(), runId: await maxId(runs), auditId: await maxId(auditLog), listing: await listing() };
    const outcome = await go();
    expect(outcome.status, JSON.stringify(outcome.error ?? outcome.verdict?.error)).toBe("failed");
    expect(outcome.error?.message ?? outcome.verdict?.error).toMatch(error);

    const newRuns = await meta.db.select().from(runs).where(gt(runs.id, before.runId));
    expect(newRuns).toHaveLength(1);
    const record = newRuns[0]!;
    expect(record).toMatchObject({ id: outcome.runId, kind, status: "failed" });
    expect(record.finishedAt).toBeInstanceOf(Date);
    expect(record.error).toMatch(error);
    expect(record.error).not.toContain(APP_PASSWORD);

    const lines = (await logLines()).slice(before.lines.length);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(` ERROR ${kind} `);
    expect(lines[0]).toContain("status=FAILED");
    expect(lines[0]).toMatch(new RegExp(` run=${record.id} `));
    expect(lines[0]).not.toContain(APP_PASSWORD);

    const audit = await meta.db.select().from(auditLog).where(gt(auditLog.id, before.auditId));
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({ outcome: "failed", subject: "app" });
    expect(audit[0]!.details).toMatchObject({ kind, status: "failed", runId: record.id });

    expect(await listing()).toEqual(before.listing);
    return { outcome, record };
  };

  /** Names in the repository folder that are neither artifacts nor manifests: temp files, a lock. */
  const hiddenFiles = async () => (await readdir(repository.dir)).filter((n) => n.startsWith("."));

  const cliEnv = (extra: Record<string, string> = {}): NodeJS.ProcessEnv => ({
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
    BACKUP_DIR: vars.BACKUP_DIR,
    LOG_DIR: vars.LOG_DIR,
    LIFEBOAT_LOCK_TIMEOUT: "60",
    ...extra,
  });
  const cli = async (script: string, args: string[], env: NodeJS.ProcessEnv = cliEnv()): Promise<CliResult> => {
    try {
      const { stdout, stderr } = await exec(tsx, [path.join(repo, "cli", script), ...args], { cwd: repo, env, timeout: 120_000 });
      return { code: 0, stdout, stderr };
    } catch (error) {
      const e = error as { code: number; stdout: string; stderr: string };
      return { code: e.code, stdout: e.stdout, stderr: e.stderr };
    }
  };

  /** A session holding ACCESS EXCLUSIVE on a table: a backup's locked snapshot waits behind it. */
  const holdTable = async (table: string) => {
    const client = new pg.Client({ ...appConnection() });
    await client.connect();
    await client.query("begin");
    await client.query(`lock table ${pg.escapeIdentifier(table)} in access exclusive mode`);
    return async () => {
      await client.query("rollback").catch(() => undefined);
      await client.end().catch(() => undefined);
    };
  };

  const waitFor = async <T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = await probe();
      if (value !== undefined) return value;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await sleep(100);
    }
  };

  /** A pid that was alive on this host a moment ago and is not any more. */
  const deadPid = async () => {
    const child = spawn("true");
    const pid = child.pid!;
    await new Promise((resolve) => child.once("exit", resolve));
    return pid;
  };

  const plantRun = async (kind: string, host = os.hostname()) => {
    const [row] = await meta.db
      .insert(runs)
      .values({ targetId, kind, status: "running", host, pid: await deadPid(), startedAt: new Date(), phase: "dumping", triggeredBy: "cli" })
      .returning({ id: runs.id });
    return row!.id;
  };

  /** The log lines and audit rows that report one run as interrupted. */
  const reportsOf = async (runId: number) => ({
    lines: (await logLines()).filter((l) => / ERROR interrupted /.test(l) && new RegExp(` run=${runId}( |$)`).test(l)),
    audit: (await meta.db.select().from(auditLog).where(eq(auditLog.action, "runs.interrupted"))).filter(
      (a) => (a.details as { runId?: number }).runId === runId,
    ),
  });

  /** A dead run: finished as interrupted, with one log line and one audit row of its own. */
  const expectInterrupted = async (runId: number) => {
    const [record] = await meta.db.select().from(runs).where(eq(runs.id, runId));
    expect(record).toMatchObject({ status: "interrupted", phase: "interrupted" });
    expect(record!.finishedAt).toBeInstanceOf(Date);
    expect(record!.error).toMatch(/interrupted/);
    const { lines, audit } = await reportsOf(runId);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/ ERROR interrupted target=app status=INTERRUPTED /);
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({ outcome: "failed", subject: "app" });
  };

  beforeAll(async () => {
    work = await mkdtemp(path.join(os.tmpdir(), "lifeboat-ops-"));
    // PostgreSQL's OS user runs archive_command and the recovered instances under this folder.
    await chmod(work, 0o755);
    const archiveWal = path.join(work, "archive-wal");
    await copyFile(path.join(repo, "bin", "archive-wal"), archiveWal);
    await chmod(archiveWal, 0o755);
    repository = new LocalRepository(path.join(work, "backups"), "app");
    await repository.prepareArchive();

    cluster = await LocalCluster.open({
      baseDir: path.join(work, "cluster"),
      password: "ops-superuser-pw",
      walLevel: "replica",
      archiveMode: "on",
      archiveCommand: `'${archiveWal}' %p '${repository.archiveDir}' %f`,
    });
    await cluster.start();
    // The app's own role, as a real target's: not a superuser, password-protected; it may take base backups.
    await cluster.query(`create role app login createdb replication password ${pg.escapeLiteral(APP_PASSWORD)}`);
    await cluster.query("create database app owner app");
    await cluster.query("grant execute on function pg_create_restore_point(text) to app");
    await appSql(await readFile(path.join(repo, "demo", "seed.sql"), "utf8"));
    await archiveNow();

    meta = await createTestMetadataDb();
    const keys = await generateKeyPair();
    const wrongKeys = await generateKeyPair();
    await writeFile(path.join(work, "age-identity.txt"), `${keys.identity}\n`, { mode: 0o600 });
    await writeFile(path.join(work, "wrong-identity.txt"), `${wrongKeys.identity}\n`, { mode: 0o600 });
    await writeFile(path.join(work, "app.env"), "APP_SECRET=shh\n");
    vars = {
      NODE_ENV: "test",
      DATABASE_URL: meta.url,
      DB_HOST: "127.0.0.1",
      DB_PORT: String(cluster.port),
      DB_NAME: "app",
      DB_USER: "app",
      DB_PASSWORD: APP_PASSWORD,
      DB_TARGET_NAME: "app",
      DB_PRISMA_SCHEMA: path.join(repo, "prisma", "schema.prisma"),
      BACKUP_DIR: path.join(work, "backups"),
      LOG_DIR: path.join(work, "logs"),
      LIFEBOAT_AGE_RECIPIENTS: keys.recipient,
      LIFEBOAT_AGE_IDENTITY_FILE: path.join(work, "age-identity.txt"),
      LIFEBOAT_ENV_FILES: path.join(work, "app.env"),
      LIFEBOAT_LOCK_TIMEOUT: "60",
    };
    log = new BackupLog(vars.LOG_DIR!);

    // The default set: full, schema, JSON, environment (a recipient is set) and base (this
    // repository holds the target's archive).
    const outcome = (await run(op(backupOperation), {})) as OperationOutcome<Awaited<ReturnType<typeof backupOperation.run>>>;
    expect(outcome.status, outcome.verdict?.error ?? outcome.error?.message).toBe("succeeded");
    expect(outcome.result?.kinds).toEqual(["full", "schema", "json", "env", "base"]);
    for (const artifact of outcome.result!.artifacts) if (artifact.ok) files[artifact.kind] = artifact.file;
    expect(Object.keys(files).sort()).toEqual(["base", "env", "full", "json", "schema"]);
    const [row] = await meta.db.select().from(targets).where(eq(targets.name, "app"));
    targetId = row!.id;
  });

  afterAll(async () => {
    await cluster?.remove();
    await meta?.drop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it("progress never overwrites a final state (run-records and runOperation's progress writer)", async () => {
    for (const status of ["succeeded", "failed", "canceled", "interrupted"] as FinalStatus[]) {
      const id = await insertRun(meta.db, { targetId, kind: "backup" });
      await markRunning(meta.db, id);
      await updateRunProgress(meta.db, id, { phase: "dumping", bytesDone: 10 });
      expect((await meta.db.select().from(runs).where(eq(runs.id, id)))[0]).toMatchObject({ status: "running", phase: "dumping", bytesDone: 10 });
      await finishRun(meta.db, id, { status, error: status === "succeeded" ? null : "it stopped" });
      await updateRunProgress(meta.db, id, { phase: "late progress", bytesDone: 999 });
      const [after] = await meta.db.select().from(runs).where(eq(runs.id, id));
      expect(after, status).toMatchObject({ status, phase: status, bytesDone: 10 });
      expect(after!.finishedAt).toBeInstanceOf(Date);
    }

    // The same through runOperation: progress reported after the operation returned lands nowhere.
    const late: Promise<void>[] = [];
    const probe: OperationDefinition<{ target?: string | undefined }, number> = {
      kind: "progress-probe",
      action: "test.progress",
      permission: "backups.run",
      input: ZBackupRequest.pick({ target: true }),
      lock: false,
      params: () => ({}),
      run: async (context) => {
        context.progress("working", 5);
        late.push(sleep(1_100).then(() => context.progress("after the end", 77)));
        return 5;
      },
      verdict: (bytes) => ({ ok: true, bytes }),
    };
    const outcome = await runOperation(probe, {}, { actor, services: { env: parseEnv(vars), meta, log } });
    expect(outcome.status).toBe("succeeded");
    await Promise.all(late);
    await sleep(300);
    const [record] = await meta.db.select().from(runs).where(eq(runs.id, outcome.runId!));
    expect(record).toMatchObject({ status: "succeeded", phase: "succeeded", bytesDone: 5 });
  });

  describe("a run refused because the target is busy ends as a failed run, once", () => {
    it("backup, restore, restore-json and pitr are refused while another holder has the lock [S13]", async () => {
      const pitrDir = path.join(work, "pitr-busy");
      const cases = [
        { kind: "backup", definition: op(backupOperation), input: { kinds: ["schema"] } },
        { kind: "restore", definition: op(restoreFullOperation), input: { file: files.full, into: "app_busy" } },
        { kind: "restore-json", definition: op(restoreJsonOperation), input: { file: files.json, tables: ["allergens"], confirm: "app" } },
        { kind: "pitr", definition: op(pitrOperation), input: { latest: true, mode: "new-instance", dataDir: pitrDir } },
      ];
      // Held as another Lifeboat process would hold it: the advisory lock on the metadata database and the lock file.
      const held = await acquireOperationLock({ meta, repositoryDir: repository.dir, target: "app", operation: "test-holder" });
      try {
        for (const c of cases) {
          await expectOneFailedRun(c.kind, BUSY, () => run(c.definition, c.input));
          // The refused run did not take or remove the holder's lock.
          expect(JSON.parse(await readFile(held.file.file, "utf8"))).toMatchObject({ pid: process.pid, operation: "test-holder" });
        }
      } finally {
        await held.release();
      }
      expect((await adminSql("select 1 from pg_database where datname = 'app_busy'")).length).toBe(0);
      expect(existsSync(pitrDir)).toBe(false);
      expect(await hiddenFiles()).toEqual([]);
    });

    it("the lock file alone refuses too, also with the metadata database down (then only the log line can be written) [S27]", async () => {
      const held = await TargetLock.acquire(repository.dir, "app", "test-holder");
      try {
        await expectOneFailedRun("restore-json", BUSY, () => run(op(restoreJsonOperation), { file: files.json, tables: ["allergens"], confirm: "app" }));
        const before = await logLines();
        const outcome = await run(op(backupOperation), { kinds: ["schema"] }, { withoutMeta: true });
        expect(outcome.status).toBe("failed");
        expect(outcome.error?.message).toMatch(BUSY);
        const lines = (await logLines()).slice(before.length);
        expect(lines).toHaveLength(1);
        expect(lines[0]).toMatch(/ ERROR backup target=app status=FAILED /);
      } finally {
        await held.release();
      }
      expect(await hiddenFiles()).toEqual([]);
    });

    it("restore-env takes no lock (it only decrypts into a new folder), so busy does not apply: it runs while the target is held", async () => {
      expect(restoreEnvOperation.lock).toBe(false);
      const held = await acquireOperationLock({ meta, repositoryDir: repository.dir, target: "app", operation: "test-holder" });
      try {
        const out = path.join(work, "env-while-held");
        const outcome = await run(op(restoreEnvOperation), { file: files.env, out });
        expect(outcome.status, outcome.error?.message).toBe("succeeded");
        expect(await readFile(path.join(out, "config", "app.env"), "utf8")).toBe("APP_SECRET=shh\n");
      } finally {
        await held.release();
      }
    });
  });

  describe("a run that fails half way ends as a failed run, once, with nothing new listed", () => {
    it("backup: pg_dump fails after the snapshot was taken [S14]", async () => {
      const realPgDump = (await findPgBinary("pg_dump")).path;
      const fakeBin = path.join(work, "fake-bin");
      await rm(fakeBin, { recursive: true, force: true });
      await exec("mkdir", ["-p", fakeBin]);
      const script = `#!/bin/sh\nif [ "$1" = "--version" ]; then exec '${realPgDump}' --version; fi\necho "pg_dump: error: simulated failure half way" >&2\nexit 1\n`;
      await writeFile(path.join(fakeBin, "pg_dump"), script, { mode: 0o755 });
      const { record } = await expectOneFailedRun("backup", /full: .*schema: /, () =>
        run(op(backupOperation), { kinds: ["full", "schema"] }, { env: { PG_BIN_DIR: fakeBin } }),
      );
      expect(record.stderr).toMatch(/simulated failure half way/);
      expect(await hiddenFiles()).toEqual([]);
    });

    it("restore: pg_restore fails on a damaged dump (checksums rewritten to match), the database it created is dropped [S11]", async () => {
      const dump = path.join(repository.dir, files.full!);
      const manifestFile = `${dump}.manifest.json`;
      const [pristineDump, pristineManifest] = [await readFile(dump), await readFile(manifestFile, "utf8")];
      try {
        await writeFile(dump, pristineDump.subarray(0, Math.floor(pristineDump.length / 2)));
        const manifest = JSON.parse(pristineManifest) as Manifest;
        manifest.files = [{ name: files.full!, size: (await stat(dump)).size, sha256: await sha256File(dump) }];
        manifest.sizeBytes = manifest.files[0]!.size;
        await writeFile(manifestFile, JSON.stringify(manifest));
        await expectOneFailedRun("restore", /pg_restore/, () => run(op(restoreFullOperation), { file: files.full, into: "app_halfway" }));
      } finally {
        await writeFile(dump, pristineDump);
        await writeFile(manifestFile, pristineManifest);
      }
      expect((await adminSql("select 1 from pg_database where datname = 'app_halfway'")).length).toBe(0);
      expect(await hiddenFiles()).toEqual([]);
    });

    it("restore-json: a constraint the export violates rolls the whole restore back [S18]", async () => {
      const before = await appSql<{ n: string }>("select count(*) as n from allergens");
      await appSql("alter table allergens add constraint no_restores check (id < 0) not valid");
      try {
        await expectOneFailedRun("restore-json", /no_restores/, () =>
          run(op(restoreJsonOperation), { file: files.json, tables: ["allergens"], confirm: "app" }),
        );
      } finally {
        await appSql("alter table allergens drop constraint no_restores");
      }
      expect(await appSql("select count(*) as n from allergens")).toEqual(before);
      expect(await hiddenFiles()).toEqual([]);
    });

    it("restore-env: the identity file holds the wrong key, so decryption fails after the checks [S20]", async () => {
      const out = path.join(work, "env-wrong-key");
      await expectOneFailedRun("restore-env", /no identity matched/, () =>
        run(op(restoreEnvOperation), { file: files.env, out }, { env: { LIFEBOAT_AGE_IDENTITY_FILE: path.join(work, "wrong-identity.txt") } }),
      );
      // Nothing was decrypted.
      expect(await readdir(out).catch(() => [])).toEqual([]);
    });

    it("pitr: PostgreSQL cannot read the archived segment holding the target and recovery ends before it [S2]", async () => {
      await appSql("create table pitr_marker (id serial primary key, v text not null)");
      await appSql("insert into pitr_marker (v) values ('before')");
      await archiveNow();
      await appSql("insert into pitr_marker (v) values ('target')");
      const [{ lsn }] = (await appSql<{ lsn: string }>("select pg_current_wal_lsn()::text as lsn")) as [{ lsn: string }];
      await appSql("insert into pitr_marker (v) values ('after')");
      await archiveNow();
      const [{ tli }] = (await adminSql<{ tli: string }>("select timeline_id::text as tli from pg_control_checkpoint()")) as [{ tli: string }];
      const segment = path.join(repository.archiveDir, segmentFileName(Number(tli), segmentOf(parseLsn(lsn))));
      const mode = (await stat(segment)).mode & 0o777;
      const instance = path.join(work, "pitr-halfway");
      // Lifeboat (root) reads the segment to plan; the server's OS user cannot restore it.
      await chmod(segment, 0o000);
      try {
        await expectOneFailedRun("pitr", /recovery ended before configured recovery target was reached/, () =>
          run(op(pitrOperation), { lsn, mode: "new-instance", dataDir: instance }),
        );
      } finally {
        await chmod(segment, mode);
      }
      expect(existsSync(instance)).toBe(false);
      expect(await hiddenFiles()).toEqual([]);
    });
  });

  describe("a second operation on the same target waits or is refused, never interleaves", () => {
    /** Start two, holding a table so whichever takes the lock waits in its snapshot; the first to end must be the refused one. */
    const race = async <T>(start: () => Promise<T>[]): Promise<{ first: T; all: T[] }> => {
      const release = await holdTable("users");
      const pending = start();
      let first: T | "timeout";
      try {
        first = await Promise.race([...pending, sleep(60_000).then(() => "timeout" as const)]);
      } finally {
        await release();
      }
      const all = await Promise.all(pending);
      if (first === "timeout") throw new Error("neither operation ended while the other held the target");
      return { first, all };
    };

    it("two CLI processes: one backs up, the other is refused with TargetBusyError; the backup verifies against its manifest [S13]", async () => {
      const before = { runId: await maxId(runs), artifacts: (await repository.list()).artifacts.map((a) => a.manifest.artifact), lines: await logLines() };
      const { first, all } = await race(() => [cli("backup.ts", ["--kinds", "full"]), cli("backup.ts", ["--kinds", "full"])]);
      // The refused one ended while the other was still inside its backup.
      expect(first.code, first.stderr).toBe(1);
      expect(first.stderr).toMatch(BUSY);
      const succeeded = all.filter((r) => r.code === 0);
      expect(succeeded, all.map((r) => r.stderr).join("\n")).toHaveLength(1);
      expect(succeeded[0]!.stdout).toMatch(/1 written, 0 failed/);

      const newRuns = await meta.db.select().from(runs).where(gt(runs.id, before.runId)).orderBy(runs.id);
      expect(newRuns.map((r) => r.status).sort()).toEqual(["failed", "succeeded"]);
      const refused = newRuns.find((r) => r.status === "failed")!;
      const done = newRuns.find((r) => r.status === "succeeded")!;
      expect(refused.error).toMatch(BUSY);
      // The refused run finished before the other did: it never ran alongside.
      expect(refused.finishedAt!.getTime()).toBeLessThan(done.finishedAt!.getTime());

      const created = (await repository.list()).artifacts.filter((x) => !before.artifacts.includes(x.manifest.artifact));
      expect(created.map((x) => x.manifest.kind)).toEqual(["full"]);
      expect(await repository.verify(created[0]!.manifest)).toMatchObject({ ok: true });
      const lines = (await logLines()).slice(before.lines.length);
      expect(lines).toHaveLength(2);
      expect(lines.filter((l) => / ERROR backup .*status=FAILED/.test(l))).toHaveLength(1);
      expect(lines.filter((l) => / INFO backup .*status=SUCCEEDED/.test(l))).toHaveLength(1);
      expect(await hiddenFiles()).toEqual([]);
    });

    it("two hosts: repository folders of their own (different BACKUP_DIR), one metadata database; the advisory lock alone refuses the second [S13]", async () => {
      // Host B: a CLI backup from a folder of its own, held inside its snapshot by a table lock.
      const hostB = path.join(work, "backups-host-b");
      const before = await maxId(runs);
      const release = await holdTable("users");
      let child: Promise<CliResult> | undefined;
      let holder: { id: number; pid: number };
      const instance = path.join(work, "pitr-host-a");
      try {
        child = cli("backup.ts", ["--kinds", "full"], cliEnv({ BACKUP_DIR: hostB }));
        holder = await waitFor("host B's backup to run", async () => {
          const [row] = await meta.db
            .select({ id: runs.id, pid: runs.pid })
            .from(runs)
            .where(and(gt(runs.id, before), eq(runs.kind, "backup"), eq(runs.status, "running")));
          return row?.pid ? { id: row.id, pid: row.pid } : undefined;
        });
        await waitFor("host B's lock file", async () => (existsSync(path.join(hostB, "app", ".lock")) ? true : undefined));

        // Host A: this folder holds no lock file, so only the advisory lock on the metadata database can refuse it.
        expect(await hiddenFiles()).toEqual([]);
        const holderText = /another Lifeboat process, on this or another host/;
        const { record } = await expectOneFailedRun("backup", BUSY, () => run(op(backupOperation), { kinds: ["schema"] }));
        expect(record.error).toMatch(holderText);
        const pitr = await expectOneFailedRun("pitr", BUSY, () => run(op(pitrOperation), { latest: true, mode: "new-instance", dataDir: instance }));
        expect(pitr.record.error).toMatch(holderText);
        // The refusal took nothing in host A's folder, and left host B's lock and run alone.
        expect(await hiddenFiles()).toEqual([]);
        expect(existsSync(instance)).toBe(false);
        expect(JSON.parse(await readFile(path.join(hostB, "app", ".lock"), "utf8"))).toMatchObject({ pid: holder.pid, runId: holder.id });
        expect((await meta.db.select().from(runs).where(eq(runs.id, holder.id)))[0]).toMatchObject({ status: "running" });
      } finally {
        await release();
      }
      const result = await child;
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout).toMatch(/1 written, 0 failed/);
      const [done] = await meta.db.select().from(runs).where(eq(runs.id, holder.id));
      expect(done).toMatchObject({ status: "succeeded" });
      const refused = await meta.db
        .select()
        .from(runs)
        .where(and(gt(runs.id, before), eq(runs.status, "failed")));
      expect(refused).toHaveLength(2);
      // Both refusals ended while host B was inside its backup: nothing ran alongside it.
      for (const r of refused) expect(r.finishedAt!.getTime()).toBeLessThan(done!.finishedAt!.getTime());
      const written = (await new LocalRepository(hostB, "app").list()).artifacts;
      expect(written.map((a) => a.manifest.kind)).toEqual(["full"]);
      expect(await new LocalRepository(hostB, "app").verify(written[0]!.manifest)).toMatchObject({ ok: true });
      // The catalog does not say which folder holds an artifact: host A would list host B's backup as
      // missing. The tests after this one list host A's folder alone.
      await meta.db.delete(backupArtifacts).where(eq(backupArtifacts.fileName, written[0]!.manifest.artifact));
    });

    it("two runOperation calls in one process: the same [S13]", async () => {
      const before = (await repository.list()).artifacts.map((a) => a.manifest.artifact);
      const { first, all } = await race(() => [run(op(backupOperation), { kinds: ["schema"] }), run(op(backupOperation), { kinds: ["schema"] })]);
      expect(first.status).toBe("failed");
      expect(first.error?.message).toMatch(BUSY);
      expect(all.map((o) => o.status).sort()).toEqual(["failed", "succeeded"]);
      const created = (await repository.list()).artifacts.filter((x) => !before.includes(x.manifest.artifact));
      expect(created.map((x) => x.manifest.kind)).toEqual(["schema"]);
      expect(await repository.verify(created[0]!.manifest)).toMatchObject({ ok: true });
    });
  });

  describe("a run whose process died is marked interrupted by the next operation on the target, whatever its kind", () => {
    it("a dead pid on this host: each kind of operation finds it and writes its log line and audit row [S26]", async () => {
      const out = path.join(work, "env-after-dead");
      const instance = path.join(work, "pitr-after-dead");
      const next = [
        { planted: "pitr", kind: "backup", definition: op(backupOperation), input: { kinds: ["schema"] } },
        { planted: "backup", kind: "restore", definition: op(restoreFullOperation), input: { file: files.full, into: "app_after_dead" } },
        { planted: "restore", kind: "restore-json", definition: op(restoreJsonOperation), input: { file: files.json, tables: ["allergens"], confirm: "app" } },
        { planted: "restore-json", kind: "restore-env", definition: op(restoreEnvOperation), input: { file: files.env, out } },
        { planted: "backup", kind: "pitr", definition: op(pitrOperation), input: { latest: true, mode: "new-instance", dataDir: instance } },
      ];
      try {
        for (const c of next) {
          const dead = await plantRun(c.planted);
          const outcome = await run(c.definition, c.input);
          expect(outcome.status, `${c.kind}: ${outcome.error?.message ?? outcome.verdict?.error}`).toBe("succeeded");
          await expectInterrupted(dead);
          // The operation's own line is there too, after the interrupted one.
          const lines = await logLines();
          expect(lines.at(-1)).toMatch(new RegExp(` INFO ${c.kind} target=app status=SUCCEEDED run=${outcome.runId} `));
        }
      } finally {
        await (await LocalCluster.existing({ baseDir: instance }))?.remove();
        await adminSql("drop database if exists app_after_dead");
      }
    });

    it("a running run of another host is interrupted once this host holds the target's lock (locked kinds)", async () => {
      const elsewhere = await plantRun("backup", "another-host");
      const outcome = await run(op(restoreJsonOperation), { file: files.json, tables: ["allergens"], confirm: "app" });
      expect(outcome.status, outcome.error?.message).toBe("succeeded");
      await expectInterrupted(elsewhere);
    });

    it("a dead run of another target found by this host's sweep is reported under its own target", async () => {
      const [other] = await meta.db
        .insert(targets)
        .values({ name: "other", host: "127.0.0.1", port: 1, database: "other", username: "other" })
        .returning({ id: targets.id });
      const [row] = await meta.db
        .insert(runs)
        .values({
          targetId: other!.id,
          kind: "backup",
          status: "running",
          host: os.hostname(),
          pid: await deadPid(),
          startedAt: new Date(),
          triggeredBy: "cli",
        })
        .returning({ id: runs.id });
      const outcome = await run(op(restoreEnvOperation), { file: files.env, out: path.join(work, "env-other-target") });
      expect(outcome.status).toBe("succeeded");
      expect((await meta.db.select().from(runs).where(eq(runs.id, row!.id)))[0]).toMatchObject({ status: "interrupted" });
      const { lines, audit } = await reportsOf(row!.id);
      expect(lines).toHaveLength(1);
      expect(audit).toHaveLength(1);
      // The line and the audit row name the target the dead run belonged to, not the one of the operation that found it.
      expect(lines[0]).toContain(" target=other ");
      expect(audit[0]!.subject).toBe("other");
    });

    it("a dead run found by two operations at the same moment is reported once", async () => {
      const dead = await plantRun("backup");
      // Both operations see the dead run, then both try to mark it: the row lock held here lets
      // neither update go before both have looked, so they really do meet.
      const holder = new pg.Client({ connectionString: meta.url });
      await holder.connect();
      let outcomes: AnyOutcome[];
      try {
        await holder.query("begin");
        await holder.query("select 1 from runs where id = $1 for update", [dead]);
        const pending = [
          run(op(restoreEnvOperation), { file: files.env, out: path.join(work, "env-race-1") }),
          run(op(restoreEnvOperation), { file: files.env, out: path.join(work, "env-race-2") }),
        ];
        await waitFor("both sweeps to wait for the run's row", async () => {
          const [row] = (
            await holder.query<{ n: string }>(
              // (With the extended protocol the query column may still show the previous statement.)
              "select count(*) as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock' and pid <> pg_backend_pid()",
            )
          ).rows;
          return Number(row?.n) >= 2 ? true : undefined;
        });
        await holder.query("commit");
        outcomes = await Promise.all(pending);
      } finally {
        await holder.end();
      }
      expect(outcomes.map((o) => o.status)).toEqual(["succeeded", "succeeded"]);
      expect((await meta.db.select().from(runs).where(eq(runs.id, dead)))[0]).toMatchObject({ status: "interrupted" });
      const { lines, audit } = await reportsOf(dead);
      expect(lines).toHaveLength(1);
      expect(audit).toHaveLength(1);
    });

    it("a CLI backup killed with SIGKILL stays 'running' until the next operation marks it interrupted and takes over its lock [S14] [S26]", async () => {
      const before = await maxId(runs);
      const release = await holdTable("users");
      let child: Promise<CliResult> | undefined;
      let victim: { id: number; pid: number };
      try {
        child = cli("backup.ts", ["--kinds", "full"]);
        victim = await waitFor("the CLI backup to run", async () => {
          const [row] = await meta.db
            .select({ id: runs.id, pid: runs.pid })
            .from(runs)
            .where(and(gt(runs.id, before), eq(runs.kind, "backup"), eq(runs.status, "running")));
          return row?.pid ? { id: row.id, pid: row.pid } : undefined;
        });
        // The lock file names the process doing the work.
        const lockFile = path.join(repository.dir, ".lock");
        await waitFor("the lock file", async () => (existsSync(lockFile) ? true : undefined));
        expect(JSON.parse(await readFile(lockFile, "utf8"))).toMatchObject({ pid: victim.pid, runId: victim.id });
        process.kill(victim.pid, "SIGKILL");
        const result = await child;
        expect(result.code).not.toBe(0);
      } finally {
        await release();
        await child;
      }
      // Nobody has looked yet: the record still says running, the dead holder's lock is still there.
      const [stale] = await meta.db.select().from(runs).where(eq(runs.id, victim.id));
      expect(stale).toMatchObject({ status: "running" });
      expect(stale!.finishedAt).toBeNull();
      expect(await hiddenFiles()).toContain(".lock");

      const outcome = await run(op(restoreJsonOperation), { file: files.json, tables: ["allergens"], confirm: "app" });
      expect(outcome.status, outcome.error?.message).toBe("succeeded");
      await expectInterrupted(victim.id);
      expect(await hiddenFiles()).toEqual([]);
    });
  });

  it("backup:list lists the same artifacts, base backups included and verified, with the metadata database up and down", async () => {
    // A plain base backup (LIFEBOAT_BASE_COMPRESSION=none) is checked by pg_verifybackup before it is committed.
    const plain = (await run(op(backupOperation), { kinds: ["base"] }, { env: { LIFEBOAT_BASE_COMPRESSION: "none" } })) as OperationOutcome<
      Awaited<ReturnType<typeof backupOperation.run>>
    >;
    expect(plain.status, plain.verdict?.error ?? plain.error?.message).toBe("succeeded");
    const plainBase = plain.result!.artifacts.find((a) => a.kind === "base");
    expect(plainBase?.ok).toBe(true);
    const plainFile = plainBase!.ok ? plainBase!.file : "";

    const up = await cli("backup-list.ts", ["--json"]);
    expect(up.code, up.stderr).toBe(0);
    expect(up.stderr).not.toMatch(/unreachable/);
    const down = await cli("backup-list.ts", ["--json"], cliEnv({ DATABASE_URL: "postgres://nobody@127.0.0.1:1/none" }));
    expect(down.code, down.stderr).toBe(0);
    expect(down.stderr).toMatch(/metadata database is unreachable/);

    type Row = { kind: string; file: string; sizeBytes: number; verified: string; status: string };
    const rows = (text: string) => (JSON.parse(text) as Row[]).map(({ kind, file, sizeBytes, verified }) => ({ kind, file, sizeBytes, verified }));
    const [withDb, withoutDb] = [rows(up.stdout), rows(down.stdout)];
    expect(withoutDb).toEqual(withDb);
    expect((JSON.parse(up.stdout) as Row[]).every((r) => r.status === "available")).toBe(true);
    expect(withDb.map((r) => r.file).sort()).toEqual((await repository.list()).artifacts.map((a) => a.manifest.artifact).sort());
    const base = withDb.filter((r) => r.kind === "base");
    expect(base.map((r) => r.file)).toEqual(expect.arrayContaining([files.base, plainFile]));
    // The plain one is shown verified by pg_verifybackup, from the catalog and from its manifest alike.
    for (const listed of [withDb, withoutDb]) expect(listed.find((r) => r.file === plainFile)?.verified).toMatch(/^ok \(pg_verifybackup\) \d{4}-/);
    // The default (zstd) one is not: pg_verifybackup 15 reads no tar; drills check it.
    expect(withDb.find((r) => r.file === files.base)?.verified).toBe("never");
    // The table shows the same.
    const table = await cli("backup-list.ts", [], cliEnv({ DATABASE_URL: "postgres://nobody@127.0.0.1:1/none" }));
    expect(table.stdout.split("\n").find((l) => l.includes(plainFile))).toMatch(/ok \(pg_verifybackup\)/);
    expect(new Set(withDb.map((r) => r.kind))).toEqual(new Set(["full", "schema", "json", "env", "base"]));
  });
});
