import { createHash, randomBytes } from "node:crypto";
import { createReadStream } from "node:fs";
import { chmod, mkdir, open, readdir, rename, rm, stat } from "node:fs/promises";
import path from "node:path";
import { pipeline } from "node:stream/promises";

/** Folders 0700, files 0600: backups hold every row of the database. */
export const DIR_MODE = 0o700;
export const FILE_MODE = 0o600;

export async function ensureDir(dir: string): Promise<string> {
  await mkdir(dir, { recursive: true, mode: DIR_MODE });
  await chmod(dir, DIR_MODE);
  return dir;
}

/** The target's folder in the repository, created 0700. */
export function ensureTargetDir(backupRoot: string, targetName: string): Promise<string> {
  if (!/^[a-z0-9][a-z0-9_-]{0,62}$/.test(targetName)) throw new Error(`Not a valid target name: ${JSON.stringify(targetName)}`);
  return ensureDir(path.join(path.resolve(backupRoot), targetName));
}

export const TEMP_PREFIX = ".tmp-";

/** A temporary name beside `finalName`: hidden, so nothing lists it as a backup. */
export function tempPath(dir: string, finalName: string): string {
  return path.join(dir, `${TEMP_PREFIX}${randomBytes(4).toString("hex")}-${finalName}`);
}

export async function fsyncPath(file: string): Promise<void> {
  const handle = await open(file, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** fsync the temp file, rename it into place and fsync the folder, so the name and bytes survive a crash. */
export async function commitFile(temp: string, final: string): Promise<void> {
  await chmod(temp, FILE_MODE);
  await fsyncPath(temp);
  await rename(temp, final);
  await fsyncPath(path.dirname(final));
}

/** commitFile for a folder (pg_dump's directory format): fsync every file, rename, fsync the parent. */
export async function commitDirectory(temp: string, final: string): Promise<void> {
  await chmod(temp, DIR_MODE);
  for (const entry of await readdir(temp, { withFileTypes: true })) {
    if (!entry.isFile()) continue;
    await chmod(path.join(temp, entry.name), FILE_MODE);
    await fsyncPath(path.join(temp, entry.name));
  }
  await fsyncPath(temp);
  await rename(temp, final);
  await fsyncPath(path.dirname(final));
}

/** Remove temporary files left by an interrupted backup (call only while holding the target lock). */
export async function removeStaleTemps(dir: string): Promise<string[]> {
  const names = await readdir(dir).catch(() => [] as string[]);
  const stale = names.filter((name) => name.startsWith(TEMP_PREFIX));
  await Promise.all(stale.map((name) => rm(path.join(dir, name), { recursive: true, force: true })));
  return stale;
}

export async function sha256File(file: string): Promise<string> {
  const hash = createHash("sha256");
  await pipeline(createReadStream(file), hash);
  return hash.digest("hex");
}

export async function fileSize(file: string): Promise<number> {
  return (await stat(file)).size;
}
