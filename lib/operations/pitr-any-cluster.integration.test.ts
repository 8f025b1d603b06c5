import { execFile, spawn } from "node:child_process";
import { chmod, copyFile, mkdir, mkdtemp, readdir, rename, rm, stat, writeFile } from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { findFreePort } from "@/lib/engine/cluster/free-port";
import { ManagedCluster } from "@/lib/engine/cluster/managed-cluster";
import { clusterOsUser, handToClusterUser, isRoot } from "@/lib/engine/cluster/os-user";
import { findPgBinary } from "@/lib/engine/pg/find-pg-binary";
import { runPgTool } from "@/lib/engine/pg/run-pg-tool";
import { withClient } from "@/lib/engine/pg/server-info";
import { LocalRepository } from "@/lib/engine/repository/repository";
import { createTestMetadataDb, type TestMetadataDb } from "@/test/helpers/metadata-db";

const exec = promisify(execFile);
const repo = path.resolve(import.meta.dirname, "..", "..");
const tsx = path.join(repo, "node_modules", ".bin", "tsx");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * PITR on a cluster set up the way people set them up, not the way Lifeboat's own helper does
 * (issue 9): scram-sha-256 on every connection (socket included), a superuser named `admin`, the
 * configuration in a folder of its own outside the data directory (Debian's layout), started and
 * stopped through configured commands, and archive_timeout an hour — so the moment just before the
 * damage is still in the current, unarchived WAL segment when the user asks for it.
 */
describe.runIf(isRoot())("point-in-time recovery on a cluster Lifeboat did not create (root)", () => {
  let work: string;
  let dataDir: string;
  let configDir: string;
  let port: number;
  let meta: TestMetadataDb;
  let env: NodeJS.ProcessEnv;
  let control: ManagedCluster;
  const appPassword = "app:Scr4m'pw";
  const adminPassword = "admin-Scr4m-pw";

  const app = (database = "app", at = { host: "127.0.0.1", port: 0 }) => ({
    host: at.host,
    port: at.port || port,
    database,
    user: "app",
    password: appPassword,
  });
  const admin = (database = "postgres") => ({ host: "127.0.0.1", port, database, user: "admin", password: adminPassword });
  const rows = async (at?: { host: string; port: number }) =>
    withClient(app("app", at), async (c) => (await c.query<{ v: string }>("select v from marker order by id")).rows.map((r) => r.v));
  const cli = async (args: string[], timeout = 180_000, options: { env?: NodeJS.ProcessEnv; cwd?: string } = {}) => {
    try {
      const { stdout, stderr } = await exec(tsx, [path.join(repo, "cli", "restore.ts"), ...args], {
        cwd: options.cwd ?? repo,
        env: options.env ?? env,
        timeout,
      });
      return { code: 0, stdout, stderr };
    } catch (error) {
      const e = error as { code: number; stdout: string; stderr: string };
      return { code: e.code, stdout: e.stdout, stderr: e.stderr };
    }
  };
  const backup = (args: string[]) => exec(tsx, [path.join(repo, "cli", "backup.ts"), ...args], { cwd: repo, env, timeout: 120_000 });

  beforeAll(async () => {
    work = await mkdtemp(path.join(os.tmpdir(), "lifeboat-anycluster-"));
    await chmod(work, 0o755);
    dataDir = path.join(work, "var", "lib", "postgresql", "15", "main");
    configDir = path.join(work, "etc", "postgresql", "15", "main");
    port = await findFreePort();
    const runDir = path.join(work, "run", "postgresql");
    for (const dir of [path.dirname(dataDir), configDir, runDir]) await mkdir(dir, { recursive: true, mode: 0o755 });
    await handToClusterUser(path.dirname(dataDir), configDir, runDir);
    const pwfile = path.join(work, "pwfile");
    await writeFile(pwfile, `${adminPassword}\n`, { mode: 0o600 });
    await handToClusterUser(pwfile);
    const bin = path.dirname((await findPgBinary("pg_ctl")).path);
    // initdb the ordinary way: scram everywhere, a superuser that is not `postgres`.
    await exec("runuser", [
      "-u",
      "postgres",
      "--",
      path.join(bin, "initdb"),
      "-D",
      dataDir,
      "-U",
      "admin",
      `--pwfile=${pwfile}`,
      "-A",
      "scram-sha-256",
      "--data-checksums",
    ]);
    await rm(pwfile);

    const repository = new LocalRepository(path.join(work, "backups"), "app");
    await repository.prepareArchive();
    const archiveWal = path.join(work, "archive-wal");
    await copyFile(path.join(repo, "bin", "archive-wal"), archiveWal);
    await chmod(archiveWal, 0o755);
    // The configuration lives in /etc-like folder of its own, as Debian keeps it.
    for (const file of ["postgresql.conf", "pg_hba.conf", "pg_ident.conf"]) await rename(path.join(dataDir, file), path.join(configDir, file));
    await writeFile(
      path.join(configDir, "postgresql.conf"),
      [
        `data_directory = '${dataDir}'`,
        `hba_file = '${configDir}/pg_hba.conf'`,
        `ident_file = '${configDir}/pg_ident.conf'`,
        `port = ${port}`,
        "listen_addresses = '127.0.0.1'",
        `unix_socket_directories = '${runDir}'`,
        "wal_level = replica",
        "archive_mode = on",
        `archive_command = '${archiveWal} %p ${repository.archiveDir} %f'`,
        "archive_timeout = 3600",
        "",
      ].join("\n"),
      { flag: "a" },
    );
    const pgCtl = path.join(bin, "pg_ctl");
    const start = ["runuser", "-u", "postgres", "--", pgCtl, "-D", configDir, "-l", path.join(path.dirname(dataDir), "server.log"), "-w", "start"];
    const stop = ["runuser", "-u", "postgres", "--", pgCtl, "-D", dataDir, "-m", "fast", "-w", "stop"];
    control = new ManagedCluster({ dataDir, configDir, control: { method: "command", start, stop } });
    await control.start();

    await withClient(admin(), async (c) => {
      await c.query(`create role app login replication password ${pg.escapeLiteral(appPassword)}`);
      await c.query("create database app owner app");
      await c.query("grant pg_monitor to app");
      await c.query("grant execute on function pg_switch_wal() to app");
      await c.query("grant execute on function pg_create_restore_point(text) to app");
    });
    await withClient(app(), (c) => c.query("create table marker (id serial primary key, v text not null)"));

    meta = await createTestMetadataDb();
    env = {
      NODE_ENV: "test",
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      DATABASE_URL: meta.url,
      DB_HOST: "127.0.0.1",
      DB_PORT: String(port),
      DB_NAME: "app",
      DB_USER: "app",
      DB_PASSWORD: appPassword,
      DB_TARGET_NAME: "app",
      DB_DATA_DIR: dataDir,
      DB_CONFIG_DIR: configDir,
      DB_CONTROL: "command",
      DB_START_COMMAND: JSON.stringify(start),
      DB_STOP_COMMAND: JSON.stringify(stop),
      BACKUP_DIR: path.join(work, "backups"),
      LOG_DIR: path.join(work, "logs"),
    };
    // The first segment must reach the archive before the base backup (archive_timeout is an hour).
    await withClient(app(), (c) => c.query("insert into marker (v) values ('before-base')"));
    await backup(["--kinds", "base"]);
  });

  afterAll(async () => {
    await control?.stop("immediate").catch(() => undefined);
    await meta?.drop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it("brings back a row committed seconds before the damage, with the seed's in-place command run at once", async () => {
    await withClient(app(), (c) => c.query("insert into marker (v) values ('precious')"));
    await sleep(1000);
    const beforeDamage = new Date().toISOString();
    await sleep(1000);
    await withClient(app(), (c) => c.query("delete from marker; insert into marker (v) values ('damage')"));
    // No pg_switch_wal by hand, no waiting an hour for archive_timeout: the seed's command, now.
    const result = await cli(["pitr", beforeDamage, "--yes"]);
    expect(result.stderr).not.toMatch(/ERROR/);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/Recovered in place/);
    expect(await rows()).toEqual(["before-base", "precious"]);
    // The cluster runs again under its own control, with its own configuration, and takes writes.
    expect(await control.isRunning()).toBe(true);
    await withClient(app(), (c) => c.query("insert into marker (v) values ('after-recovery')"));
    expect((await readdir(path.dirname(dataDir))).filter((n) => n.includes("pre-pitr") || n.startsWith(".lifeboat-pitr"))).toEqual([]);
    // The window goes on along the new timeline at once: its history file and first segment were archived.
    const window = JSON.parse((await cli(["pitr", "--window", "--json"])).stdout) as { problems: string[]; stretches: { timeline: number }[] };
    expect(window.problems).toEqual([]);
    expect(window.stretches.at(-1)?.timeline).toBe(2);
  });

  it("recovers into a new instance with a configuration of its own, and shows its rows beside the live database's", async () => {
    await sleep(1000);
    const moment = new Date().toISOString();
    await sleep(1000);
    await withClient(app(), (c) => c.query("insert into marker (v) values ('later')"));
    const folder = path.join(work, "inspect");
    const instancePort = await findFreePort();
    const result = await cli(["pitr", moment, "--to-new-instance", "--data-dir", folder, "--port", String(instancePort)]);
    expect(result.stderr).not.toMatch(/ERROR/);
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(/got a minimal one of its own/);
    // marker: 3 rows at that moment, 4 live now.
    expect(result.stdout).toMatch(/public\.marker\t3\t4\t-1/);
    expect(await rows({ host: "127.0.0.1", port: instancePort })).toEqual(["before-base", "precious", "after-recovery"]);

    // Archiving is off: the new instance never writes into the production archive, even when it
    // closes a segment (the app's grant on pg_switch_wal came back with the roles).
    const instanceAt = { ...app("postgres"), port: instancePort };
    const settings = await withClient(instanceAt, async (c) => {
      const { rows: found } = await c.query<{ mode: string; command: string; tli: string }>(
        "select current_setting('archive_mode') as mode, current_setting('archive_command') as command, substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8) as tli",
      );
      return found[0]!;
    });
    expect(settings.mode).toBe("off");
    // PostgreSQL shows "(disabled)" for archive_command whenever archive_mode is off; the block Lifeboat wrote also empties it.
    expect(settings.command).toMatch(/^(\(disabled\))?$/);
    await withClient(app("app", { host: "127.0.0.1", port: instancePort }), (c) => c.query("insert into marker (v) values ('only-in-the-new-instance')"));
    await withClient(instanceAt, (c) => c.query("select pg_switch_wal()"));
    await sleep(3000);
    const archived = await readdir(path.join(work, "backups", "app", "archive"));
    // Its own timeline (after the in-place recovery's 2) appears nowhere in the archive: no history file, no segment.
    expect(settings.tli).toBe("00000003");
    expect(archived.filter((n) => n.startsWith(settings.tli))).toEqual([]);
    expect(archived).toContain("00000002.history");
    const instance = new ManagedCluster({ dataDir: path.join(folder, "pgdata"), control: { method: "pg_ctl" }, logFile: path.join(folder, "postgres.log") });
    await instance.stop("immediate");
  });

  it("a recovered server that refuses the target's credentials fails at once, saying so, and leaves nothing behind", async () => {
    // The password was rotated after the moment asked for: the recovered cluster holds the old one.
    await sleep(1000);
    const moment = new Date().toISOString();
    await sleep(1000);
    const rotated = "rotated-Scr4m-pw";
    await withClient(admin(), (c) => c.query(`alter role app password ${pg.escapeLiteral(rotated)}`));
    try {
      const folder = path.join(work, "refused");
      const started = Date.now();
      const result = await cli(["pitr", moment, "--to-new-instance", "--data-dir", folder, "--port", String(await findFreePort())], 180_000, {
        env: { ...env, DB_PASSWORD: rotated },
      });
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(/The recovered server refused the target's credentials/);
      expect(result.stderr).toMatch(/password authentication failed for user "app"; it has the roles, passwords and pg_hba\.conf of the recovered moment\)\./);
      // Said once (the server's own log line may be quoted beside it), and nothing that Lifeboat's
      // own stop of the server caused afterwards passes for the cause.
      expect(result.stderr.match(/password authentication failed/g)!.length).toBeLessThanOrEqual(2);
      expect(result.stderr).not.toMatch(/terminated by signal 3/);
      expect(result.stderr).not.toContain(rotated);
      // Not a poll until the hour-long recovery deadline: one refused login ends it.
      expect(Date.now() - started).toBeLessThan(90_000);
      expect(await readdir(folder).catch(() => "gone")).toBe("gone");
    } finally {
      await withClient(admin(), (c) => c.query(`alter role app password ${pg.escapeLiteral(appPassword)}`));
    }
  });

  it("without --data-dir, as root, recovers into .lifeboat/pitr/ of the working folder, which the cluster's OS user can pass through", async () => {
    // A checkout elsewhere, where an earlier run left .lifeboat/ private to root (0700).
    const checkout = path.join(work, "checkout");
    await mkdir(path.join(checkout, ".lifeboat"), { recursive: true, mode: 0o700 });
    await chmod(checkout, 0o755);
    await chmod(path.join(checkout, ".lifeboat"), 0o700);
    const instancePort = await findFreePort();
    // tsx finds the @/ paths through the tsconfig of its working folder; this one is elsewhere.
    const result = await cli(["pitr", "latest", "--to-new-instance", "--port", String(instancePort)], 180_000, {
      cwd: checkout,
      env: { ...env, TSX_TSCONFIG_PATH: path.join(repo, "tsconfig.json") },
    });
    expect(result.stderr).not.toMatch(/ERROR/);
    expect(result.code).toBe(0);
    const dataDir = /data directory (\S+)\.$/m.exec(result.stdout)?.[1];
    expect(dataDir, result.stdout).toMatch(new RegExp(`^${checkout}/\\.lifeboat/pitr/app-[^/]+/pgdata$`));
    try {
      const postgres = await clusterOsUser();
      for (const dir of [path.join(checkout, ".lifeboat"), path.join(checkout, ".lifeboat", "pitr")]) {
        const info = await stat(dir);
        expect(info.uid, dir).toBe(0);
        expect(info.mode & 0o777, dir).toBe(0o711);
        await expect(exec("runuser", ["-u", postgres.name, "--", "test", "-x", dir]), dir).resolves.toBeDefined();
      }
      // Traverse, never list: the folder names of other recoveries stay Lifeboat's.
      await expect(exec("runuser", ["-u", postgres.name, "--", "ls", path.join(checkout, ".lifeboat", "pitr")])).rejects.toThrow();
      expect((await stat(dataDir!)).uid).toBe(postgres.uid);
      expect(await rows({ host: "127.0.0.1", port: instancePort })).toEqual(["before-base", "precious", "after-recovery", "later"]);
    } finally {
      await new ManagedCluster({ dataDir: dataDir!, control: { method: "pg_ctl" }, logFile: path.join(path.dirname(dataDir!), "postgres.log") }).stop(
        "immediate",
      );
    }
  });

  it("a recovery whose server cannot start fails within its deadline, quoting the server's log, and leaves nothing behind", async () => {
    // Another server already holds the port the new instance is told to use.
    const blocker = net.createServer();
    const busyPort = await findFreePort();
    await new Promise<void>((resolve) => blocker.listen(busyPort, "127.0.0.1", resolve));
    try {
      const folder = path.join(work, "never");
      const started = Date.now();
      const result = await cli(["pitr", "latest", "--to-new-instance", "--data-dir", folder, "--port", String(busyPort)]);
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(/did not start/);
      expect(result.stderr).toMatch(/could not bind IPv4 address "127\.0\.0\.1": Address already in use/);
      expect(Date.now() - started).toBeLessThan(120_000);
      expect(await readdir(folder).catch(() => "gone")).toBe("gone");
    } finally {
      blocker.close();
    }
    // The target itself was never touched.
    expect(await rows()).toEqual(["before-base", "precious", "after-recovery", "later"]);
  });

  it("refuses bad arguments before planning anything [S12]", async () => {
    const result = await cli(["pitr", "latest", "--to-new-instance", "--port", "99999"]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/port: must be 1 to 65535/);
    expect(result.stdout).not.toMatch(/base backup:/);
    // A folder of someone's: never used (and so never removed) for a recovered instance.
    const occupied = path.join(work, "occupied");
    await mkdir(occupied);
    await writeFile(path.join(occupied, "notes.txt"), "mine");
    const refused = await cli(["pitr", "latest", "--to-new-instance", "--data-dir", occupied]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/is not empty; choose a new folder/);
    expect(await readdir(occupied)).toEqual(["notes.txt"]);
    const future = await cli(["pitr", new Date(Date.now() + 3_600_000).toISOString(), "--to-new-instance"]);
    expect(future.code).toBe(1);
    expect(future.stderr).toMatch(/is in the future/);
  });

  it("wal:status measures the real exposure: the commits not archived yet, from the archive itself", async () => {
    const status = async () => {
      const { stdout } = await exec(tsx, [path.join(repo, "cli", "wal-status.ts"), "--json"], { cwd: repo, env, timeout: 60_000 }).catch(
        (e: { stdout: string }) => ({ stdout: e.stdout }),
      );
      return JSON.parse(stdout) as { rpoExposureSeconds: number | null; unarchivedBytes: number | null; lastArchivedCommitAt: string | null; healthy: boolean };
    };
    const switchAndWait = async () => {
      await withClient(app("postgres"), (c) => c.query("select pg_switch_wal()"));
      for (let i = 0; i < 100 && (await status()).rpoExposureSeconds !== 0; i++) await sleep(200);
    };
    await switchAndWait();
    // Checkpoint and housekeeping records written since hold no commit: nothing is exposed.
    expect((await status()).rpoExposureSeconds).toBe(0);

    const before = Date.now();
    await withClient(app(), (c) => c.query("insert into marker (v) values ('exposed')"));
    await sleep(2500);
    // archive_timeout is an hour: that commit sits in the current segment, and wal:status says so.
    const exposed = await status();
    expect(exposed.unarchivedBytes).toBeGreaterThan(0);
    expect(exposed.rpoExposureSeconds).toBeGreaterThanOrEqual(2);
    expect(Date.parse(exposed.lastArchivedCommitAt!)).toBeLessThan(before);
    expect(exposed.healthy).toBe(true); // well inside the one-hour RPO

    await switchAndWait();
    expect((await status()).rpoExposureSeconds).toBe(0);
  });

  it("WAL streaming keeps the exposure under 5 s while pgbench writes, and saves the last commits when the server crashes", async () => {
    const stream = spawn(tsx, [path.join(repo, "cli", "wal-stream.ts")], { cwd: repo, env, stdio: ["ignore", "ignore", "pipe"] });
    let streamLog = "";
    stream.stderr.setEncoding("utf8").on("data", (c: string) => (streamLog += c));
    const status = async () =>
      JSON.parse(
        (await exec(tsx, [path.join(repo, "cli", "wal-status.ts"), "--json"], { cwd: repo, env, timeout: 60_000 }).catch((e: { stdout: string }) => e)).stdout,
      ) as {
        rpoExposureSeconds: number | null;
      };
    try {
      const streamDir = path.join(work, "backups", "app", "stream");
      for (let i = 0; i < 150 && !(await readdir(streamDir).catch(() => [] as string[])).some((n) => n.endsWith(".partial")); i++) await sleep(200);
      expect(await readdir(streamDir), streamLog).toEqual(expect.arrayContaining([expect.stringMatching(/\.partial$/)]));

      await runPgTool({ tool: "pgbench", args: ["-i", "-s", "2", "-q"], connection: app() });
      const writing = runPgTool({ tool: "pgbench", args: ["-T", "12", "-c", "2", "-n"], connection: app() });
      const exposures: (number | null)[] = [];
      await sleep(2000);
      for (let i = 0; i < 4; i++) {
        exposures.push((await status()).rpoExposureSeconds);
        await sleep(1500);
      }
      await writing;
      expect(
        exposures.every((e) => e !== null && e < 5),
        `${JSON.stringify(exposures)}\n${streamLog}`,
      ).toBe(true);

      // A crash right after a commit (archive_timeout is an hour: nothing archived it): the stream has it.
      await withClient(app(), (c) => c.query("insert into marker (v) values ('only-in-the-stream')"));
      await sleep(1500);
      await control.stop("immediate");
      const folder = path.join(work, "after-crash");
      const result = await cli(["pitr", "latest", "--to-new-instance", "--data-dir", folder, "--port", String(await findFreePort())]);
      expect(result.code, result.stderr).toBe(0);
      expect(result.stderr).toMatch(/as WAL streaming received it/);
      const port = Number(/Running on port (\d+)/.exec(result.stdout)![1]);
      expect(await rows({ host: "127.0.0.1", port })).toContain("only-in-the-stream");
      await new ManagedCluster({ dataDir: path.join(folder, "pgdata"), control: { method: "pg_ctl" }, logFile: path.join(folder, "postgres.log") }).stop(
        "immediate",
      );
    } finally {
      stream.kill("SIGTERM");
      await new Promise((r) => stream.once("close", r));
      await control.start().catch(() => undefined);
    }
  });
});
