import { chmod, copyFile, mkdtemp, readdir, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseEnv } from "@/lib/env";
import { backupSettings } from "@/lib/operations/settings";
import { runBackupSet } from "../backup/run-backup-set";
import type { BackupSettings } from "../backup/types";
import { findFreePort } from "../cluster/free-port";
import { LocalCluster } from "../cluster/local-cluster";
import { withClient } from "../pg/server-info";
import { planPitr } from "../pitr/plan-pitr";
import { parseRecoveryTarget } from "../pitr/recovery-target";
import { pitrToNewInstance } from "../pitr/run-pitr";
import { LocalRepository } from "../repository/repository";

const repo = path.resolve(import.meta.dirname, "..", "..", "..");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("compressed base backups (issue 12: the default base backup is zstd-compressed by the server)", () => {
  let work: string;
  let cluster: LocalCluster;
  let repository: LocalRepository;
  const settings = (extra: Partial<BackupSettings>): BackupSettings => ({
    compressionLevel: 6,
    dumpJobs: 1,
    recipients: [],
    encryptAll: false,
    environment: { files: [], baseDir: repo, rolePasswords: false },
    lockTimeoutSeconds: 30,
    ...extra,
  });
  const backup = async (extra: Partial<BackupSettings>) => {
    const set = await runBackupSet({ target: { name: "app", connection: cluster.connection("app") }, repository, kinds: ["base"], settings: settings(extra) });
    const result = set.artifacts[0]!;
    if (!result.ok) throw new Error(result.error);
    return result;
  };
  const archiveNow = async () => {
    const [{ f }] = (await cluster.query<{ f: string }>("select pg_walfile_name(pg_switch_wal()) as f")) as [{ f: string }];
    for (let i = 0; i < 150; i++) {
      const [row] = await cluster.query<{ w: string | null }>("select last_archived_wal as w from pg_stat_archiver");
      if (row?.w && row.w.slice(8) >= f.slice(8)) return;
      await sleep(200);
    }
    throw new Error(`segment ${f} was not archived`);
  };

  beforeAll(async () => {
    work = await mkdtemp(path.join(os.tmpdir(), "lifeboat-basez-"));
    await chmod(work, 0o755);
    const archiveWal = path.join(work, "archive-wal");
    await copyFile(path.join(repo, "bin", "archive-wal"), archiveWal);
    await chmod(archiveWal, 0o755);
    repository = new LocalRepository(path.join(work, "backups"), "app");
    await repository.prepareArchive();
    cluster = await LocalCluster.open({
      baseDir: path.join(work, "cluster"),
      password: "basez-super-pw",
      walLevel: "replica",
      archiveMode: "on",
      archiveCommand: `'${archiveWal}' %p '${repository.archiveDir}' %f`,
    });
    await cluster.start();
    await cluster.query("create database app");
    await cluster.query("create table t (id int primary key, v text)", [], "app");
    await cluster.query("insert into t select g, repeat('row ' || g, 20) from generate_series(1, 20000) g", [], "app");
    await archiveNow();
  });

  afterAll(async () => {
    await cluster?.remove();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it("is the configured default, and none/lz4 can be chosen", () => {
    const env = (extra: Record<string, string> = {}) => parseEnv({ DATABASE_URL: "postgres://u:p@127.0.0.1:5432/m", ...extra });
    expect(backupSettings(env()).baseCompression).toBe("zstd");
    expect(backupSettings(env({ LIFEBOAT_BASE_COMPRESSION: "none" })).baseCompression).toBe("none");
    expect(backupSettings(env({ LIFEBOAT_BASE_COMPRESSION: "lz4" })).baseCompression).toBe("lz4");
    expect(() => env({ LIFEBOAT_BASE_COMPRESSION: "gzip" })).toThrow(/LIFEBOAT_BASE_COMPRESSION/);
  });

  it("writes a zstd tar several times smaller than the plain copy, every file checksummed, and PITR recovers from it", async () => {
    const plain = await backup({ baseCompression: "none" });
    const zstd = await backup({ baseCompression: "zstd" });
    expect(zstd.manifest.compression).toMatch(/^zstd/);
    expect((await readdir(path.join(repository.dir, zstd.file))).sort()).toEqual(["backup_manifest", "base.tar.zst", "pg_wal.tar.zst"]);
    expect(zstd.manifest.files.map((f) => path.basename(f.name)).sort()).toEqual(["backup_manifest", "base.tar.zst", "pg_wal.tar.zst"]);
    expect(zstd.manifest.sizeBytes * 3).toBeLessThan(plain.manifest.sizeBytes);
    expect(zstd.manifest.walStartLsn).toBeTruthy();
    expect(zstd.manifest.walStopLsn).toBeTruthy();

    await cluster.query("insert into t values (100001, 'after the compressed base backup')", [], "app");
    await archiveNow();
    const plan = await planPitr({ repository, target: parseRecoveryTarget({ latest: true }, "UTC") });
    expect(plan.base.artifact).toBe(zstd.file);
    const baseDir = path.join(work, "recovered");
    await pitrToNewInstance({ plan, repository, connection: cluster.connection("app"), baseDir, port: await findFreePort() });
    const instance = (await LocalCluster.existing({ baseDir }))!;
    try {
      const rows = await withClient(instance.adminConnection("app"), async (c) => (await c.query<{ n: number }>("select count(*)::int as n from t")).rows);
      expect(rows[0]!.n).toBe(20001);
    } finally {
      await instance.remove();
    }
  }, 180_000);

  it("a damaged compressed base backup is refused by the plan, before anything is laid down", async () => {
    const zstd = await backup({ baseCompression: "zstd" });
    const file = path.join(repository.dir, zstd.file, "base.tar.zst");
    const { open } = await import("node:fs/promises");
    const handle = await open(file, "r+");
    await handle.write(Buffer.from("damage"), 0, 6, 4096);
    await handle.close();
    await expect(planPitr({ repository, target: parseRecoveryTarget({ latest: true }, "UTC") })).rejects.toThrow(/damaged/);
  }, 120_000);
});
