import { execFile } from "node:child_process";
import { chmod, copyFile, cp, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseEnv } from "@/lib/env";
import { LocalCluster } from "@/lib/engine/cluster/local-cluster";
import { generateKeyPair } from "@/lib/engine/crypto/age";
import { ManagedCluster } from "@/lib/engine/cluster/managed-cluster";
import { withClient } from "@/lib/engine/pg/server-info";
import { LocalRepository } from "@/lib/engine/repository/repository";
import { BackupLog } from "@/lib/log/backup-log";
import { runOperation, type Actor, type OperationOutcome } from "@/lib/operations";
import { applyRetention, planRetention } from "@/lib/engine/retention/plan-retention";
import { backupOperation } from "@/lib/operations/backup";
import { cleanupOperation, type CleanupResult } from "@/lib/operations/cleanup";
import { offsitePushOperation, type OffsitePushResult } from "@/lib/operations/offsite";
import { pitrOperation } from "@/lib/operations/pitr";
import { restoreFullOperation } from "@/lib/operations/restore-full";
import type { OperationDefinition } from "@/lib/operations/types";
import { resolveTarget } from "@/lib/targets/resolve-target";
import { createTestMetadataDb, type TestMetadataDb } from "@/test/helpers/metadata-db";
import { S3RVER_CREDENTIALS, startS3Server, type TestS3Server } from "@/test/helpers/s3-server";
import { MirroredRepository } from "./offsite-repository";

const exec = promisify(execFile);
const repo = path.resolve(import.meta.dirname, "..", "..", "..");
const tsx = path.join(repo, "node_modules", ".bin", "tsx");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const actor: Actor = { label: "test", userId: null, role: null, via: "cli" };
const APP_PASSWORD = "offsite-App:pw'1";
const BUCKET = "lifeboat-offsite";
const DAY_MS = 24 * 60 * 60 * 1000;
const everyKind = (days: number) => ({ full: days, schema: days, json: days, env: days, base: days });

/**
 * Issue 13: off-site copies in a real S3-compatible server (s3rver, started here) beside the local
 * repository, against a cluster set up as users set them up (scram-sha-256, a superuser named
 * "dba", WAL archived by archive-wal).
 */
describe("off-site repository in S3-compatible object storage (issue 13)", () => {
  let work: string;
  let cluster: LocalCluster;
  let meta: TestMetadataDb;
  let s3: TestS3Server;
  let vars: Record<string, string>;
  const instances: string[] = [];

  const appConnection = () => ({ host: "127.0.0.1", port: cluster.port, database: "app", user: "app", password: APP_PASSWORD });
  const appSql = async <R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, params: unknown[] = []) =>
    withClient(appConnection(), async (c) => (await c.query<R>(text, params)).rows);
  const count = async (table: string) => Number((await appSql<{ n: string }>(`select count(*) as n from ${table}`))[0]!.n);
  const archiveNow = async () => {
    const admin = cluster.adminConnection("postgres");
    const [row] = await withClient(admin, async (c) => (await c.query<{ f: string }>("select pg_walfile_name(pg_switch_wal()) as f")).rows);
    for (let i = 0; i < 150; i++) {
      const [a] = await withClient(admin, async (c) => (await c.query<{ w: string | null }>("select last_archived_wal as w from pg_stat_archiver")).rows);
      if (a?.w && a.w.slice(8) >= row!.f.slice(8)) return;
      await sleep(200);
    }
    throw new Error(`segment ${row!.f} was not archived`);
  };
  const s3Vars = () => ({
    LIFEBOAT_S3_ENDPOINT: s3.endpoint,
    LIFEBOAT_S3_BUCKET: BUCKET,
    LIFEBOAT_S3_PREFIX: "prod",
    LIFEBOAT_S3_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
    LIFEBOAT_S3_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
  });
  const run = async <I extends { target?: string | undefined }, R>(definition: OperationDefinition<I, R>, input: unknown, env = vars, metaDb = meta) =>
    (await runOperation(definition as unknown as OperationDefinition<{ target?: string | undefined }, unknown>, input, {
      actor,
      services: { env: parseEnv(env), meta: metaDb, log: new BackupLog(env.LOG_DIR!) },
    })) as OperationOutcome<R>;
  const cli = async (script: string, args: string[], env = vars) => {
    const childEnv: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME, ...env, NODE_ENV: "test" };
    try {
      const { stdout, stderr } = await exec(tsx, [path.join(repo, "cli", script), ...args], { cwd: repo, env: childEnv, timeout: 300_000 });
      return { code: 0, stdout, stderr };
    } catch (error) {
      const e = error as { code: number; stdout: string; stderr: string };
      return { code: e.code, stdout: e.stdout, stderr: e.stderr };
    }
  };
  /** A new host: an empty backup folder and an empty metadata database, the same bucket; the original server is gone. */
  const freshHost = async (name: string) => {
    const fresh = await createTestMetadataDb();
    const env: Record<string, string> = {
      ...vars,
      DATABASE_URL: fresh.url,
      BACKUP_DIR: path.join(work, `${name}-backups`),
      LOG_DIR: path.join(work, `${name}-logs`),
    };
    return { env, meta: fresh };
  };

  beforeAll(async () => {
    work = await mkdtemp(path.join(os.tmpdir(), "lifeboat-offsite-"));
    await chmod(work, 0o755);
    const archiveWal = path.join(work, "archive-wal");
    await copyFile(path.join(repo, "bin", "archive-wal"), archiveWal);
    await chmod(archiveWal, 0o755);
    const local = new LocalRepository(path.join(work, "backups"), "app");
    await local.prepareArchive();
    cluster = await LocalCluster.open({
      baseDir: path.join(work, "cluster"),
      superuser: "dba",
      password: "offsite-dba-pw",
      walLevel: "replica",
      archiveMode: "on",
      archiveCommand: `'${archiveWal}' %p '${local.archiveDir}' %f`,
    });
    await cluster.start();
    await cluster.query(`create role app login createdb replication password ${pg.escapeLiteral(APP_PASSWORD)}`);
    await cluster.query("create database app owner app");
    await cluster.query("grant execute on function pg_create_restore_point(text) to app");
    await appSql(await readFile(path.join(repo, "demo", "seed.sql"), "utf8"));
    await archiveNow();
    s3 = await startS3Server({ dir: path.join(work, "s3"), bucket: BUCKET });
    meta = await createTestMetadataDb();
    vars = {
      NODE_ENV: "test",
      DATABASE_URL: meta.url,
      DB_HOST: "127.0.0.1",
      DB_PORT: String(cluster.port),
      DB_NAME: "app",
      DB_USER: "app",
      DB_PASSWORD: APP_PASSWORD,
      DB_TARGET_NAME: "app",
      BACKUP_DIR: path.join(work, "backups"),
      LOG_DIR: path.join(work, "logs"),
      LIFEBOAT_LOCK_TIMEOUT: "60",
      ...s3Vars(),
    };
  }, 180_000);

  afterAll(async () => {
    for (const dataDir of instances)
      await new ManagedCluster({ dataDir, control: { method: "pg_ctl" }, logFile: path.join(dataDir, "..", "postgres.log") })
        .stop("immediate")
        .catch(() => undefined);
    await s3?.stop();
    await cluster?.remove();
    await meta?.drop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it("a full backup, a base backup and its WAL land in the bucket; a new host with an empty metadata database lists and restores them, and recovers to a moment from WAL fetched only from the bucket", async () => {
    const backup = await run(backupOperation, { kinds: ["full", "base"] });
    expect(backup.status, backup.verdict?.error ?? backup.error?.message).toBe("succeeded");
    const written = Object.fromEntries(backup.result!.artifacts.flatMap((a) => (a.ok ? [[a.kind, a.file]] : []))) as Record<string, string>;
    expect(backup.result!.offsite).toMatchObject({ pushed: [expect.any(String), expect.any(String)] });
    expect(backup.result!.offsite!.error).toBeUndefined();
    // Each manifest reached the bucket after its files.
    const manifestPut = s3.puts.indexOf(`prod/app/${written.base}.manifest.json`);
    expect(manifestPut).toBeGreaterThan(s3.puts.findIndex((k) => k.startsWith(`prod/app/${written.base}/`)));

    await appSql("create table offsite_marker (label text primary key, at timestamptz default now())");
    await appSql("insert into offsite_marker (label) values ('before-the-moment')");
    await sleep(1500);
    const [{ moment }] = (await appSql<{ moment: Date }>("select now() as moment")) as [{ moment: Date }];
    await sleep(1500);
    await appSql("insert into offsite_marker (label) values ('after-the-moment')");
    await archiveNow();
    const push = await run<{ target?: string }, OffsitePushResult>(offsitePushOperation, {});
    expect(push.status, push.verdict?.error ?? push.error?.message).toBe("succeeded");
    expect(push.result!.already).toBe(2);
    expect(push.result!.walShipped).toBeGreaterThan(0);

    // A new host: empty folder, empty catalog, and the original server unreachable.
    const host = await freshHost("new-host");
    host.env.DB_PORT = String(cluster.port + 1000);
    try {
      const listed = await cli("backup-list.ts", ["--rescan"], host.env);
      expect(listed.code, listed.stderr).toBe(0);
      expect(listed.stderr).toContain("2 indexed");
      expect(listed.stdout).toMatch(new RegExp(`full\\t.*\\toffsite\\t${written.full!.replace(".", "\\.")}`));
      expect(listed.stdout).toMatch(/base\t.*\toffsite\tbase\//);

      // PITR on the new host: base backup and WAL come from the bucket; the moment's rows are there, the later one is not.
      const folder = path.join(work, "recovered-on-new-host");
      const pitr = await run(pitrOperation, { time: moment.toISOString(), mode: "new-instance", dataDir: folder }, host.env, host.meta);
      expect(pitr.status, `${pitr.verdict?.error ?? pitr.error?.message} ${JSON.stringify(pitr.error?.details ?? {}).slice(0, 3000)}`).toBe("succeeded");
      const outcome = (pitr.result as { outcome: { port: number; dataDir: string } }).outcome;
      instances.push(outcome.dataDir);
      const labels = await withClient(
        { ...appConnection(), port: outcome.port },
        async (c) => (await c.query<{ label: string }>("select label from offsite_marker")).rows,
      );
      expect(labels.map((l) => l.label)).toEqual(["before-the-moment"]);
      expect((await readdir(path.join(host.env.BACKUP_DIR!, "app", "archive"))).length).toBeGreaterThan(2);
      await new ManagedCluster({ dataDir: outcome.dataDir, control: { method: "pg_ctl" }, logFile: path.join(folder, "postgres.log") }).stop("fast");

      // A logical restore from the bucket alone, into a new database on the live server.
      host.env.DB_PORT = String(cluster.port);
      const restore = await run(restoreFullOperation, { file: written.full, into: "from_bucket" }, host.env, host.meta);
      expect(restore.status, restore.verdict?.error ?? restore.error?.message).toBe("succeeded");
      const rows = await withClient(
        { ...appConnection(), database: "from_bucket" },
        async (c) => (await c.query<{ n: string }>("select count(*) as n from allergens")).rows,
      );
      expect(Number(rows[0]!.n)).toBe(await count("allergens"));
    } finally {
      await host.meta.drop();
    }
  });

  it("an object altered in the bucket is refused before the restore touches the database", async () => {
    const backup = await run(backupOperation, { kinds: ["full"] });
    expect(backup.status).toBe("succeeded");
    const file = backup.result!.artifacts.find((a) => a.ok)!.file;
    const stored = path.join(s3.dir, BUCKET, "prod", "app", `${file}._S3rver_object`);
    const bytes = await readFile(stored);
    const middle = Math.floor(bytes.length / 2);
    bytes[middle] = bytes[middle]! ^ 0xff; // same size, one byte flipped
    await writeFile(stored, bytes);
    const before = await count("allergens");
    await appSql("insert into allergens (name, severity) values ('after-the-backup', 'mild')");

    const host = await freshHost("altered");
    try {
      const restore = await run(restoreFullOperation, { file, confirm: "app" }, host.env, host.meta);
      expect(restore.status).toBe("failed");
      expect(restore.error?.message ?? restore.verdict?.error).toMatch(/altered or damaged in the bucket/);
      // The live database was not touched: the row written after the backup is still there.
      expect(await count("allergens")).toBe(before + 1);
      // repo:check names the altered object.
      const check = await cli("offsite.ts", ["check", "--deep"], host.env);
      expect(check.code).toBe(1);
      expect(check.stdout).toContain(`PROBLEM  ${file}`);
    } finally {
      await host.meta.drop();
    }
  });

  it("wrong credentials and a missing bucket give one clear line each, without the secret", async () => {
    const wrongKey = await cli("offsite.ts", ["status"], {
      ...vars,
      LIFEBOAT_S3_ACCESS_KEY_ID: "NOT-A-KEY",
      LIFEBOAT_S3_SECRET_ACCESS_KEY: "very-secret-value",
    });
    expect(wrongKey.code).not.toBe(0);
    expect(wrongKey.stderr.trim().split("\n")).toHaveLength(1);
    expect(wrongKey.stderr).toContain("refused Lifeboat's credentials");
    expect(wrongKey.stderr + wrongKey.stdout).not.toContain("very-secret-value");

    const noBucket = await cli("offsite.ts", ["status"], { ...vars, LIFEBOAT_S3_BUCKET: "no-such-bucket" });
    expect(noBucket.code).not.toBe(0);
    expect(noBucket.stderr.trim().split("\n")).toHaveLength(1);
    expect(noBucket.stderr).toContain("The bucket no-such-bucket does not exist");
  });

  it("the off-site WAL lag appears in wal:status until the worker ships it", async () => {
    await appSql("insert into allergens (name, severity) values ('lag', 'mild')");
    await archiveNow();
    const status = await cli("wal-status.ts", [], vars);
    expect(status.stdout).toMatch(/off-site lag: +\d+ s \(\d+ archived files not in the bucket yet\)/);
    const target = await resolveTarget({ env: parseEnv(vars), db: meta.db });
    // The health page's check says the same.
    const { gatherHealthInputs } = await import("@/lib/health/gather-health");
    const { evaluateHealth } = await import("@/lib/health/checks");
    const checks = evaluateHealth(await gatherHealthInputs({ db: meta.db, env: parseEnv(vars), target, now: new Date() }));
    expect(checks.find((c) => c.id === "offsite")?.message).toMatch(/\d+ archived WAL files are not in s3:\/\/lifeboat-offsite\/prod\/app at http/);
    const { shipWalRound } = await import("@/lib/jobs/ship-wal");
    expect((await shipWalRound(meta.pool, target))?.shipped).toBeGreaterThan(0);
    const after = await cli("wal-status.ts", [], vars);
    expect(after.stdout).toContain("off-site lag:   0 s (every archived file is in the bucket)");
  });

  it("an upload cut halfway (the server stopped) leaves nothing listed, and the next push succeeds", async () => {
    await appSql("insert into allergens (name, severity) values ('cut', 'mild')");
    const staged = await run(backupOperation, { kinds: ["base"] }, { ...vars, LIFEBOAT_S3_ENDPOINT: "http://127.0.0.1:1" });
    // The bucket was unreachable: the backup is kept locally (local and off-site), with a warning.
    expect(staged.status).toBe("succeeded");
    expect(staged.result!.offsite!.error).toMatch(/did not answer/);
    const base = staged.result!.artifacts.find((a) => a.ok)!.file;

    // Now stop the server as soon as the first part of the base backup has arrived.
    const pushing = run<{ target?: string }, OffsitePushResult>(offsitePushOperation, {});
    for (let i = 0; i < 600 && !s3.puts.some((k) => k.startsWith(`prod/app/${base}/`)); i++) await sleep(20);
    await s3.stop("SIGKILL");
    const cut = await pushing;
    expect(cut.status).toBe("failed");
    s3 = await startS3Server({ dir: s3.dir, bucket: BUCKET, port: s3.port });
    const repository = (await resolveTarget({ env: parseEnv(vars), db: meta.db })).repository as MirroredRepository;
    expect((await repository.listing("offsite").list()).artifacts.map((a) => a.manifest.artifact)).not.toContain(base);

    const again = await run<{ target?: string }, OffsitePushResult>(offsitePushOperation, {});
    expect(again.status, again.verdict?.error ?? again.error?.message).toBe("succeeded");
    expect(again.result!.pushed).toContain(base);
    const check = await cli("offsite.ts", ["check"], vars);
    expect(check.code, check.stdout).toBe(0);
  });

  it("two workers in separate folders sharing the bucket and metadata database never upload the same backup twice", async () => {
    const backup = await run(backupOperation, { kinds: ["schema"] }, { ...vars, LIFEBOAT_S3_ENDPOINT: "http://127.0.0.1:1" });
    const file = backup.result!.artifacts.find((a) => a.ok)!.file;
    // The second worker's folder holds the same backups (as a copied or shared folder would).
    const second = { ...vars, BACKUP_DIR: path.join(work, "second-worker", "backups"), LOG_DIR: path.join(work, "second-worker", "logs") };
    await cp(path.join(work, "backups"), second.BACKUP_DIR, { recursive: true });
    const before = s3.puts.length;
    const [a, b] = await Promise.all([
      run<{ target?: string }, OffsitePushResult>(offsitePushOperation, {}),
      run<{ target?: string }, OffsitePushResult>(offsitePushOperation, {}, second),
    ]);
    const succeeded = [a, b].filter((o) => o.status === "succeeded");
    expect(succeeded.length).toBeGreaterThanOrEqual(1);
    const uploads = s3.puts.slice(before).filter((k) => k === `prod/app/${file}` || k === `prod/app/${file}.manifest.json`);
    expect(uploads).toEqual([`prod/app/${file}`, `prod/app/${file}.manifest.json`]);
  });

  it("each copy keeps its own retention: old backups leave the local folder and stay restorable from the bucket; what the bucket lacks is never deleted locally", async () => {
    const repository = (await resolveTarget({ env: parseEnv(vars), db: meta.db })).repository as MirroredRepository;
    // What earlier tests left damaged in the bucket (an altered object) stays as it is.
    const problemsBefore = (await repository.offsite.check()).problems;
    const old = await run(backupOperation, { kinds: ["full"] });
    expect(old.status).toBe("succeeded");
    const oldFull = old.result!.artifacts.find((a) => a.ok)!.file;
    // Newer ones that reach the bucket: the newest verified full dump, kept by the floor.
    expect((await run(backupOperation, { kinds: ["schema", "full"] })).status).toBe("succeeded");
    // Two whose copy failed (the bucket unreachable): only the local folder holds them (the newer is the floor of its kind).
    const unreachable = { ...vars, LIFEBOAT_S3_ENDPOINT: "http://127.0.0.1:1" };
    const unsent = await run(backupOperation, { kinds: ["schema"] }, unreachable);
    expect(unsent.status).toBe("succeeded");
    const unsentFile = unsent.result!.artifacts.find((a) => a.ok)!.file;
    expect((await run(backupOperation, { kinds: ["schema"] }, unreachable)).status).toBe("succeeded");
    // The health page names the backups the bucket lacks (just taken: not yet a warning).
    const { gatherHealthInputs } = await import("@/lib/health/gather-health");
    const { evaluateHealth } = await import("@/lib/health/checks");
    const target = await resolveTarget({ env: parseEnv(vars), db: meta.db });
    const health = evaluateHealth(await gatherHealthInputs({ db: meta.db, env: parseEnv(vars), target, now: new Date() }));
    expect(health.find((c) => c.id === "offsite-backups")).toMatchObject({
      state: "ok",
      message: expect.stringContaining(`2 backups are not in s3://lifeboat-offsite/prod/app`),
    });
    expect(health.find((c) => c.id === "offsite-backups")?.message).toContain(unsentFile);

    // Through the operation (today's clock): each copy is planned with its own days, nothing is old enough yet.
    const dry = await run<{ target?: string }, CleanupResult>(cleanupOperation, { dryRun: true, days: 1 }, { ...vars, LIFEBOAT_OFFSITE_RETENTION_DAYS: "30" });
    expect(dry.status, dry.verdict?.error ?? dry.error?.message).toBe("succeeded");
    expect(dry.result!.offsite).toMatchObject({ days: 30, description: expect.stringContaining("s3://lifeboat-offsite/prod/app") });
    expect(dry.result!.plan.deletes).toEqual([]);
    expect(dry.result!.offsite!.plan.deletes).toEqual([]);

    // Ten days on, with 1 day locally and 30 off-site.
    const sides = await repository.retentionSides();
    const later = new Date(Date.now() + 10 * DAY_MS);
    const localPlan = await planRetention({ repository: sides.local, now: later, days: everyKind(1) });
    const offsitePlan = await planRetention({ repository: sides.offsite, now: later, days: everyKind(30) });
    expect(offsitePlan.deletes).toEqual([]);
    expect(localPlan.deletes.map((d) => d.artifact)).toContain(oldFull);
    expect(localPlan.keeps.find((k) => k.artifact === unsentFile)?.reason).toMatch(
      /older than 1 days, but it is not in s3:\/\/lifeboat-offsite\/prod\/app .* yet/,
    );
    const shipped = await repository.offsite.archivedNames();
    for (const wal of localPlan.walDeletes) expect(shipped.has(wal.name)).toBe(true);
    // A plan is applied only to the copy it was made for.
    await expect(applyRetention(offsitePlan, sides.local)).rejects.toThrow(/was made for s3:\/\//);

    const applied = await applyRetention(localPlan, sides.local);
    expect(applied.failed).toEqual([]);
    const listed = (await repository.list()).artifacts;
    for (const d of localPlan.deletes) expect(listed.find((a) => a.manifest.artifact === d.artifact)?.location).toBe("offsite");
    expect(listed.find((a) => a.manifest.artifact === unsentFile)?.location).toBe("local");
    expect((await repository.offsite.check()).problems).toEqual(problemsBefore);
    // A backup only the bucket holds now is restored from it.
    const restore = await run(restoreFullOperation, { file: oldFull, into: "after_local_retention" });
    expect(restore.status, restore.verdict?.error ?? restore.error?.message).toBe("succeeded");

    // Forty days on, the bucket's own retention: its copies go, the newest verified of each kind stays.
    const bucketPlan = await planRetention({ repository: sides.offsite, now: new Date(Date.now() + 40 * DAY_MS), days: everyKind(30) });
    expect(bucketPlan.deletes.map((d) => d.artifact)).toContain(oldFull);
    expect(bucketPlan.keeps.length).toBeGreaterThan(0);
    expect((await applyRetention(bucketPlan, sides.offsite)).failed).toEqual([]);
    for (const d of bucketPlan.deletes) expect(await repository.offsite.has(d.artifact)).toBe(false);
    for (const k of bucketPlan.keeps) expect(await repository.offsite.has(k.artifact)).toBe(true);
    expect((await repository.offsite.check()).problems.filter((p) => !bucketPlan.deletes.some((d) => p.startsWith(d.artifact)))).toEqual([]);

    // What the bucket's retention removed is not sent again (the restore above brought oldFull back into the local folder),
    // its WAL is not shipped again, and the local folder no longer keeps either for the bucket's sake.
    const push = await run<{ target?: string }, OffsitePushResult>(offsitePushOperation, {});
    expect(push.status, push.verdict?.error ?? push.error?.message).toBe("succeeded");
    expect(push.result!.retired).toBeGreaterThanOrEqual(1);
    expect(push.result!.pushed).not.toContain(oldFull);
    expect(await repository.offsite.has(oldFull)).toBe(false);
    const inBucket = await repository.offsite.archivedNames();
    for (const wal of bucketPlan.walDeletes) expect(inBucket.has(wal.name)).toBe(false);
    expect((await repository.retentionSides()).local.protect?.artifacts.has(oldFull)).toBe(false);
  });

  it("an encrypted off-site copy: the bucket never holds a plaintext row, and a new host restores from it only with the key", async () => {
    const keys = await generateKeyPair();
    const identityFile = path.join(work, "offsite-identity.txt");
    await writeFile(identityFile, `${keys.identity}\n`, { mode: 0o600 });
    const marker = `plaintext-canary-${Date.now()}`;
    await appSql("create table if not exists canary (note text)");
    await appSql("insert into canary values ($1)", [marker]);
    await archiveNow();
    // An uncompressed dump and plain WAL locally: the canary is readable there, so the test could fail.
    const encrypted = {
      ...vars,
      LIFEBOAT_S3_PREFIX: "encrypted",
      LIFEBOAT_S3_ENCRYPT: "true",
      LIFEBOAT_AGE_RECIPIENTS: keys.recipient,
      LIFEBOAT_AGE_IDENTITY_FILE: identityFile,
      LIFEBOAT_DUMP_COMPRESSOR: "pg_dump",
      LIFEBOAT_DUMP_COMPRESSION: "0",
    };
    const backup = await run(backupOperation, { kinds: ["full"] }, encrypted);
    expect(backup.status, backup.verdict?.error ?? backup.error?.message).toBe("succeeded");
    expect(backup.result!.offsite!.error).toBeUndefined();
    const full = backup.result!.artifacts.find((a) => a.ok && a.kind === "full")!.file;
    const push = await run<{ target?: string }, OffsitePushResult>(offsitePushOperation, {}, encrypted);
    expect(push.status, push.verdict?.error ?? push.error?.message).toBe("succeeded");

    const containing = async (dir: string) => {
      const hits: string[] = [];
      for (const entry of await readdir(dir, { recursive: true, withFileTypes: true }))
        if (entry.isFile() && (await readFile(path.join(entry.parentPath, entry.name))).includes(marker)) hits.push(entry.name);
      return hits;
    };
    expect((await containing(path.join(work, "backups", "app"))).length).toBeGreaterThan(0);
    expect(await containing(path.join(s3.dir, BUCKET, "encrypted"))).toEqual([]);
    // Every object of the copy is there, checked without the key (sizes and sha256 of the plain files).
    const check = await cli("offsite.ts", ["check"], encrypted);
    expect(check.code, check.stdout + check.stderr).toBe(0);

    // A new host without the key: the restore is refused with one sentence naming the setting; nothing is created.
    const host = await freshHost("encrypted-host");
    try {
      const withoutKey = { ...host.env, LIFEBOAT_S3_PREFIX: "encrypted", LIFEBOAT_S3_ENCRYPT: "true", LIFEBOAT_AGE_RECIPIENTS: keys.recipient };
      const refused = await run(restoreFullOperation, { file: full, into: "canary_no_key" }, withoutKey, host.meta);
      expect(refused.status).toBe("failed");
      expect(refused.error?.message ?? refused.verdict?.error).toMatch(
        /could not be fetched from s3:\/\/lifeboat-offsite\/encrypted\/app .*is encrypted \(age\): set LIFEBOAT_AGE_IDENTITY_FILE/,
      );
      const databases = await withClient(appConnection(), async (c) => (await c.query<{ datname: string }>("select datname from pg_database")).rows);
      expect(databases.map((d) => d.datname)).not.toContain("canary_no_key");
      // With the key: decrypted, checked against the manifest, restored.
      const restore = await run(
        restoreFullOperation,
        { file: full, into: "canary_restored" },
        { ...withoutKey, LIFEBOAT_AGE_IDENTITY_FILE: identityFile },
        host.meta,
      );
      expect(restore.status, restore.verdict?.error ?? restore.error?.message).toBe("succeeded");
      const rows = await withClient(
        { ...appConnection(), database: "canary_restored" },
        async (c) => (await c.query<{ note: string }>("select note from canary")).rows,
      );
      expect(rows.map((r) => r.note)).toContain(marker);
    } finally {
      await host.meta.drop();
    }
  }, 300_000);
});
