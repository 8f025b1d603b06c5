import path from "node:path";
import pg from "pg";
import { LifeboatError, RestoreRefusedError } from "../errors";
import type { PgConnection } from "../pg/connection";
import { preflightClientTool } from "../pg/preflight";
import { runPgTool } from "../pg/run-pg-tool";
import { withClient } from "../pg/server-info";
import type { Repository } from "../repository/repository";
import type { Journal } from "../repository/target-lock";
import { conninfoValue, countRows, listTables } from "./catalog-queries";
import { openDumpStream } from "./zstd-stream";

export type RowCountCheck = { table: string; expected: number | undefined; actual: number | undefined; ok: boolean };

export type RestoreFullResult = {
  file: string;
  database: string;
  createdDatabase: boolean;
  rowCounts: RowCountCheck[];
  /** Whether the manifest held row counts to check against (every manifest Lifeboat writes does). */
  checked: boolean;
  durationMs: number;
};

export type RestoreFullOptions = {
  repository: Repository;
  /** The target's connection; its database is replaced unless `intoDatabase` is given. */
  connection: PgConnection;
  fileName: string;
  /** Restore into this new database (created; refused if it exists) instead of the target's. */
  intoDatabase?: string | undefined;
  pgBinDir?: string | undefined;
  identities?: string[] | undefined;
  /** pg_restore jobs for directory-format dumps restored into a new database. */
  jobs?: number | undefined;
  /** Give up after waiting this long for a lock the application holds. */
  lockTimeoutSeconds?: number | undefined;
  signal?: AbortSignal | undefined;
  journal?: Journal | undefined;
  onPhase?: ((phase: string) => void) | undefined;
};

/**
 * Restore a full dump: checksums first (a damaged file is refused before anything changes), then
 * pg_restore in a single transaction with --exit-on-error, so any error leaves the database as it
 * was. Afterwards every table's row count is compared with the manifest (the caller fails the
 * run on any mismatch). The caller holds the target's lock.
 */
export async function restoreFullBackup(options: RestoreFullOptions): Promise<RestoreFullResult> {
  const started = Date.now();
  options.onPhase?.("verifying checksums");
  const { path: file, manifest } = await options.repository.checkForRestore(options.fileName, "full");
  await preflightClientTool("pg_restore", options.connection, { pgBinDir: options.pgBinDir });
  const database = options.intoDatabase ?? options.connection.database;
  const connection = { ...options.connection, database };
  let createdDatabase = false;
  let journalId: string | undefined;
  if (options.intoDatabase !== undefined) {
    options.onPhase?.("creating database");
    await assertCanCreateDatabase(options.connection, options.intoDatabase);
    // If Lifeboat dies from here on, whoever takes the lock next drops the half-restored database.
    journalId = await options.journal?.record({ action: "drop-database", database: options.intoDatabase });
    await createEmptyDatabase(options.connection, options.intoDatabase);
    createdDatabase = true;
  }
  const args = ["--exit-on-error", "--no-password", `--dbname=dbname=${conninfoValue(database)}`];
  // Parallel jobs cannot share one transaction; they are used only on a database created for
  // this restore, which is dropped again if anything fails. Over existing data: one transaction.
  const parallel = file.endsWith(".dir") && createdDatabase && (options.jobs ?? 1) > 1;
  args.push(parallel ? `--jobs=${options.jobs}` : "--single-transaction");
  if (!createdDatabase) args.push("--clean", "--if-exists");

  options.onPhase?.("restoring");
  const appName = `lifeboat restore ${process.pid}-${Date.now()}`;
  const lockTimeout = options.lockTimeoutSeconds ?? 300;
  const toolEnv = { PGAPPNAME: appName };
  const watchdog = lockWaitWatchdog(options.connection, appName, { timeoutSeconds: lockTimeout, report: (message) => options.onPhase?.(message) });
  try {
    // Encrypted and/or zstd-compressed dumps reach pg_restore on stdin, never decrypted on disk.
    const opened = await openDumpStream(file, { encrypted: manifest.encryption !== null, identities: options.identities ?? [], signal: options.signal });
    if (opened) {
      await Promise.all([
        runPgTool({ tool: "pg_restore", args, connection, pgBinDir: options.pgBinDir, signal: options.signal, stdinStream: opened.stream, env: toolEnv }),
        opened.done,
      ]);
    } else {
      await runPgTool({ tool: "pg_restore", args: [...args, file], connection, pgBinDir: options.pgBinDir, signal: options.signal, env: toolEnv });
    }
  } catch (error) {
    // A database we created for this restore holds nothing useful: remove it again.
    // (If the drop fails, the journal entry stays and the next operation retries it.)
    const dropped =
      createdDatabase &&
      (await dropDatabase(options.connection, database).then(
        () => true,
        () => false,
      ));
    if (dropped && journalId) await options.journal?.resolve(journalId);
    if (watchdog.timedOut()) {
      throw new LifeboatError(
        "LOCK_TIMEOUT",
        `The restore waited ${lockTimeout} s for tables the application holds locked and gave up; nothing was changed. Stop the application (or its long transaction) and try again.`,
        { stderr: (error as { stderr?: string }).stderr },
        { cause: error },
      );
    }
    throw error;
  } finally {
    watchdog.stop();
  }
  if (journalId) await options.journal?.resolve(journalId);

  options.onPhase?.("counting rows");
  const rowCounts = await compareRowCounts(connection, manifest.tableRowCounts ?? {});
  return { file: path.basename(file), database, createdDatabase, rowCounts, checked: manifest.tableRowCounts !== undefined, durationMs: Date.now() - started };
}

export async function compareRowCounts(connection: PgConnection, expected: Record<string, number>): Promise<RowCountCheck[]> {
  const actual = await withClient(connection, async (client) => countRows(client, await listTables(client)));
  return Object.keys(expected)
    .sort()
    .map((table) => ({ table, expected: expected[table], actual: actual[table], ok: expected[table] === actual[table] }));
}

/** --into needs a new name and the CREATEDB privilege; say which is missing before anything runs. */
async function assertCanCreateDatabase(connection: PgConnection, name: string): Promise<void> {
  await withClient(connection, async (client) => {
    const { rowCount } = await client.query("select 1 from pg_database where datname = $1", [name]);
    if (rowCount) throw new RestoreRefusedError(`Database ${JSON.stringify(name)} already exists; --into needs a new name (nothing was changed).`);
    const { rows } = await client.query<{ ok: boolean }>("select rolcreatedb or rolsuper as ok from pg_roles where rolname = current_user");
    if (!rows[0]?.ok) {
      throw new RestoreRefusedError(
        `${connection.user} may not create databases, so --into cannot make ${JSON.stringify(name)}. Grant it (ALTER ROLE ${pg.escapeIdentifier(connection.user)} CREATEDB) or create the database yourself and restore into it as the target.`,
      );
    }
  });
}

/** Marks a database a restore created, so an undo never drops one it did not make. */
export const CREATED_BY_LIFEBOAT = "lifeboat: created for a restore";

async function createEmptyDatabase(connection: PgConnection, name: string): Promise<void> {
  await withClient(connection, async (client) => {
    await client.query(`create database ${pg.escapeIdentifier(name)}`);
    await client.query(`comment on database ${pg.escapeIdentifier(name)} is ${pg.escapeLiteral(CREATED_BY_LIFEBOAT)}`);
  });
}

/** Whether a database carries the mark of one a restore created. */
export async function isCreatedByLifeboat(connection: PgConnection, name: string): Promise<boolean> {
  return withClient(connection, async (client) => {
    const { rows } = await client.query<{ c: string | null }>("select shobj_description(oid, 'pg_database') as c from pg_database where datname = $1", [name]);
    return rows[0]?.c === CREATED_BY_LIFEBOAT;
  });
}

export async function dropDatabase(connection: PgConnection, name: string): Promise<void> {
  await withClient(connection, (client) => client.query(`drop database if exists ${pg.escapeIdentifier(name)} with (force)`));
}

/**
 * While a tool runs, watch its sessions (by application_name) for lock waits: report who holds the
 * lock, and cancel the wait once it has lasted `timeoutSeconds`. A server-side lock_timeout cannot
 * do this: every pg_dump archive begins with `SET lock_timeout = 0`. Never reports their SQL.
 */
export function lockWaitWatchdog(
  connection: PgConnection,
  applicationName: string,
  options: { timeoutSeconds: number; report: (message: string) => void },
): { stop: () => void; timedOut: () => boolean } {
  let stopped = false;
  let timedOut = false;
  let lastReport = 0;
  const waitingSince = new Map<number, number>();
  const tick = () =>
    withClient(connection, async (client) => {
      const { rows } = await client.query<{ pid: number; blockers: number[] | null }>(
        "select pid, pg_blocking_pids(pid) as blockers from pg_stat_activity where application_name = $1 and wait_event_type = 'Lock'",
        [applicationName],
      );
      const now = Date.now();
      for (const pid of [...waitingSince.keys()]) if (!rows.some((r) => r.pid === pid)) waitingSince.delete(pid);
      for (const row of rows) {
        const since = waitingSince.get(row.pid) ?? now;
        waitingSince.set(row.pid, since);
        if (now - since >= options.timeoutSeconds * 1000) {
          timedOut = true;
          await client.query("select pg_cancel_backend($1)", [row.pid]);
        }
      }
      const blockers = [...new Set(rows.flatMap((r) => r.blockers ?? []))];
      if (!stopped && blockers.length && now - lastReport >= 5_000) {
        lastReport = now;
        options.report(`waiting for locks held by server process ${blockers.join(", ")} (the application?)`);
      }
    }).catch(() => undefined); // a missed poll is retried a second later
  const timer = setInterval(() => void tick(), 1_000);
  return {
    stop: () => {
      stopped = true;
      clearInterval(timer);
    },
    timedOut: () => timedOut,
  };
}
