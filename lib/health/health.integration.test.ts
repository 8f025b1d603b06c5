import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmod, copyFile, mkdtemp, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { and, eq } from "drizzle-orm";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { healthStates, schedules } from "@/lib/db/schema";
import { parseEnv, type TEnv } from "@/lib/env";
import { LocalCluster } from "@/lib/engine/cluster/local-cluster";
import { withClient } from "@/lib/engine/pg/server-info";
import { LocalRepository } from "@/lib/engine/repository/repository";
import { ensureDefaultSchedules } from "@/lib/jobs/schedules";
import { BackupLog } from "@/lib/log/backup-log";
import { runOperation } from "@/lib/operations";
import { backupOperation } from "@/lib/operations/backup";
import type { OperationDefinition } from "@/lib/operations/types";
import { resolveTarget, type ResolvedTarget } from "@/lib/targets/resolve-target";
import { createTestMetadataDb, type TestMetadataDb } from "@/test/helpers/metadata-db";
import { renderMetrics } from "@/lib/metrics/render-metrics";
import { saveWebhook } from "@/lib/notify/webhooks";
import { startTestReceiver, type TestReceiver } from "@/lib/notify/test-receiver";
import { checkTargetHealth } from "./gather-health";
import { watchHealth } from "./watch-health";
import { sampleTargetArchiver } from "./sample-target";

const exec = promisify(execFile);
const repo = path.resolve(import.meta.dirname, "..", "..");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const APP_PASSWORD = "health-App:pw'1";
const DAY = 24 * 60 * 60 * 1000;

/**
 * The health checks on real conditions: real backups of a real cluster (a table emptied between
 * them), a real archive_command failing, a real failed backup run, the clock moved for ages.
 */
describe("health checks against a real target (issue 10)", () => {
  let work: string;
  let cluster: LocalCluster;
  let meta: TestMetadataDb;
  let env: TEnv;
  let vars: Record<string, string>;
  let target: ResolvedTarget;
  let log: BackupLog;
  let receiver: TestReceiver;

  const appSql = async (text: string) =>
    withClient({ host: "127.0.0.1", port: cluster.port, database: "app", user: "app", password: APP_PASSWORD }, async (c) => (await c.query(text)).rows);
  const backup = async (overrides: Record<string, string> = {}) =>
    runOperation(
      backupOperation as unknown as OperationDefinition<{ target?: string | undefined }, unknown>,
      { kinds: ["full"] },
      {
        actor: { label: "test", userId: null, role: null, via: "cli" },
        services: { env: parseEnv({ ...vars, ...overrides }), meta, log },
      },
    );
  const health = async (now?: Date) => {
    const { checks, turnedCritical } = await checkTargetHealth({ db: meta.db, env, target, now });
    return { byId: new Map(checks.map((c) => [c.id, c])), turnedCritical: turnedCritical.map((c) => c.id) };
  };

  beforeAll(async () => {
    work = await mkdtemp(path.join(os.tmpdir(), "lifeboat-health-"));
    await chmod(work, 0o755);
    const archiveWal = path.join(work, "archive-wal");
    await copyFile(path.join(repo, "bin", "archive-wal"), archiveWal);
    await chmod(archiveWal, 0o755);
    const repository = new LocalRepository(path.join(work, "backups"), "app");
    await repository.prepareArchive();
    cluster = await LocalCluster.open({
      baseDir: path.join(work, "cluster"),
      superuser: "dba",
      password: "health-dba-pw",
      walLevel: "replica",
      archiveMode: "on",
      archiveCommand: `'${archiveWal}' %p '${repository.archiveDir}' %f`,
    });
    await cluster.start();
    await cluster.query(`create role app login createdb password ${pg.escapeLiteral(APP_PASSWORD)}`);
    await cluster.query("create database app owner app");
    await cluster.query("grant pg_monitor to app");
    await appSql(await readFile(path.join(repo, "demo", "seed.sql"), "utf8"));
    await appSql("create table bulk as select g, md5(g::text) || md5((g * 7)::text) as payload from generate_series(1, 100000) g");
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
    };
    receiver = await startTestReceiver();
    vars.LIFEBOAT_SECRETS_KEY = randomBytes(32).toString("base64");
    env = parseEnv(vars);
    log = new BackupLog(env.LOG_DIR);
    target = await resolveTarget({ env, db: meta.db });
    await saveWebhook(meta.db, { url: receiver.url("/hook"), format: "json", events: ["critical"] }, env.LIFEBOAT_SECRETS_KEY);
    await ensureDefaultSchedules(meta.db, target.id!, "UTC");
    // This target's nightly backup writes full dumps only.
    await meta.db
      .update(schedules)
      .set({ input: { kinds: ["full"] } })
      .where(and(eq(schedules.targetId, target.id!), eq(schedules.kind, "backup")));
  }, 120_000);

  afterAll(async () => {
    await receiver?.close();
    await cluster?.remove();
    await meta?.drop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it("regular backups are ok; a dump after a table was emptied is critical once (it has just turned critical), then stays critical without a second notice", async () => {
    for (let i = 0; i < 4; i++) expect((await backup()).status).toBe("succeeded");
    const before = await health();
    expect(before.byId.get("size:full")?.state).toBe("ok");
    expect(before.byId.get("age:full")?.state).toBe("ok");
    expect(before.byId.get("last-backup")?.state).toBe("ok");

    await appSql("truncate bulk");
    expect((await backup()).status).toBe("succeeded");
    // The worker's health watch: the check that has just turned critical is announced to the webhook, once.
    const first = await watchHealth({ db: meta.db, env });
    const after = first.find((r) => r.target === "app")!;
    expect(after.checks.find((c) => c.id === "size:full")).toMatchObject({
      state: "critical",
      message: expect.stringMatching(/a table may have been emptied/),
    });
    expect(after.turnedCritical.map((c) => c.id)).toContain("size:full");
    const [notice] = (await receiver.waitFor(1, 30_000)).filter((r) => JSON.stringify(r.json).includes("size:full"));
    expect(notice?.json).toMatchObject({ event: "critical", target: "app", severity: "critical", title: "Size of the full dump of app is CRITICAL" });
    const again = await watchHealth({ db: meta.db, env });
    expect(again.find((r) => r.target === "app")!.turnedCritical.map((c) => c.id)).not.toContain("size:full");
    expect(receiver.received.filter((r) => JSON.stringify(r.json).includes("size:full"))).toHaveLength(1);
    const [stored] = await meta.db
      .select()
      .from(healthStates)
      .where(and(eq(healthStates.targetId, target.id!), eq(healthStates.checkId, "size:full")));
    expect(stored).toMatchObject({ state: "critical" });
  }, 240_000);

  it("no backup for three days against a daily schedule is critical (the clock is the test's)", async () => {
    const { byId } = await health(new Date(Date.now() + 3 * DAY));
    expect(byId.get("age:full")).toMatchObject({ state: "critical", message: expect.stringMatching(/backups are not happening/) });
  });

  it("a failing archive_command is critical and names the segment; working again it is ok [S6]", async () => {
    const admin = cluster.adminConnection("postgres");
    await withClient(admin, async (c) => {
      await c.query("alter system set archive_command = '/bin/false'");
      await c.query("select pg_reload_conf()");
    });
    try {
      await appSql("insert into bulk select g, 'x' from generate_series(1, 1000) g");
      await withClient(admin, (c) => c.query("select pg_switch_wal()"));
      const deadline = Date.now() + 60_000;
      for (;;) {
        const [row] = await withClient(admin, async (c) => (await c.query<{ n: string }>("select failed_count as n from pg_stat_archiver")).rows);
        if (Number(row!.n) > 0) break;
        if (Date.now() > deadline) throw new Error("archive_command never failed");
        await sleep(200);
      }
      await sampleTargetArchiver({ db: meta.db, env, target });
      const { byId } = await health();
      expect(byId.get("archiving")).toMatchObject({
        state: "critical",
        message: expect.stringMatching(/^Archiving is failing: [0-9A-F]{24} could not be archived/),
      });
    } finally {
      await withClient(admin, async (c) => {
        await c.query("alter system reset archive_command");
        await c.query("select pg_reload_conf()");
      });
    }
    const deadline = Date.now() + 60_000;
    for (;;) {
      await sampleTargetArchiver({ db: meta.db, env, target });
      const { byId } = await health();
      if (byId.get("archiving")?.state !== "critical") break;
      if (Date.now() > deadline) throw new Error(`archiving stayed critical: ${byId.get("archiving")?.message}`);
      await sleep(500);
    }
  }, 180_000);

  it("a failed backup run is critical with its error; npm run health exits 1 and says what to do", async () => {
    const failed = await backup({ DB_PASSWORD: "wrong-password" });
    expect(failed.status).toBe("failed");
    const { byId } = await health();
    expect(byId.get("last-backup")).toMatchObject({ state: "critical", message: expect.stringMatching(/failed: .*password authentication failed/) });
    expect(byId.get("last-backup")?.message).not.toContain("wrong-password");

    const tsx = path.join(repo, "node_modules", ".bin", "tsx");
    const result = await exec(tsx, [path.join(repo, "cli", "health.ts")], {
      cwd: repo,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, ...vars, NODE_ENV: "test" },
      timeout: 120_000,
    }).then(
      (r) => ({ code: 0, ...r }),
      (e: { code: number; stdout: string; stderr: string }) => e,
    );
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/^CRITICAL {2}Last backup: The last backup of app \(run \d+, .*\) failed: /m);
    expect(result.stdout).toMatch(/^CRITICAL {2}Size of the full dump: /m);
    expect(result.stdout).toMatch(/^app: CRITICAL$/m);
    expect(await readFile(path.join(env.LOG_DIR, "backup.log"), "utf8")).toMatch(/ERROR health .*status=FAILED/);
  }, 180_000);

  it("/api/metrics' text carries what happened: last backups per kind, runs by status, archiver counters, RPO exposure, health states", async () => {
    const { contentType, body } = await renderMetrics(meta.db);
    expect(contentType).toMatch(/^text\/plain; version=0\.0\.4/);
    const value = (line: RegExp) => Number(body.match(new RegExp(`^${line.source} (\\S+)$`, "m"))?.[1]);
    const [newest] = (await target.repository.list()).artifacts;
    expect(value(/lifeboat_backup_last_size_bytes\{target="app",kind="full"\}/)).toBe(newest!.manifest.sizeBytes);
    expect(value(/lifeboat_backup_last_success_timestamp_seconds\{target="app",kind="full"\}/)).toBe(Date.parse(newest!.manifest.finishedAt) / 1000);
    expect(value(/lifeboat_runs_total\{target="app",kind="backup",status="succeeded"\}/)).toBe(5);
    expect(value(/lifeboat_runs_total\{target="app",kind="backup",status="failed"\}/)).toBe(1);
    expect(value(/lifeboat_health_state\{target="app",check="size:full"\}/)).toBe(2);
    expect(value(/lifeboat_health_state\{target="app",check="last-backup"\}/)).toBe(2);
    expect(value(/lifeboat_archiver_failed_count\{target="app"\}/)).toBeGreaterThan(0);
    expect(value(/lifeboat_rpo_exposure_seconds\{target="app"\}/)).toBeGreaterThanOrEqual(0);
    expect(value(/lifeboat_queue_depth\{target="app"\}/)).toBe(0);
    expect(body).not.toContain(APP_PASSWORD);
  });
});
