import { LifeboatError } from "../errors";

/** PostgreSQL version numbers as the tools and the server report them. */
export type PgVersion = {
  /** 15 for 15.20; 9.6 for 9.6.24 (before 10 the major version had two parts). */
  major: number;
  minor: number;
  text: string;
};

/** Parse `pg_dump (PostgreSQL) 15.20 (Debian 15.20-0+deb12u1)`, `psql (PostgreSQL) 17beta1`, `9.6.24`. */
export function parseVersionText(output: string): PgVersion {
  const match = /(?:\(PostgreSQL\)\s+|^|\s)(\d+)(?:\.(\d+))?(?:\.(\d+))?(devel|beta\d*|rc\d*)?/.exec(output.trim());
  if (!match?.[1]) throw new Error(`Cannot read a PostgreSQL version from ${JSON.stringify(output.trim().slice(0, 80))}`);
  const first = Number(match[1]);
  const second = match[2] === undefined ? 0 : Number(match[2]);
  if (first < 10) {
    const third = match[3] === undefined ? 0 : Number(match[3]);
    return { major: Number(`${first}.${second}`), minor: third, text: match[0].replace("(PostgreSQL)", "").trim() };
  }
  return { major: first, minor: second, text: match[0].replace("(PostgreSQL)", "").trim() };
}

/** Parse `server_version_num` (150020 → 15.20, 90624 → 9.6.24). */
export function parseServerVersionNum(versionNum: string | number): PgVersion {
  const num = Number(versionNum);
  if (!Number.isInteger(num) || num < 80000) throw new Error(`Not a server_version_num: ${String(versionNum)}`);
  if (num >= 100000) {
    const major = Math.floor(num / 10000);
    const minor = num % 10000;
    return { major, minor, text: `${major}.${minor}` };
  }
  const major = Number(`${Math.floor(num / 10000)}.${Math.floor(num / 100) % 100}`);
  const minor = num % 100;
  return { major, minor, text: `${major}.${minor}` };
}

export class ClientTooOldError extends LifeboatError {
  constructor(
    readonly tool: string,
    readonly client: PgVersion,
    readonly server: PgVersion,
  ) {
    super(
      "CLIENT_TOO_OLD",
      `${tool} ${client.text} is older than the server (PostgreSQL ${server.text}) and cannot back it up safely. ` +
        `Install PostgreSQL ${server.major} client tools or newer (Debian/Ubuntu: apt-get install postgresql-client-${server.major}) ` +
        `and point PG_BIN_DIR at their bin directory if they are not found automatically.`,
    );
  }
}

/** Client tools must be at least the server's major version (pg_dump refuses older servers' successors). */
export function assertClientNotOlder(tool: string, client: PgVersion, server: PgVersion): void {
  if (client.major < server.major) throw new ClientTooOldError(tool, client, server);
}
