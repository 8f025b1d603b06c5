import { drizzle, type NodePgDatabase } from "drizzle-orm/node-postgres";
import pg from "pg";
import * as schema from "./schema";

export type Db = NodePgDatabase<typeof schema>;
export type DbHandle = { db: Db; pool: pg.Pool; close: () => Promise<void> };

/** A connection pool to a metadata database and its Drizzle handle. */
export function createDb(databaseUrl: string, options: { max?: number } = {}): DbHandle {
  const pool = new pg.Pool({ connectionString: databaseUrl, max: options.max ?? 5, application_name: "lifeboat" });
  // An idle client losing its connection must not take the process down; the next query reconnects.
  pool.on("error", () => {});
  const db = drizzle(pool, { schema });
  return { db, pool, close: () => pool.end() };
}

const globalForDb = globalThis as unknown as { lifeboatDb?: DbHandle };

/** The process-wide metadata database (one pool, kept across Next.js dev reloads). */
export async function getDb(): Promise<Db> {
  if (!globalForDb.lifeboatDb) {
    const { getEnv } = await import("@/lib/env");
    const { migrateDatabase } = await import("./migrate");
    const url = getEnv().DATABASE_URL;
    const handle = createDb(url);
    await migrateDatabase(handle);
    globalForDb.lifeboatDb = handle;
  }
  return globalForDb.lifeboatDb.db;
}
