import { constants } from "node:fs";
import { access, readdir, statfs } from "node:fs/promises";
import path from "node:path";

/** What only the database host can see: the archive backlog as files, and the data volume's free space. */
export type DataDirectorySample = { readyCount: number; dataVolumeFreeBytes: number };

/**
 * Why this process cannot act on a cluster's data directory on this host (undefined: it can): none
 * declared, not readable by this OS user, or not a PostgreSQL data directory.
 */
export async function dataDirectoryProblem(target: { name: string; dataDir: string | null; osUser: string }): Promise<string | undefined> {
  if (!target.dataDir)
    return `${target.name} declares no data directory on this host (DB_DATA_DIR for the default target, --data-dir of npm run target -- add for others)`;
  try {
    await access(path.join(target.dataDir, "pg_wal", "archive_status"), constants.R_OK | constants.X_OK);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "EACCES")
      return `${target.dataDir} (${target.name}'s data directory) cannot be read by this OS user: run as root or as the cluster's OS user (${target.osUser})`;
    return `${target.dataDir} is not a PostgreSQL data directory (${code === "ENOENT" ? "no pg_wal/archive_status in it" : (error as Error).message})`;
  }
  return undefined;
}

/** The .ready files in pg_wal/archive_status (segments the archiver has not shipped yet) and the data volume's free bytes. */
export async function sampleDataDirectory(dataDir: string): Promise<DataDirectorySample> {
  const names = await readdir(path.join(dataDir, "pg_wal", "archive_status"));
  const volume = await statfs(dataDir);
  return { readyCount: names.filter((n) => n.endsWith(".ready")).length, dataVolumeFreeBytes: volume.bavail * volume.bsize };
}
