import { execFile } from "node:child_process";
import { accessSync, constants, readdirSync } from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { childProcessEnv } from "@/lib/env";
import { LifeboatError } from "../errors";
import { parseVersionText, type PgVersion } from "./versions";

const execFileAsync = promisify(execFile);

export type PgToolName =
  | "pg_dump"
  | "pg_dumpall"
  | "pg_restore"
  | "pg_basebackup"
  | "pg_receivewal"
  | "pg_verifybackup"
  | "pg_waldump"
  | "pg_controldata"
  | "psql"
  | "pg_ctl"
  | "initdb"
  | "postgres"
  | "pgbench";

export type PgBinaryLocation = { path: string; version: PgVersion };

export class PgBinaryNotFoundError extends LifeboatError {
  constructor(tool: string, searched: string[]) {
    super(
      "PG_BINARY_NOT_FOUND",
      `${tool} was not found (looked in ${searched.length ? searched.join(", ") : "nothing"} and on PATH). ` +
        `Install the PostgreSQL tools (Debian/Ubuntu: apt-get install postgresql-15 for a server, postgresql-client-15 for clients; ` +
        `macOS: brew install postgresql@15) or set PG_BIN_DIR to the directory that holds ${tool}.`,
    );
  }
}

/** Directories that may hold PostgreSQL binaries, newest major version first. */
export function candidateBinDirs(pgBinDir?: string): string[] {
  const dirs: string[] = [];
  if (pgBinDir) dirs.push(path.resolve(pgBinDir));
  dirs.push(...versionedDirs("/usr/lib/postgresql/", (v) => `/usr/lib/postgresql/${v}/bin`));
  dirs.push(...versionedDirs("/usr/pgsql-", (v) => `/usr/pgsql-${v}/bin`));
  dirs.push(...versionedDirs("/opt/homebrew/opt/postgresql@", (v) => `/opt/homebrew/opt/postgresql@${v}/bin`));
  dirs.push(...versionedDirs("/usr/local/opt/postgresql@", (v) => `/usr/local/opt/postgresql@${v}/bin`));
  return dirs;
}

function versionedDirs(prefix: string, toDir: (version: string) => string): string[] {
  const parent = prefix.endsWith("/") ? prefix.slice(0, -1) : path.dirname(prefix);
  const namePrefix = prefix.endsWith("/") ? "" : path.basename(prefix);
  let names: string[];
  try {
    names = readdirSync(parent);
  } catch {
    return [];
  }
  return names
    .filter((name) => name.startsWith(namePrefix) && /^\d+(\.\d+)?$/.test(name.slice(namePrefix.length)))
    .map((name) => name.slice(namePrefix.length))
    .sort((a, b) => Number(b) - Number(a))
    .map(toDir);
}

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

const cache = new Map<string, PgBinaryLocation>();

/**
 * Find a PostgreSQL binary: PG_BIN_DIR first, then the standard per-version locations (newest
 * first, so a client is never needlessly older than the server), then PATH.
 */
export async function findPgBinary(tool: PgToolName, options: { pgBinDir?: string | undefined } = {}): Promise<PgBinaryLocation> {
  const key = `${options.pgBinDir ?? ""}\0${tool}`;
  const hit = cache.get(key);
  if (hit) return hit;

  const searched = candidateBinDirs(options.pgBinDir);
  // An explicit PG_BIN_DIR is a promise from the user: do not silently fall back past it.
  const dirs = options.pgBinDir ? [path.resolve(options.pgBinDir)] : [...searched, ...pathDirs()];
  for (const dir of dirs) {
    const file = path.join(dir, tool);
    if (!isExecutable(file)) continue;
    const version = await readToolVersion(file);
    const location = { path: file, version };
    cache.set(key, location);
    return location;
  }
  throw new PgBinaryNotFoundError(tool, options.pgBinDir ? [path.resolve(options.pgBinDir)] : searched);
}

function pathDirs(): string[] {
  const value = childProcessEnv().PATH;
  return value ? value.split(path.delimiter).filter(Boolean) : [];
}

export async function readToolVersion(file: string): Promise<PgVersion> {
  const { stdout } = await execFileAsync(file, ["--version"], { timeout: 10_000, env: childProcessEnv() });
  return parseVersionText(stdout);
}
