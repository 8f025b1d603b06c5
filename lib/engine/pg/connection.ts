/** How to reach one PostgreSQL database. The password stays in memory and in a 0600 passfile. */
export type PgConnection = {
  host: string;
  port: number;
  database: string;
  user: string;
  password?: string | undefined;
};

/** A safe, loggable description: never the password, never a connection string. */
export function describeConnection(connection: PgConnection): string {
  return `${connection.user}@${connection.host}:${connection.port}/${connection.database}`;
}

/**
 * libpq environment for a child process. Values given through PG* variables are never parsed as
 * connection strings or options, so hostile database names (with `=`, a leading `-`, quotes) are
 * taken literally. The password is not here: it goes through PGPASSFILE.
 */
export function libpqEnv(connection: PgConnection): Record<string, string> {
  return {
    PGHOST: connection.host,
    PGPORT: String(connection.port),
    PGDATABASE: connection.database,
    PGUSER: connection.user,
    PGCONNECT_TIMEOUT: "10",
    PGAPPNAME: "lifeboat",
  };
}

/** Replace every occurrence of the connection's password in a text (stderr, error messages). */
export function redactSecrets(text: string, secrets: readonly (string | undefined)[]): string {
  let result = text;
  for (const secret of secrets) {
    if (!secret || secret.length < 3) continue;
    result = result.split(secret).join("[redacted]");
  }
  // Connection URLs with an inline password, from any source.
  return result.replace(/(postgres(?:ql)?:\/\/[^:/\s@]+:)[^@\s]+@/gi, "$1[redacted]@");
}
