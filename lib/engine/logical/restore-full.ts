import { createReadStream } from "node:fs";
import path from "node:path";
import pg from "pg";
import { decryptStream } from "../crypto/age";
import type { PgConnection } from "../pg/connection";
import { preflightClientTool } from "../pg/preflight";
import { runPgTool } from "../pg/run-pg-tool";
import { withClient } from "../pg/server-info";
import { readManifest, verifyAgainstManifest, type Manifest } from "../repository/manifest";
import { resolveArtifactPath } from "../repository/paths";
import { acquireTargetLock } from "../repository/target-lock";
import { conninfoValue, countRows, listTables } from "./catalog-queries";

export class RestoreRefusedError extends Error {
  readonly code = "RESTORE_REFUSED";
  constructor(message: string) {
    super(message);
    this.name = "RestoreRefusedError";
  }
}

export type RowCountCheck = { table: string; expected: number | undefined; actual: number | undefined; ok: boolean };

export type RestoreFullResult = {
  file: string;
  database: string;
  createdDatabase: boolean;
  rowCounts: RowCountCheck[];
  durationMs: number;
};

export type RestoreFullOptions = {
  targetName: string;
  targetDir: string;
  /** The target's connection; its database is replaced unless `intoDatabase` is given. */
  connection: PgConnection;
  fileName: string;
  /** Restore into this new database (created; refused if it exists) instead of the target's. */
  intoDatabase?: string | undefined;
  pgBinDir?: string | undefined;
  identities?: string[] | undefined;
  /** pg_restore jobs for directory-format dumps restored into a new database. */
  jobs?: number | undefined;
  signal?: AbortSignal | undefined;
  onPhase?: ((phase: string) => void) | undefined;
};

const KIND_NAMES: Record<Manifest["kind"], string> = {
  full: "a full dump",
  schema: "a schema dump",
  json: "a JSON export",
  env: "an environment backup",
  base: "a base backup",
};

/**
 * Before any restore: resolve the user's file name inside the repository, read its manifest,
 * check it is the kind this restore expects, and verify every file's size and sha256.
 */
export async function checkArtifact(targetDir: string, fileName: string, kind: Manifest["kind"]): Promise<{ path: string; manifest: Manifest }> {
  const file = await resolveArtifactPath(targetDir, fileName);
  const artifact = path.basename(file);
  const manifest = await readManifest(targetDir, artifact);
  if (manifest.kind !== kind)
    throw new RestoreRefusedError(`${artifact} is ${KIND_NAMES[manifest.kind]}, not ${KIND_NAMES[kind]} (use the matching restore command).`);
  const verified = await verifyAgainstManifest(targetDir, manifest);
  if (!verified.ok) throw new RestoreRefusedError(`${artifact} is damaged and was not restored: ${verified.problems.join("; ")}`);
  return { path: file, manifest };
}

/**
 * Restore a full dump: checksums first (a damaged file is refused before anything changes), then
 * pg_restore in a single transaction with --exit-on-error, so any error leaves the database as it
 * was. Afterwards every table's row count is compared with the manifest; a mismatch fails.
 */
export async function restoreFullBackup(options: RestoreFullOptions): Promise<RestoreFullResult> {
  const started = Date.now();
  options.onPhase?.("verifying checksums");
  const { path: file, manifest } = await checkArtifact(options.targetDir, options.fileName, "full");
  const lock = await acquireTargetLock(options.targetDir, options.targetName, "restore");
  try {
    await preflightClientTool("pg_restore", options.connection, { pgBinDir: options.pgBinDir });
    const database = options.intoDatabase ?? options.connection.database;
    let createdDatabase = false;
    if (options.intoDatabase !== undefined) {
      options.onPhase?.("creating database");
      createdDatabase = await createEmptyDatabase(options.connection, options.intoDatabase);
    }
    const connection = { ...options.connection, database };
    const args = ["--exit-on-error", "--no-password", `--dbname=dbname=${conninfoValue(database)}`];
    // Parallel jobs cannot share one transaction; they are used only on a database created for
    // this restore, which is dropped again if anything fails. Over existing data: one transaction.
    const parallel = file.endsWith(".dir") && createdDatabase && (options.jobs ?? 1) > 1;
    args.push(parallel ? `--jobs=${options.jobs}` : "--single-transaction");
    if (!createdDatabase) args.push("--clean", "--if-exists");

    options.onPhase?.("restoring");
    try {
      if (manifest.encryption) {
        const plain = await decryptStream(createReadStream(file), options.identities ?? []);
        await runPgTool({ tool: "pg_restore", args, connection, pgBinDir: options.pgBinDir, signal: options.signal, stdinStream: plain });
      } else {
        await runPgTool({ tool: "pg_restore", args: [...args, file], connection, pgBinDir: options.pgBinDir, signal: options.signal });
      }
    } catch (error) {
      // A database we created for this restore and that holds nothing useful is removed again.
      if (createdDatabase) await dropDatabase(options.connection, database).catch(() => {});
      throw error;
    }

    options.onPhase?.("counting rows");
    const rowCounts = await compareRowCounts(connection, manifest.tableRowCounts ?? {});
    return { file: path.basename(file), database, createdDatabase, rowCounts, durationMs: Date.now() - started };
  } finally {
    await lock.release();
  }
}

export async function compareRowCounts(connection: PgConnection, expected: Record<string, number>): Promise<RowCountCheck[]> {
  const actual = await withClient(connection, async (client) => countRows(client, await listTables(client)));
  const names = [...new Set([...Object.keys(expected), ...Object.keys(actual)])].sort();
  return names
    .filter((name) => name in expected)
    .map((table) => ({ table, expected: expected[table], actual: actual[table], ok: expected[table] === actual[table] }));
}

async function createEmptyDatabase(connection: PgConnection, name: string): Promise<boolean> {
  return withClient(connection, async (client) => {
    const { rowCount } = await client.query("select 1 from pg_database where datname = $1", [name]);
    if (rowCount) throw new RestoreRefusedError(`Database ${JSON.stringify(name)} already exists; --into needs a new name (nothing was changed).`);
    await client.query(`create database ${pg.escapeIdentifier(name)}`);
    return true;
  });
}

async function dropDatabase(connection: PgConnection, name: string): Promise<void> {
  await withClient(connection, (client) => client.query(`drop database if exists ${pg.escapeIdentifier(name)}`));
}
