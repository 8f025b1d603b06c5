import { execFile } from "node:child_process";
import { readdir } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { findFreePort } from "@/lib/engine/cluster/free-port";
import { ManagedCluster } from "@/lib/engine/cluster/managed-cluster";
import { RestoreRefusedError } from "@/lib/engine/errors";
import { restoreFullBackup } from "@/lib/engine/logical/restore-full";
import { withClient } from "@/lib/engine/pg/server-info";
import { planPitr, PitrRefusedError } from "@/lib/engine/pitr/plan-pitr";
import { parseRecoveryTarget } from "@/lib/engine/pitr/recovery-target";
import { PitrFailedError, pitrToNewInstance, type PitrOutcome } from "@/lib/engine/pitr/run-pitr";
import { createArchivingCluster, type ArchivingCluster } from "@/test/helpers/archiving-cluster";
import { createTestMetadataDb, type TestMetadataDb } from "@/test/helpers/metadata-db";

const exec = promisify(execFile);
const repo = path.resolve(import.meta.dirname, "..", "..");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** "2026-01-15 21:30:00.123" for an instant as a wall clock `offsetHours` east of UTC shows it (no offset written). */
const wallClock = (iso: string, offsetHours: number) => new Date(Date.parse(iso) + offsetHours * 3_600_000).toISOString().replace("T", " ").replace("Z", "");

describe("the recoverable window, time zones and refusals before anything is touched", () => {
  let ac: ArchivingCluster;
  let meta: TestMetadataDb;
  let firstBase: string;
  let secondBase: string;
  let betweenBases: string;
  let fullDump: string;
  let env: NodeJS.ProcessEnv;

  const rowsAt = async (port: number) =>
    withClient({ ...ac.cluster.connection("app"), port }, async (c) => (await c.query<{ v: string }>("select v from marker order by id")).rows.map((r) => r.v));
  const restoreCli = async (args: string[], extra: Record<string, string> = {}) =>
    exec(path.join(repo, "node_modules", ".bin", "tsx"), [path.join(repo, "cli", "restore.ts"), ...args], {
      cwd: repo,
      env: { ...env, ...extra },
      timeout: 180_000,
    }).then(
      (r) => ({ code: 0, ...r }),
      (e: { code: number; stdout: string; stderr: string }) => e,
    );

  beforeAll(async () => {
    ac = await createArchivingCluster();
    meta = await createTestMetadataDb();
    await ac.sql("create table marker (id serial primary key, v text not null)");
    await ac.archiveNow();
    [firstBase] = (await ac.backup(["base"])) as [string];
    await ac.sql("insert into marker (v) values ('a')");
    await sleep(200);
    betweenBases = new Date().toISOString();
    await sleep(200);
    await ac.sql("insert into marker (v) values ('b')");
    await ac.archiveNow();
    [secondBase] = (await ac.backup(["base"])) as [string];
    [fullDump] = (await ac.backup(["full"])) as [string];
    await ac.sql("insert into marker (v) values ('c')");
    await ac.archiveNow();
    env = {
      NODE_ENV: "test",
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      DATABASE_URL: meta.url,
      DB_HOST: "127.0.0.1",
      DB_PORT: String(ac.cluster.port),
      DB_NAME: "app",
      DB_USER: "postgres",
      DB_PASSWORD: "scenario-super-pw",
      DB_TARGET_NAME: "app",
      DB_DATA_DIR: ac.cluster.dataDir,
      DB_CONTROL: "pg_ctl",
      BACKUP_DIR: path.dirname(ac.repository.dir),
      LOG_DIR: path.join(ac.work, "logs"),
    };
  });

  afterAll(async () => {
    await ac?.remove();
    await meta?.drop();
  });

  it("a moment before the newest base backup is recovered from the older one that holds it, with exactly the rows of that moment [S3]", async () => {
    const plan = await planPitr({ repository: ac.repository, target: parseRecoveryTarget({ time: betweenBases }, "UTC") });
    expect(plan.base.artifact).toBe(firstBase);
    const latest = await planPitr({ repository: ac.repository, target: { kind: "latest" } });
    expect(latest.base.artifact).toBe(secondBase);
    const baseDir = path.join(ac.work, "older-base");
    const port = await findFreePort();
    const outcome: PitrOutcome = await pitrToNewInstance({ plan, repository: ac.repository, connection: ac.cluster.connection("app"), baseDir, port });
    try {
      expect(await rowsAt(port)).toEqual(["a"]);
    } finally {
      await new ManagedCluster({ dataDir: outcome.dataDir, control: { method: "pg_ctl" }, logFile: path.join(baseDir, "postgres.log") }).stop("immediate");
    }
  });

  it("a moment before the oldest base backup is refused before anything runs, and the CLI prints the recoverable window [S3]", async () => {
    const refused = await planPitr({ repository: ac.repository, target: parseRecoveryTarget({ time: "2020-01-01 00:00:00" }, "UTC") }).catch(
      (e: unknown) => e as PitrRefusedError,
    );
    expect(refused).toBeInstanceOf(PitrRefusedError);
    expect(refused.window?.ranges.length).toBeGreaterThan(0);
    const folder = path.join(ac.work, "never-made");
    const cli = await restoreCli(["pitr", "2020-01-01 00:00:00", "--to-new-instance", "--data-dir", folder]);
    expect(cli.code).toBe(1);
    expect(cli.stderr).toMatch(/outside what can be recovered/);
    expect(cli.stdout).toMatch(/Recoverable window:/);
    expect(cli.stdout).toMatch(/timeline 1/);
    expect(await readdir(folder).catch(() => "none")).toBe("none");
    expect(await ac.cluster.isRunning()).toBe(true);
  });

  it("a time without an offset is read in LIFEBOAT_TIMEZONE and the resolved UTC instant is printed before anything runs [S5]", async () => {
    const before = await rowsAt(ac.cluster.port);
    // 14:30 in Jakarta (UTC+7, no daylight saving) is 07:30 UTC.
    const local = wallClock(betweenBases, 7);
    const cli = await restoreCli(["pitr", local], { LIFEBOAT_TIMEZONE: "Asia/Jakarta" });
    expect(cli.stdout).toContain(`target:        time ${betweenBases}`);
    expect(cli.stdout).toContain(`base backup:   ${firstBase}`);
    // In place needs a confirmation; without a terminal nothing runs.
    expect(cli.code).not.toBe(0);
    expect(cli.stderr).toMatch(/overwrites data in "app"; without a terminal to confirm, pass --yes/);
    expect(await ac.cluster.isRunning()).toBe(true);
    expect(await rowsAt(ac.cluster.port)).toEqual(before);
    // The same words read in UTC are another instant, seven hours later: in the future or past the archive.
    const utc = await restoreCli(["pitr", local], { LIFEBOAT_TIMEZONE: "UTC" });
    expect(utc.stdout).not.toContain(`time ${betweenBases}`);
  });

  it("a recovery into the data directory of the running cluster, or a restore into an existing database, is refused and changes nothing [S12]", async () => {
    const before = await rowsAt(ac.cluster.port);
    const files = (await readdir(ac.cluster.dataDir)).sort();
    const plan = await planPitr({ repository: ac.repository, target: { kind: "latest" } });
    for (const baseDir of [ac.cluster.dataDir, path.dirname(ac.cluster.dataDir)]) {
      const error = await pitrToNewInstance({
        plan,
        repository: ac.repository,
        connection: ac.cluster.connection("app"),
        baseDir,
        port: await findFreePort(),
      }).catch((e: unknown) => e as Error);
      expect(error, baseDir).toBeInstanceOf(PitrFailedError);
      expect((error as Error).message, baseDir).toMatch(/is not empty; choose a new folder/);
    }
    expect((await readdir(ac.cluster.dataDir)).sort()).toEqual(files);

    const into = await restoreFullBackup({
      repository: ac.repository,
      connection: ac.cluster.connection("app"),
      fileName: fullDump,
      intoDatabase: "app",
    }).catch((e: unknown) => e as Error);
    expect(into).toBeInstanceOf(RestoreRefusedError);
    expect((into as Error).message).toMatch(/already exists; --into needs a new name \(nothing was changed\)/);
    expect(await ac.cluster.isRunning()).toBe(true);
    expect(await rowsAt(ac.cluster.port)).toEqual(before);
  });
});
