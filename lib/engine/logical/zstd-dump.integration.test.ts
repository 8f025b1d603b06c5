import { execFile } from "node:child_process";
import { chmod, mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseEnv } from "@/lib/env";
import { backupSettings } from "@/lib/operations/settings";
import { createTestTarget, type TestTarget } from "@/test/helpers/target";
import { runBackupSet } from "../backup/run-backup-set";
import type { BackupSettings } from "../backup/types";
import { generateKeyPair } from "../crypto/age";
import { LocalRepository } from "../repository/repository";
import { drillLogical } from "../verify/run-drill";
import { restoreFullBackup } from "./restore-full";

const exec = promisify(execFile);
const repo = path.resolve(import.meta.dirname, "..", "..", "..");

describe("full dumps streamed through zstd (issue 12: the default full dump)", () => {
  let target: TestTarget;
  let work: string;
  let repository: LocalRepository;
  let keys: { identity: string; recipient: string };
  let clock = Date.parse("2026-02-01T02:00:00Z");
  const settings = (extra: Partial<BackupSettings> = {}): BackupSettings => ({
    compressionLevel: 6,
    dumpJobs: 1,
    dumpCompression: "zstd",
    recipients: [],
    encryptAll: false,
    environment: { files: [], baseDir: repo, rolePasswords: false },
    lockTimeoutSeconds: 30,
    ...extra,
  });
  const full = async (extra: Partial<BackupSettings> = {}) => {
    const set = await runBackupSet({
      target: { name: "app", connection: target.connection },
      repository,
      kinds: ["full"],
      settings: settings(extra),
      now: () => new Date((clock += 60_000)),
    });
    const result = set.artifacts[0]!;
    if (!result.ok) throw new Error(result.error);
    return result;
  };

  beforeAll(async () => {
    target = await createTestTarget({ seed: true });
    work = await mkdtemp(path.join(os.tmpdir(), "lifeboat-zstd-dump-"));
    await chmod(work, 0o755);
    repository = new LocalRepository(path.join(work, "backups"), "app");
    keys = await generateKeyPair();
  });

  afterAll(async () => {
    await target?.remove();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it("is the configured default; pg_dump's own gzip can still be chosen", () => {
    const env = (extra: Record<string, string> = {}) => parseEnv({ DATABASE_URL: "postgres://u:p@127.0.0.1:5432/m", ...extra });
    expect(backupSettings(env()).dumpCompression).toBe("zstd");
    expect(backupSettings(env({ LIFEBOAT_DUMP_COMPRESSOR: "pg_dump" })).dumpCompression).toBe("pg_dump");
    expect(() => env({ LIFEBOAT_DUMP_COMPRESSOR: "xz" })).toThrow(/LIFEBOAT_DUMP_COMPRESSOR/);
  });

  it("writes full_backup_<time>.dump.zst that the standard tools read, and restores it with every row", async () => {
    const result = await full();
    expect(result.file).toMatch(/^full_backup_.*\.dump\.zst$/);
    expect(result.manifest.compression).toMatch(/^zstd/);
    const file = path.join(repository.dir, result.file);
    const listing = await exec("sh", ["-c", `zstd -dcq '${file}' | pg_restore -l`], { maxBuffer: 16 * 1024 * 1024 });
    expect(listing.stdout).toMatch(/TABLE DATA public/);

    const before = await target.fingerprint();
    const restored = await restoreFullBackup({ repository, connection: target.connection, fileName: result.file, intoDatabase: "from_zstd" });
    expect(restored.rowCounts.length).toBeGreaterThan(0);
    expect(restored.rowCounts.filter((r) => !r.ok)).toEqual([]);
    expect(await target.fingerprint("from_zstd")).toEqual(before);
  }, 120_000);

  it("encrypted: full_backup_<time>.dump.zst.age, restored and drilled with the identity", async () => {
    const result = await full({ recipients: [keys.recipient], encryptAll: true });
    expect(result.file).toMatch(/\.dump\.zst\.age$/);
    const restored = await restoreFullBackup({
      repository,
      connection: target.connection,
      fileName: result.file,
      intoDatabase: "from_zstd_age",
      identities: [keys.identity],
    });
    expect(restored.rowCounts.filter((r) => !r.ok)).toEqual([]);
    expect(await target.fingerprint("from_zstd_age")).toEqual(await target.fingerprint());
    const drill = await drillLogical({ repository, fileName: result.file, identities: [keys.identity] });
    expect(drill.ok).toBe(true);
  }, 180_000);

  it("a damaged zstd dump is refused before anything is restored", async () => {
    const result = await full();
    const file = path.join(repository.dir, result.file);
    await exec("sh", ["-c", `printf 'damage' | dd of='${file}' bs=1 seek=100 conv=notrunc status=none`]);
    await expect(restoreFullBackup({ repository, connection: target.connection, fileName: result.file, intoDatabase: "never_made" })).rejects.toThrow();
    const dbs = await target.cluster.query<{ datname: string }>("select datname from pg_database where datname = 'never_made'");
    expect(dbs).toEqual([]);
  }, 60_000);
});
