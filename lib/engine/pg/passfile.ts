import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { isRecordedProcessAlive } from "../process/spawn-child";
import type { PgConnection } from "./connection";

const PREFIX = "lifeboat-pass-";

/**
 * Remove passfile folders left by Lifeboat processes that died before their finally ran (SIGKILL,
 * OOM). Returns how many were removed.
 */
export async function sweepStalePassfiles(tempRoot = os.tmpdir()): Promise<number> {
  let removed = 0;
  for (const name of await readdir(tempRoot).catch(() => [] as string[])) {
    const pid = Number(/^lifeboat-pass-(\d+)-/.exec(name)?.[1]);
    if (!pid || pid === process.pid || isRecordedProcessAlive({ pid })) continue;
    await rm(path.join(tempRoot, name), { recursive: true, force: true });
    removed += 1;
  }
  return removed;
}

/** Escape a field for a .pgpass line: backslash and colon are the only special characters. */
export function escapePassfileField(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/:/g, "\\:");
}

export function passfileLine(connection: PgConnection): string {
  if (connection.password === undefined) throw new Error("passfileLine needs a password");
  // Any database: pg_dumpall and pg_restore --create also connect to `postgres`/`template1`.
  return [
    escapePassfileField(connection.host),
    String(connection.port),
    "*",
    escapePassfileField(connection.user),
    escapePassfileField(connection.password),
  ].join(":");
}

export type Passfile = { path: string; dispose: () => Promise<void> };

/**
 * Write a per-job passfile (directory 0700, file 0600) for a connection that has a password.
 * The caller sets PGPASSFILE to `path` and must call `dispose()` in a finally block.
 */
export async function createPassfile(connection: PgConnection, tempRoot = os.tmpdir()): Promise<Passfile> {
  // The pid in the name lets a later process remove what a killed one could not (sweepStalePassfiles).
  const dir = await mkdtemp(path.join(tempRoot, `${PREFIX}${process.pid}-`));
  const file = path.join(dir, "pgpass");
  await writeFile(file, `${passfileLine(connection)}\n`, { mode: 0o600, flag: "wx" });
  return {
    path: file,
    dispose: () => rm(dir, { recursive: true, force: true }),
  };
}

/** Run `fn` with a passfile when the connection has a password; always removes it afterwards. */
export async function withPassfile<T>(connection: PgConnection, fn: (passfilePath: string | undefined) => Promise<T>): Promise<T> {
  if (connection.password === undefined) return fn(undefined);
  const passfile = await createPassfile(connection);
  try {
    return await fn(passfile.path);
  } finally {
    await passfile.dispose();
  }
}
