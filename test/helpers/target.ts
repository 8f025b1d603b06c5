import { readFile } from "node:fs/promises";
import path from "node:path";
import pg from "pg";
import { LocalCluster } from "@/lib/engine/cluster/local-cluster";
import type { PgConnection } from "@/lib/engine/pg/connection";
import { withClient } from "@/lib/engine/pg/server-info";

export type TestTarget = {
  cluster: LocalCluster;
  /** The app's own role (not a superuser), password-protected, as a real target would be. */
  connection: PgConnection;
  query: <R extends pg.QueryResultRow = pg.QueryResultRow>(sql: string, params?: unknown[], database?: string) => Promise<R[]>;
  /** md5 of every row of every table in a database: equal fingerprints mean equal content. */
  fingerprint: (database?: string) => Promise<Record<string, string>>;
  remove: () => Promise<void>;
};

const repo = path.resolve(import.meta.dirname, "..", "..");

/**
 * The environment a CLI child process gets to back up `target` as the default target "app":
 * nothing from the test runner's own environment but PATH and HOME.
 */
export function cliEnv(
  target: TestTarget,
  settings: { DATABASE_URL: string; BACKUP_DIR: string; LOG_DIR: string } & Record<string, string>,
): NodeJS.ProcessEnv {
  return {
    NODE_ENV: "test",
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    DB_HOST: "127.0.0.1",
    DB_PORT: String(target.cluster.port),
    DB_NAME: target.connection.database,
    DB_USER: target.connection.user,
    DB_PASSWORD: target.connection.password,
    DB_TARGET_NAME: "app",
    ...settings,
  };
}

/** A throwaway cluster with an app role and database, optionally seeded with the demo data. */
export async function createTestTarget(options: { seed?: boolean; database?: string; password?: string } = {}): Promise<TestTarget> {
  const cluster = await LocalCluster.temporary({ password: "superuser-secret-pw", walLevel: "replica" });
  await cluster.start();
  const password = options.password ?? "app-Secret:pw'1";
  const database = options.database ?? "app";
  await cluster.query(`create role app login createdb password ${pg.escapeLiteral(password)}`);
  await cluster.query(`create database ${pg.escapeIdentifier(database)} owner app`);
  await cluster.query("grant execute on function pg_create_restore_point(text) to app", [], "postgres");
  const connection: PgConnection = { host: "127.0.0.1", port: cluster.port, database, user: "app", password };
  const query = async <R extends pg.QueryResultRow = pg.QueryResultRow>(sql: string, params: unknown[] = [], db = database) =>
    withClient({ ...connection, database: db }, async (c) => (await c.query<R>(sql, params)).rows);
  if (options.seed) await query(await readFile(path.join(repo, "demo", "seed.sql"), "utf8"));
  const fingerprint = async (db = database) => {
    const tables = await query<{ q: string }>(
      "select quote_ident(schemaname) || '.' || quote_ident(tablename) as q from pg_tables where schemaname not in ('pg_catalog', 'information_schema') order by 1",
      [],
      db,
    );
    const result: Record<string, string> = {};
    for (const { q } of tables) {
      const [row] = await query<{ h: string | null; n: string }>(
        `select md5(string_agg(t::text, '|' order by t::text)) as h, count(*) as n from ${q} t`,
        [],
        db,
      );
      result[q] = `${row?.n}:${row?.h ?? "empty"}`;
    }
    return result;
  };
  return { cluster, connection, query, fingerprint, remove: () => cluster.remove() };
}
