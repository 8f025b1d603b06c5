import { createHash, randomBytes } from "node:crypto";
import { createReadStream } from "node:fs";
import { chmod, link, lstat, mkdir, open, readdir, rename, rm, stat, unlink, writeFile } from "node:fs/promises";
import path from "node:path";
import { pipeline } from "node:stream/promises";
import { LifeboatError } from "../errors";

/** Folders 0700, files 0600: backups hold every row of the database. */
export const DIR_MODE = 0o700;
export const FILE_MODE = 0o600;

/**
 * Create a folder 0700, or take read and write away from group and others on an existing one. A
 * traverse bit (0711) is kept: the cluster's OS user passes through to the archive that way.
 */
export async function ensureDir(dir: string): Promise<string> {
  await mkdir(dir, { recursive: true, mode: DIR_MODE });
  const mode = (await stat(dir)).mode & 0o777;
  if (mode & 0o066 || !(mode & 0o700)) await chmod(dir, DIR_MODE | (mode & 0o011));
  return dir;
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

export class AlreadyExistsError extends LifeboatError {
  constructor(name: string) {
    super("ALREADY_EXISTS", `${name} already exists in the repository; nothing was overwritten.`);
  }
}

/**
 * fsync the temp file, move it into place and fsync the folder, so the name and bytes survive a
 * crash. Never overwrites: link() fails if the final name exists (two backups in one second, a
 * replayed commit), and only then is the temp name removed.
 */
export async function commitFile(temp: string, final: string): Promise<void> {
  await chmod(temp, FILE_MODE);
  await fsyncPath(temp);
  try {
    await link(temp, final);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST") throw new AlreadyExistsError(path.basename(final));
    throw error;
  }
  await unlink(temp);
  await fsyncPath(path.dirname(final));
}

/** Overwrite a small bookkeeping file (RESTORE.md, the lock) atomically: temp, fsync, rename. */
export async function replaceFile(final: string, content: string): Promise<void> {
  const temp = tempPath(path.dirname(final), path.basename(final));
  try {
    await writeFile(temp, content, { mode: FILE_MODE, flag: "wx" });
    await fsyncPath(temp);
    await rename(temp, final);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
}

/** commitFile for a folder (pg_dump's directory format, base backups): fsync every file, rename, fsync the parent. */
export async function commitDirectory(temp: string, final: string): Promise<void> {
  await chmod(temp, DIR_MODE);
  await fsyncTree(temp);
  // rename() would replace an empty folder of the same name: refuse any existing name instead.
  if (
    await lstat(final).then(
      () => true,
      () => false,
    )
  )
    throw new AlreadyExistsError(path.basename(final));
  await rename(temp, final);
  await fsyncPath(path.dirname(final));
}

async function fsyncTree(dir: string): Promise<void> {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) await fsyncTree(full);
    else if (entry.isFile()) await fsyncPath(full);
  }
  await fsyncPath(dir);
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
