import { randomBytes } from "node:crypto";
import pg from "pg";
import { createDb, type DbHandle } from "@/lib/db/client";
import { migrateDatabase } from "@/lib/db/migrate";

/**
 * Tests keep Lifeboat's metadata in a throwaway database on the machine's PostgreSQL service
 * (127.0.0.1:5432, trust auth); LIFEBOAT_TEST_PG_URL points elsewhere. Never a target cluster.
 */
// Test-only configuration, read here rather than through lib/env.ts, which describes the app.
const ADMIN_URL = process.env.LIFEBOAT_TEST_PG_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";

export type TestMetadataDb = DbHandle & { url: string; drop: () => Promise<void> };

export async function createTestMetadataDb(): Promise<TestMetadataDb> {
  const name = `lifeboat_test_${randomBytes(6).toString("hex")}`;
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  const handle = createDb(url.toString());
  await migrateDatabase(handle);
  return {
    ...handle,
    url: url.toString(),
    drop: async () => {
      await handle.close();
      const client = new pg.Client({ connectionString: ADMIN_URL });
      await client.connect();
      await client.query(`drop database if exists ${name} with (force)`);
      await client.end();
    },
  };
}
