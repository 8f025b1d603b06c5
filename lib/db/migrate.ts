import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { migrate } from "drizzle-orm/node-postgres/migrator";
import pg from "pg";
import type { DbHandle } from "./client";

/** drizzle/ at the repository root: beside this source tree, or (bundled by Next.js) under the cwd. */
export function migrationsFolder(): string {
  const beside = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "drizzle");
  return existsSync(path.join(beside, "meta", "_journal.json")) ? beside : path.resolve("drizzle");
}

// Any fixed number: serialises concurrent start-ups (web app, worker, CLI) applying migrations.
const MIGRATION_LOCK = 0x11fe_b0a7;

/** Apply pending SQL migrations, one process at a time. */
export async function migrateDatabase(handle: DbHandle): Promise<void> {
  const client = await handle.pool.connect();
  try {
    await client.query("select pg_advisory_lock($1)", [MIGRATION_LOCK]);
    try {
      await migrate(handle.db, { migrationsFolder: migrationsFolder() });
    } finally {
      await client.query("select pg_advisory_unlock($1)", [MIGRATION_LOCK]);
    }
  } finally {
    client.release();
  }
}

/** Create the database named in `databaseUrl` when it does not exist yet (needs CREATEDB). */
export async function ensureDatabaseExists(databaseUrl: string): Promise<boolean> {
  const url = new URL(databaseUrl);
  const name = decodeURIComponent(url.pathname.replace(/^\//, ""));
  if (!name) throw new Error("DATABASE_URL must name a database");
  url.pathname = "/postgres";
  const client = new pg.Client({ connectionString: url.toString() });
  client.on("error", () => {});
  await client.connect();
  try {
    const { rowCount } = await client.query("select 1 from pg_database where datname = $1", [name]);
    if (rowCount) return false;
    await client.query(`create database ${pg.escapeIdentifier(name)}`);
    return true;
  } finally {
    await client.end();
  }
}
