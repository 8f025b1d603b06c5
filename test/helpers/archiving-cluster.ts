import { chmod, copyFile, mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type pg from "pg";
import { runBackupSet } from "@/lib/engine/backup/run-backup-set";
import type { BackupSettings } from "@/lib/engine/backup/types";
import { LocalCluster } from "@/lib/engine/cluster/local-cluster";
import type { ArtifactKind } from "@/lib/engine/repository/artifact-kinds";
import { LocalRepository } from "@/lib/engine/repository/repository";
import { withClient } from "@/lib/engine/pg/server-info";

const repo = path.resolve(import.meta.dirname, "..", "..");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export type ArchivingCluster = {
  work: string;
  cluster: LocalCluster;
  repository: LocalRepository;
  /** SQL in the "app" database, as the password-protected superuser over TCP. */
  sql: <R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, params?: unknown[]) => Promise<R[]>;
  /** Switch to a new segment and wait (at most 30 s) until the archiver has it. */
  archiveNow: () => Promise<void>;
  /** One backup set of the given kinds; throws when a kind failed. Returns the artifact names. */
  backup: (kinds: ArtifactKind[], settings?: Partial<BackupSettings>) => Promise<string[]>;
  remove: () => Promise<void>;
};

export const TEST_BACKUP_SETTINGS: BackupSettings = {
  compressionLevel: 6,
  dumpJobs: 1,
  recipients: [],
  encryptAll: false,
  environment: { files: [], baseDir: repo, rolePasswords: false },
  lockTimeoutSeconds: 30,
};

/**
 * A throwaway cluster archiving its WAL into a repository's archive with bin/archive-wal (copied
 * into the work folder: the server runs archive_command as its own OS user), with an "app"
 * database. `archiveDir` puts the archive elsewhere (a small tmpfs, say).
 */
export async function createArchivingCluster(options: { archiveDir?: string; backupRoot?: string } = {}): Promise<ArchivingCluster> {
  const work = await mkdtemp(path.join(os.tmpdir(), "lifeboat-scenario-"));
  await chmod(work, 0o755);
  const archiveWal = path.join(work, "archive-wal");
  await copyFile(path.join(repo, "bin", "archive-wal"), archiveWal);
  await chmod(archiveWal, 0o755);
  const repository = new LocalRepository(options.backupRoot ?? path.join(work, "backups"), "app", { archiveDir: options.archiveDir });
  await repository.prepareArchive();
  const cluster = await LocalCluster.open({
    baseDir: path.join(work, "cluster"),
    password: "scenario-super-pw",
    walLevel: "replica",
    archiveMode: "on",
    archiveCommand: `'${archiveWal}' %p '${repository.archiveDir}' %f`,
  });
  await cluster.start();
  await cluster.query("create database app");
  const sql = async <R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, params: unknown[] = []) =>
    withClient(cluster.connection("app"), async (c) => (await c.query<R>(text, params)).rows);
  const archiveNow = async () => {
    const [row] = await cluster.query<{ f: string }>("select pg_walfile_name(pg_switch_wal()) as f");
    const wanted = row!.f;
    for (let i = 0; i < 150; i++) {
      const [stats] = await cluster.query<{ w: string | null }>("select last_archived_wal as w from pg_stat_archiver");
      if (stats?.w && stats.w.slice(8) >= wanted.slice(8)) return;
      await sleep(200);
    }
    throw new Error(`segment ${wanted} was not archived within 30 s`);
  };
  let clock = Date.now();
  const backup = async (kinds: ArtifactKind[], settings: Partial<BackupSettings> = {}) => {
    const set = await runBackupSet({
      target: { name: "app", connection: cluster.connection("app") },
      repository,
      kinds,
      settings: { ...TEST_BACKUP_SETTINGS, ...settings },
      // Distinct, increasing timestamps however fast the sets follow each other.
      now: () => new Date((clock = Math.max(clock + 1000, Date.now()))),
    });
    const failed = set.artifacts.filter((a) => !a.ok);
    if (failed.length) throw new Error(`backup failed: ${JSON.stringify(failed)}`);
    return set.artifacts.map((a) => (a.ok ? a.file : ""));
  };
  return {
    work,
    cluster,
    repository,
    sql,
    archiveNow,
    backup,
    remove: async () => {
      await cluster.remove().catch(() => undefined);
      await rm(work, { recursive: true, force: true });
    },
  };
}
