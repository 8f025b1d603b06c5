import type { PgConnection } from "./connection";
import { findPgBinary, type PgBinaryLocation, type PgToolName } from "./find-pg-binary";
import { readServerInfo, type ServerInfo } from "./server-info";
import { assertClientNotOlder } from "./versions";

export type PreflightResult = { binary: PgBinaryLocation; server: ServerInfo };

/**
 * Before running a client tool against a server: find the tool, read both versions and refuse a
 * client older than the server (pg_dump would fail, or worse, produce a dump that cannot restore).
 */
export async function preflightClientTool(
  tool: PgToolName,
  connection: PgConnection,
  options: { pgBinDir?: string | undefined } = {},
): Promise<PreflightResult> {
  const binary = await findPgBinary(tool, options);
  const server = await readServerInfo(connection);
  assertClientNotOlder(tool, binary.version, server.version);
  return { binary, server };
}
