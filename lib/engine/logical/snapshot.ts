import pg from "pg";
import type { PgConnection } from "../pg/connection";
import { connectionErrorMessage } from "../pg/server-info";

export type Snapshot = { id: string; client: pg.Client };

/**
 * Hold a repeatable-read transaction and export its snapshot, so pg_dump (--snapshot), the row
 * counts and the JSON export all see exactly the same data.
 */
export async function withExportedSnapshot<T>(connection: PgConnection, fn: (snapshot: Snapshot) => Promise<T>): Promise<T> {
  const client = new pg.Client({ ...connection, password: connection.password ?? "", application_name: "lifeboat", connectionTimeoutMillis: 10_000 });
  client.on("error", () => {});
  try {
    await client.connect();
  } catch (error) {
    throw new Error(`cannot connect: ${connectionErrorMessage(error, connection)}`, { cause: error });
  }
  try {
    await client.query("begin isolation level repeatable read read only");
    const { rows } = await client.query<{ id: string }>("select pg_export_snapshot() as id");
    const result = await fn({ id: rows[0]!.id, client });
    await client.query("commit");
    return result;
  } finally {
    await client.end().catch(() => {});
  }
}
