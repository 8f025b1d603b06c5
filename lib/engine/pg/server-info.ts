import pg from "pg";
import { redactSecrets, type PgConnection } from "./connection";
import { parseServerVersionNum, type PgVersion } from "./versions";

export type ServerInfo = {
  version: PgVersion;
  /** `version()`, e.g. "PostgreSQL 15.20 (Debian 15.20-0+deb12u1) on x86_64-pc-linux-gnu ..." */
  versionString: string;
  inRecovery: boolean;
  walLevel: string;
  archiveMode: string;
  databaseSizeBytes: number;
  systemIdentifier: string;
};

/** Open a short-lived client; the password stays in memory (node-postgres never puts it in argv or env). */
export async function withClient<T>(connection: PgConnection, fn: (client: pg.Client) => Promise<T>, timeoutMs = 5_000): Promise<T> {
  const client = new pg.Client({
    host: connection.host,
    port: connection.port,
    database: connection.database,
    user: connection.user,
    password: connection.password ?? "",
    connectionTimeoutMillis: timeoutMs,
    application_name: "lifeboat",
  });
  // A dropped connection emits 'error'; without a listener it would crash the process.
  client.on("error", () => {});
  try {
    await client.connect();
  } catch (error) {
    await client.end().catch(() => {});
    throw new Error(connectionErrorMessage(error, connection), { cause: error });
  }
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => {});
  }
}

export function connectionErrorMessage(error: unknown, connection: PgConnection): string {
  const raw = error instanceof Error ? error.message || (error as NodeJS.ErrnoException).code || "unknown error" : String(error);
  let message = raw;
  if (/ECONNREFUSED/.test(raw)) message = `nothing is listening on ${connection.host}:${connection.port} (is PostgreSQL running?)`;
  else if (/ENOTFOUND|EAI_AGAIN/.test(raw)) message = `host ${connection.host} cannot be resolved`;
  else if (/timeout/i.test(raw)) message = `no answer from ${connection.host}:${connection.port} within the time limit`;
  return redactSecrets(message, [connection.password]);
}

export async function readServerInfo(connection: PgConnection): Promise<ServerInfo> {
  return withClient(connection, async (client) => {
    const { rows } = await client.query<{
      version_num: string;
      version: string;
      in_recovery: boolean;
      wal_level: string;
      archive_mode: string;
      size: string;
      system_identifier: string;
    }>(
      `select current_setting('server_version_num') as version_num, version() as version,
              pg_is_in_recovery() as in_recovery, current_setting('wal_level') as wal_level,
              current_setting('archive_mode') as archive_mode,
              pg_database_size(current_database())::text as size,
              (select system_identifier::text from pg_control_system()) as system_identifier`,
    );
    const row = rows[0];
    if (!row) throw new Error("the server returned no version");
    return {
      version: parseServerVersionNum(row.version_num),
      versionString: row.version,
      inRecovery: row.in_recovery,
      walLevel: row.wal_level,
      archiveMode: row.archive_mode,
      databaseSizeBytes: Number(row.size),
      systemIdentifier: row.system_identifier,
    };
  });
}

/** wal_segment_size of the server, in bytes (the setting's unit varies with how it is shown). */
export const WAL_SEGMENT_SIZE_SQL =
  "(select setting::bigint * (case unit when 'B' then 1 when 'kB' then 1024 when 'MB' then 1048576 else 1 end) from pg_settings where name = 'wal_segment_size')";

/**
 * Run a cluster-wide function (pg_switch_wal, pg_create_restore_point) whose EXECUTE grant belongs
 * in the `postgres` database — granted in the application's database it would land in every dump
 * of it and break restores by a non-superuser. Tried there first, then in the target's database;
 * the last error is thrown when both refuse.
 */
export async function withClusterFunction<T>(connection: PgConnection, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  let lastError: unknown;
  for (const database of ["postgres", connection.database]) {
    try {
      return await withClient({ ...connection, database }, fn);
    } catch (error) {
      lastError = error;
    }
  }
  throw lastError;
}
