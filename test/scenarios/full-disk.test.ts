import { execFile } from "node:child_process";
import { mkdir, readdir, readFile, rm, statfs } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { desc } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runs } from "@/lib/db/schema";
import { findFreePort } from "@/lib/engine/cluster/free-port";
import { isRoot } from "@/lib/engine/cluster/os-user";
import { ManagedCluster } from "@/lib/engine/cluster/managed-cluster";
import { withClient } from "@/lib/engine/pg/server-info";
import { listBaseBackups, planPitr } from "@/lib/engine/pitr/plan-pitr";
import { pitrToNewInstance } from "@/lib/engine/pitr/run-pitr";
import { LocalRepository } from "@/lib/engine/repository/repository";
import { computeRecoverableWindow } from "@/lib/engine/wal/recoverable-window";
import { sampleArchiver } from "@/lib/engine/wal/sample-archiver";
import { createArchivingCluster, type ArchivingCluster } from "@/test/helpers/archiving-cluster";
import { createTestMetadataDb, type TestMetadataDb } from "@/test/helpers/metadata-db";

const exec = promisify(execFile);
const repo = path.resolve(import.meta.dirname, "..", "..");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const MB = 1024 * 1024;

/** A small tmpfs at `dir` (root only); `resize` changes its size in place, as freeing space would. */
async function mountSmallDisk(dir: string, size: string, options: { owner?: string; mode?: string } = {}) {
  const { owner, mode = "0700" } = options;
  await mkdir(dir, { recursive: true });
  await exec("mount", ["-t", "tmpfs", "-o", `size=${size},mode=${mode}`, "tmpfs", dir]);
  if (owner) await exec("chown", [owner, dir]);
  return {
    resize: (to: string) => exec("mount", ["-o", `remount,size=${to}`, dir]),
    free: async () => {
      const s = await statfs(dir);
      return s.bavail * s.bsize;
    },
    unmount: () => exec("umount", [dir]).catch(() => exec("umount", ["-l", dir])),
  };
}

/** Wait for `check` to hold, polling; fail after `ms`. */
async function waitFor<T>(what: string, check: () => Promise<T | undefined | false>, ms = 60_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what} after ${ms / 1000} s`);
    await sleep(250);
  }
}

describe.runIf(isRoot())("a filling disk at each step: backup, WAL archive, recovery (root: mounts small tmpfs disks)", () => {
  let ac: ArchivingCluster;
  let meta: TestMetadataDb;
  const mounts: { unmount: () => Promise<unknown> }[] = [];

  const cli = async (env: NodeJS.ProcessEnv, args: string[]) =>
    exec(path.join(repo, "node_modules", ".bin", "tsx"), [path.join(repo, "cli", "backup.ts"), ...args], { cwd: repo, env, timeout: 180_000 }).then(
      (r) => ({ code: 0, ...r }),
      (e: { code: number; stdout: string; stderr: string }) => e,
    );

  beforeAll(async () => {
    ac = await createArchivingCluster();
    meta = await createTestMetadataDb();
    await ac.sql("create table marker (id serial primary key, v text not null)");
    await ac.sql("insert into marker (v) values ('before-base')");
    await ac.archiveNow();
    await ac.backup(["base"]);
    await ac.archiveNow();
  });

  afterAll(async () => {
    for (const m of mounts.reverse()) await m.unmount();
    await ac?.remove();
    await meta?.drop();
  });

  it("a base backup that fills the repository's disk: the run fails saying so, its partial folder is removed, the earlier backup is intact; once space is back the next one succeeds untouched by hand [S14] [S27]", async () => {
    const root = path.join(ac.work, "small-repo");
    const disk = await mountSmallDisk(path.join(root, "app"), "12m");
    mounts.push(disk);
    const logDir = path.join(ac.work, "logs-base");
    const env: NodeJS.ProcessEnv = {
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
      BACKUP_DIR: root,
      LOG_DIR: logDir,
    };
    const earlier = await cli(env, ["--kinds", "schema"]);
    expect(earlier.code, earlier.stderr).toBe(0);
    const small = new LocalRepository(root, "app");
    const [schema] = (await small.list()).artifacts.map((a) => a.manifest);
    expect(schema?.kind).toBe("schema");

    const failed = await cli(env, ["--kinds", "base"]);
    expect(failed.code).toBe(1);
    expect(failed.stdout + failed.stderr).toMatch(/No space left on device|disk .*full/i);
    const [run] = await meta.db.select().from(runs).orderBy(desc(runs.id)).limit(1);
    expect(run).toMatchObject({ kind: "backup", status: "failed" });
    expect(run!.finishedAt).toBeInstanceOf(Date);
    expect(run!.error).toMatch(/No space left on device|disk .*full/i);
    const log = await readFile(path.join(logDir, "backup.log"), "utf8");
    expect(log.split("\n").filter((l) => l.includes(` run=${run!.id}`))).toEqual([expect.stringMatching(/ ERROR backup target=app status=FAILED /)]);
    // No partial base backup, no staged temp, no lock: nothing anyone has to delete by hand.
    expect(await readdir(path.join(root, "app", "base")).catch(() => [])).toEqual([]);
    expect((await readdir(path.join(root, "app"))).filter((n) => n.startsWith("."))).toEqual([]);
    expect((await small.list()).artifacts.map((a) => a.manifest.artifact)).toEqual([schema!.artifact]);
    expect(await small.verify(schema!)).toEqual({ ok: true });

    await disk.resize("256m");
    const next = await cli(env, ["--kinds", "base"]);
    expect(next.code, next.stderr).toBe(0);
    expect((await small.list()).artifacts.map((a) => a.manifest.kind).sort()).toEqual(["base", "schema"]);
  });

  /** PITR "latest" into `baseDir`; the error when it fails. */
  const recoverInto = async (baseDir: string) => {
    const plan = await planPitr({ repository: ac.repository, target: { kind: "latest" } });
    const port = await findFreePort();
    return pitrToNewInstance({ plan, repository: ac.repository, connection: ac.cluster.connection("app"), baseDir, port }).then(
      (outcome) => ({ outcome, port }),
      (e: unknown) => e as Error,
    );
  };
  const markers = async (port: number) =>
    withClient({ ...ac.cluster.connection("app"), port }, async (c) => (await c.query<{ v: string }>("select v from marker order by id")).rows);

  it("a recovery into a new instance on a disk too small for it: fails saying so, leaves nothing; with space it recovers [S27]", async () => {
    await ac.sql("insert into marker (v) values ('wanted')");
    await ac.archiveNow();
    const window = await computeRecoverableWindow({ archiveDir: ac.repository.archiveDir, baseBackups: await listBaseBackups(ac.repository) });
    expect(window.problems).toEqual([]);
    const volume = path.join(ac.work, "small-volume");
    // Like a data volume: the cluster's OS user may reach folders in it.
    const disk = await mountSmallDisk(volume, "8m", { mode: "0755" });
    mounts.push(disk);
    const instance = path.join(volume, "recovered");
    const failed = await recoverInto(instance);
    expect(failed).toBeInstanceOf(Error);
    expect((failed as Error).message).toMatch(/No space left on device|ENOSPC|disk .*full/i);
    expect(await readdir(volume)).toEqual([]);

    await disk.resize("256m");
    const done = await recoverInto(instance);
    if (done instanceof Error) throw done;
    try {
      expect(await markers(done.port)).toEqual(await markers(ac.cluster.port));
      expect((await markers(done.port)).at(-1)).toEqual({ v: "wanted" });
    } finally {
      await new ManagedCluster({ dataDir: done.outcome.dataDir, control: { method: "pg_ctl" }, logFile: path.join(instance, "postgres.log") }).stop(
        "immediate",
      );
    }
  });

  it("a recovery into an empty volume of its own (a mount point) that is too small: the error says the disk is full, and the volume stays usable [S27]", async () => {
    const volume = path.join(ac.work, "small-mount");
    const disk = await mountSmallDisk(volume, "8m", { mode: "0755" });
    mounts.push(disk);
    const failed = await recoverInto(volume);
    expect(failed).toBeInstanceOf(Error);
    expect((failed as Error).message).toMatch(/No space left on device|ENOSPC|disk .*full/i);
    expect(await readdir(volume)).toEqual([]);
  });

  it("a WAL archive on a full disk: archiving fails visibly, archive-wal leaves no partial segment, nothing is lost and the backlog drains once space is back [S6] [S27]", async () => {
    // A second archive on a small disk: the cluster's archive_command is pointed at it.
    const archiveDir = path.join(ac.work, "small-archive");
    const disk = await mountSmallDisk(archiveDir, "40m", { owner: "postgres:postgres" });
    mounts.push(disk);
    const filler = path.join(archiveDir, "filler");
    // Room for the SYSTEM_IDENTIFIER file and less than one segment.
    await exec("fallocate", ["-l", String((await disk.free()) - 8 * MB), filler]);
    await ac.cluster.query(`alter system set archive_command = '${path.join(ac.work, "archive-wal")} %p ${archiveDir} %f'`);
    await ac.cluster.query("select pg_reload_conf()");
    try {
      await ac.sql("insert into marker (v) values ('while-full')");
      const [{ f: stuck }] = (await ac.cluster.query<{ f: string }>("select pg_walfile_name(pg_switch_wal()) as f")) as [{ f: string }];
      const failing = await waitFor("the archiver to report a failure", async () => {
        const stats = await sampleArchiver(ac.cluster.adminConnection());
        return !stats.healthy && stats;
      });
      expect(failing.lastFailedWal).toBe(stuck);
      expect(failing.alert).toMatch(/archiving is failing/);
      expect(failing.readyCount).toBeGreaterThan(0);
      // Refused whole: no partial segment or temp file takes what little space is left.
      expect((await readdir(archiveDir)).filter((n) => n !== "filler" && n !== "SYSTEM_IDENTIFIER" && n !== "lost+found")).toEqual([]);

      await rm(filler);
      await ac.sql("insert into marker (v) values ('after-space')");
      await ac.cluster.query("select pg_switch_wal()");
      await waitFor("the backlog to drain", async () => {
        const stats = await sampleArchiver(ac.cluster.adminConnection());
        return stats.healthy && stats.readyCount === 0;
      });
      expect(await readdir(archiveDir)).toContain(stuck);
    } finally {
      await ac.cluster.query(`alter system set archive_command = '${path.join(ac.work, "archive-wal")} %p ${ac.repository.archiveDir} %f'`);
      await ac.cluster.query("select pg_reload_conf()");
    }
  });
});
