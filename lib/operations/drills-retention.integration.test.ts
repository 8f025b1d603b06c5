import { execFile } from "node:child_process";
import { chmod, copyFile, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { and, eq } from "drizzle-orm";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { listBackups } from "@/lib/catalog/list-backups";
import { backupArtifacts, runs } from "@/lib/db/schema";
import { parseEnv } from "@/lib/env";
import { LocalCluster } from "@/lib/engine/cluster/local-cluster";
import { withClient } from "@/lib/engine/pg/server-info";
import type { Manifest } from "@/lib/engine/repository/manifest";
import { LocalRepository } from "@/lib/engine/repository/repository";
import { BackupLog } from "@/lib/log/backup-log";
import { runOperation, type Actor, type OperationOutcome } from "@/lib/operations";
import { backupOperation } from "@/lib/operations/backup";
import { cleanupOperation, type CleanupResult } from "@/lib/operations/cleanup";
import type { OperationDefinition } from "@/lib/operations/types";
import { verifyOperation, type VerifyResult } from "@/lib/operations/verify";
import { createTestMetadataDb, type TestMetadataDb } from "@/test/helpers/metadata-db";

const exec = promisify(execFile);
const repo = path.resolve(import.meta.dirname, "..", "..");
const tsx = path.join(repo, "node_modules", ".bin", "tsx");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const actor: Actor = { label: "test", userId: null, role: null, via: "cli" };
const APP_PASSWORD = "drill-App:pw'1";
const DAY = 24 * 60 * 60 * 1000;

/**
 * Issue 10's restore drills and retention as operations, against a cluster set up as users set
 * them up: scram-sha-256 on every TCP connection, a superuser named "dba", WAL archived into the
 * repository by archive-wal.
 */
describe("restore drills and retention (issue 10)", () => {
  let work: string;
  let cluster: LocalCluster;
  let meta: TestMetadataDb;
  let repository: LocalRepository;
  let vars: Record<string, string>;
  let log: BackupLog;

  const appConnection = () => ({ host: "127.0.0.1", port: cluster.port, database: "app", user: "app", password: APP_PASSWORD });
  const appSql = async <R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, params: unknown[] = []) =>
    withClient(appConnection(), async (c) => (await c.query<R>(text, params)).rows);
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
  const run = async <I extends { target?: string | undefined }, R>(definition: OperationDefinition<I, R>, input: unknown) =>
    (await runOperation(definition as unknown as OperationDefinition<{ target?: string | undefined }, unknown>, input, {
      actor,
      services: { env: parseEnv(vars), meta, log },
    })) as OperationOutcome<R>;
  const backup = async (kinds: string[]) => {
    const outcome = await run(backupOperation, { kinds });
    expect(outcome.status, outcome.verdict?.error ?? outcome.error?.message).toBe("succeeded");
    return Object.fromEntries(outcome.result!.artifacts.flatMap((a) => (a.ok ? [[a.kind, a.file]] : [])));
  };
  const manifestOf = async (artifact: string) => (await repository.list()).artifacts.find((a) => a.manifest.artifact === artifact)!.manifest;
  /** Rewrite a manifest in place (as damage or an old backup would look; the repository itself never overwrites one). */
  const rewriteManifest = (m: Manifest) => writeFile(path.join(repository.dir, `${m.artifact}.manifest.json`), `${JSON.stringify(m, null, 2)}\n`);
  /** Move an artifact back in time, as if it had been written `days` ago (its manifest is what retention reads). */
  const backdate = async (artifact: string, days: number) => {
    const m = await manifestOf(artifact);
    const shift = (iso: string) => new Date(Date.parse(iso) - days * DAY).toISOString();
    await rewriteManifest({ ...m, startedAt: shift(m.startedAt), finishedAt: shift(m.finishedAt) });
  };
  /** Every file in the repository and its archive, relative to the repository's parent. */
  const tree = async (): Promise<string[]> => {
    const root = path.dirname(repository.dir);
    const entries = await readdir(root, { recursive: true, withFileTypes: true });
    return entries
      .filter((e) => e.isFile())
      .map((e) => path.relative(root, path.join(e.parentPath, e.name)))
      .filter((f) => !f.includes(".lock") && !f.includes("/stream/"))
      .sort();
  };
  const cli = async (script: string, args: string[]) => {
    const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME, ...vars, NODE_ENV: "test" };
    try {
      const { stdout, stderr } = await exec(tsx, [path.join(repo, "cli", script), ...args], { cwd: repo, env, timeout: 300_000 });
      return { code: 0, stdout, stderr };
    } catch (error) {
      const e = error as { code: number; stdout: string; stderr: string };
      return { code: e.code, stdout: e.stdout, stderr: e.stderr };
    }
  };

  beforeAll(async () => {
    work = await mkdtemp(path.join(os.tmpdir(), "lifeboat-drills-"));
    await chmod(work, 0o755);
    const archiveWal = path.join(work, "archive-wal");
    await copyFile(path.join(repo, "bin", "archive-wal"), archiveWal);
    await chmod(archiveWal, 0o755);
    repository = new LocalRepository(path.join(work, "backups"), "app");
    await repository.prepareArchive();
    cluster = await LocalCluster.open({
      baseDir: path.join(work, "cluster"),
      superuser: "dba",
      password: "drill-dba-pw",
      walLevel: "replica",
      archiveMode: "on",
      archiveCommand: `'${archiveWal}' %p '${repository.archiveDir}' %f`,
    });
    await cluster.start();
    await cluster.query(`create role app login createdb replication password ${pg.escapeLiteral(APP_PASSWORD)}`);
    await cluster.query("create database app owner app");
    await cluster.query("grant execute on function pg_create_restore_point(text) to app");
    await appSql(await readFile(path.join(repo, "demo", "seed.sql"), "utf8"));
    await archiveNow();
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
    };
    log = new BackupLog(vars.LOG_DIR!);
  }, 180_000);

  afterAll(async () => {
    await cluster?.remove();
    await meta?.drop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it("a drill restores the newest full dump and its JSON export, recovers to a random moment, and records the measured RTOs", async () => {
    const set = await backup(["full", "json", "base"]);
    await appSql("insert into allergens (name, severity) values ('drill-after-base', 'mild')");
    await archiveNow();

    const outcome = await run(verifyOperation, {});
    expect(outcome.status, outcome.verdict?.error ?? outcome.error?.message).toBe("succeeded");
    const result = outcome.result as VerifyResult;
    expect(result.logical.file).toBe(set.full);
    expect(result.logical.tables.length).toBeGreaterThanOrEqual(6);
    expect(result.logical.tables.every((t) => t.ok && t.checksum !== null && t.checksum === t.expectedChecksum)).toBe(true);
    expect(result.logical.partial).toMatchObject({ file: set.json, ok: true });
    expect(result.pitr).toMatchObject({ base: set.base, ok: true });
    expect(Date.parse(result.pitr!.lastReplayed ?? result.pitr!.target)).toBeLessThanOrEqual(Date.parse(result.pitr!.target));

    // The measured RTOs are on the run record, for the health checks.
    const [record] = await meta.db.select().from(runs).where(eq(runs.id, outcome.runId!));
    expect(record!.result).toMatchObject({
      file: set.full,
      rto_full_ms: expect.any(Number),
      rto_partial_ms: expect.any(Number),
      rto_pitr_ms: expect.any(Number),
    });
    // Marked verified beside the artifacts and in the catalog; the list says so.
    expect(await repository.readVerification(set.full!)).toMatchObject({ tool: "restore drill", ok: true });
    expect(await repository.readVerification(set.base!)).toMatchObject({ tool: "PITR drill", ok: true });
    const [row] = await meta.db
      .select()
      .from(backupArtifacts)
      .where(and(eq(backupArtifacts.fileName, set.full!)));
    expect(row).toMatchObject({ verifyStatus: "ok" });
    const listed = (await listBackups(repository)).rows.find((r) => r.file === set.full);
    expect(listed?.verified).toMatch(/^ok \(restore drill\) /);
  }, 300_000);

  it("a drill catches a dump whose files match their checksums but whose content was altered before the dump [S11]", async () => {
    // A dump of altered content (one user's name changed: same row count)...
    const [victim] = await appSql<{ id: number; display_name: string }>("select id, display_name from users order by id limit 1");
    await appSql("update users set display_name = 'Mallory' where id = $1", [victim!.id]);
    const altered = (await backup(["full"])).full!;
    await appSql("update users set display_name = $2 where id = $1", [victim!.id, victim!.display_name]);
    // ...put in the place of a good backup's file, with the manifest's file checksums made to match:
    // every file check passes, and only the table checksums taken in the backup's snapshot disagree.
    const good = (await backup(["full"])).full!;
    const alteredManifest = await manifestOf(altered);
    const goodManifest = await manifestOf(good);
    await copyFile(path.join(repository.dir, altered), path.join(repository.dir, good));
    const files = goodManifest.files.map((f, i) => ({ ...f, size: alteredManifest.files[i]!.size, sha256: alteredManifest.files[i]!.sha256 }));
    await rewriteManifest({ ...goodManifest, files, sizeBytes: alteredManifest.sizeBytes } satisfies Manifest);
    await repository.discard(altered);
    expect((await repository.verify(await manifestOf(good))).ok).toBe(true);

    const outcome = await run(verifyOperation, { file: good, pitr: false });
    expect(outcome.status).toBe("failed");
    expect(outcome.verdict?.error).toMatch(/1 table\(s\) differ from what was backed up: public\.users \(content differs\)/);
    const result = outcome.result as VerifyResult;
    const users = result.logical.tables.find((t) => t.table === "public.users")!;
    expect(users).toMatchObject({ ok: false });
    expect(users.rows).toBe(users.expectedRows);
    expect(users.checksum).not.toBe(users.expectedChecksum);
    expect(await repository.readVerification(good)).toMatchObject({ tool: "restore drill", ok: false });
    const [row] = await meta.db.select().from(backupArtifacts).where(eq(backupArtifacts.fileName, good));
    expect(row).toMatchObject({ verifyStatus: "failed", status: "damaged" });
    expect((await listBackups(repository, { db: meta.db, targetId: row!.targetId })).rows.find((r) => r.file === good)?.verified).toMatch(/^failed /);

    // The CLI says which table and exits 1.
    const cliRun = await cli("verify.ts", [good, "--no-pitr"]);
    expect(cliRun.code).toBe(1);
    expect(cliRun.stdout).toMatch(/FAILED {2}full restore of .*: \d+\/\d+ tables match/);
    expect(cliRun.stdout).toContain("public.users");
  }, 300_000);

  it("retention with every recent backup failed keeps the last good one and its WAL; the dry run lists exactly what the cleanup deletes [S15]", async () => {
    // Start from an empty repository: three backup sets, the oldest 20 days old, the next 10, the newest today.
    for (const { manifest } of (await repository.list()).artifacts) await repository.discard(manifest.artifact);
    const oldest = await backup(["full", "base"]);
    await appSql("insert into allergens (name, severity) values ('retention-1', 'mild')");
    await archiveNow();
    const lastGood = await backup(["full", "base"]);
    await appSql("insert into allergens (name, severity) values ('retention-2', 'mild')");
    await archiveNow();
    const recent = await backup(["full", "base"]);
    await appSql("insert into allergens (name, severity) values ('retention-3', 'mild')");
    await archiveNow();
    for (const a of Object.values(oldest)) await backdate(a, 20);
    for (const a of Object.values(lastGood)) await backdate(a, 10);
    // Every recent backup failed: the full dump's drill failed, the base backup's files were damaged.
    await repository.recordVerification(recent.full!, { tool: "restore drill", at: new Date().toISOString(), ok: false, detail: "test" });
    const baseFile = (await manifestOf(recent.base!)).files.find((f) => f.size > 0)!.name;
    const bytes = await readFile(path.join(repository.dir, baseFile));
    bytes[0] = bytes[0]! ^ 0xff;
    await writeFile(path.join(repository.dir, baseFile), bytes);

    const before = await tree();
    const dry = await cli("cleanup.ts", ["--dry-run"]);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toContain("dry run: nothing deleted");
    expect(await tree()).toEqual(before);

    const outcome = await run(cleanupOperation, {});
    expect(outcome.status, outcome.verdict?.error ?? outcome.error?.message).toBe("succeeded");
    const { plan, windowAfter, applied } = outcome.result as CleanupResult;
    // The 20-day-old set goes; the 10-day-old set is the last good one; the recent, failed ones stay too.
    expect(plan.deletes.map((d) => d.artifact).sort()).toEqual([oldest.base, oldest.full].sort());
    expect(plan.keeps.find((k) => k.artifact === lastGood.full)?.reason).toMatch(/newest 1 verified/);
    expect(plan.keeps.find((k) => k.artifact === lastGood.base)?.reason).toMatch(/newest 1 verified/);
    expect(plan.keeps.find((k) => k.artifact === recent.full)).toMatchObject({ damaged: true });
    expect(plan.keeps.find((k) => k.artifact === recent.base)).toMatchObject({ damaged: true });
    expect(plan.oldestKeptBase).toBe(lastGood.base);
    expect(plan.walDeletes.length).toBeGreaterThan(0);
    expect(applied!.failed).toEqual([]);

    // The dry run named exactly what went: every artifact and WAL file it listed, nothing else.
    const after = await tree();
    const removed = before.filter((f) => !after.includes(f));
    expect(after.filter((f) => !before.includes(f))).toEqual([]);
    for (const d of plan.deletes) {
      expect(dry.stdout).toContain(`would delete ${d.artifact}`);
      expect(removed.some((f) => f.startsWith(`app/${d.artifact}`))).toBe(true);
    }
    const removedWal = removed.filter((f) => f.startsWith("app/archive/"));
    expect(removedWal.map((f) => path.basename(f)).sort()).toEqual(plan.walDeletes.map((w) => w.name).sort());
    expect(dry.stdout).toContain(`would delete ${plan.walDeletes.length} WAL file(s), ${plan.walDeletes[0]!.name} to ${plan.walDeletes.at(-1)!.name}`);
    expect(dry.stdout).toContain(`WAL kept from ${plan.walKeptFrom}`);
    const removedArtifacts = removed.filter((f) => !removedWal.includes(f));
    for (const f of removedArtifacts) expect(plan.deletes.some((d) => f.startsWith(`app/${d.artifact}`))).toBe(true);

    // The window stays continuous from the last good base backup on, and a PITR can still use it.
    expect(windowAfter!.stretches).toHaveLength(1);
    expect(windowAfter!.problems).toEqual([]);
    const listedAfter = (await repository.list()).artifacts.map((a) => a.manifest.artifact);
    expect(listedAfter).toEqual(expect.arrayContaining([lastGood.full, lastGood.base, recent.full, recent.base]));
    expect(listedAfter).not.toContain(oldest.full);
    const [catalogRow] = await meta.db.select().from(backupArtifacts).where(eq(backupArtifacts.fileName, oldest.full!));
    expect(catalogRow?.status).toBe("deleted");

    // A second cleanup finds nothing more to delete.
    const again = await run(cleanupOperation, { dryRun: true });
    expect((again.result as CleanupResult).plan.deletes).toEqual([]);
    expect((again.result as CleanupResult).plan.walDeletes).toEqual([]);
  }, 600_000);

  it("refuses bad retention input and changes nothing", async () => {
    const before = await tree();
    const outcome = await run(cleanupOperation, { keepNewest: 0 });
    expect(outcome.status).toBe("invalid");
    expect(outcome.error?.message).toMatch(/the last good backup is never deleted/);
    const cliRun = await cli("cleanup.ts", ["--days", "0"]);
    expect(cliRun.code).not.toBe(0);
    expect(cliRun.stderr).toMatch(/--days.*at least 1/);
    expect(await tree()).toEqual(before);
  }, 120_000);
});
