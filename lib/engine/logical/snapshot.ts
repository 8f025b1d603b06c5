import pg from "pg";
import { LifeboatError, throwIfAborted } from "../errors";
import type { PgConnection } from "../pg/connection";
import { connectionErrorMessage } from "../pg/server-info";
import { listTables, type TableInfo } from "./catalog-queries";

export type Snapshot = { id: string; client: pg.Client; tables: TableInfo[] };

export type LockedSnapshotOptions = {
  /** How long to wait for a table lock the application holds (e.g. a migration) before failing. */
  lockTimeoutSeconds: number;
  signal?: AbortSignal | undefined;
  onWaiting?: ((message: string) => void) | undefined;
};

/**
 * Hold a repeatable-read transaction and export its snapshot, so pg_dump (--snapshot), the row
 * counts and the JSON export all see exactly the same data.
 *
 * Every table is locked (ACCESS SHARE) before the snapshot exists. Plain pg_dump takes its
 * snapshot first and its locks after: a migration that rewrites a table (ALTER TABLE … DEFAULT
 * gen_random_uuid(), TRUNCATE, VACUUM FULL) and commits in between leaves that table empty in the
 * dump, and the dump reports success. Locking first means such a migration either committed before
 * the snapshot (its rows are in the backup) or waits until the backup is done.
 */
export async function withLockedSnapshot<T>(connection: PgConnection, options: LockedSnapshotOptions, fn: (snapshot: Snapshot) => Promise<T>): Promise<T> {
  const client = new pg.Client({ ...connection, password: connection.password ?? "", application_name: "lifeboat backup", connectionTimeoutMillis: 10_000 });
  client.on("error", () => {});
  try {
    await client.connect();
  } catch (error) {
    throw new LifeboatError("CONNECTION_FAILED", `cannot connect: ${connectionErrorMessage(error, connection)}`, {}, { cause: error });
  }
  const onAbort = () => void client.end().catch(() => undefined);
  options.signal?.addEventListener("abort", onAbort, { once: true });
  try {
    for (let attempt = 1; ; attempt++) {
      throwIfAborted(options.signal);
      // The table list comes from outside the backup's transaction: any query inside it would
      // take the snapshot before the locks.
      const tables = await listTables(client);
      await client.query("begin isolation level repeatable read read only");
      try {
        await client.query(`set local lock_timeout = '${options.lockTimeoutSeconds}s'`);
        if (tables.length) await lockTables(client, connection, tables, options);
        const { rows } = await client.query<{ id: string }>("select pg_export_snapshot() as id");
        // Tables created between the listing and the snapshot are in it but were not locked: list again.
        const now = await listTables(client);
        const locked = new Set(tables.map((t) => t.qualified));
        if (now.some((t) => !locked.has(t.qualified)) && attempt < 3) {
          await client.query("rollback");
          continue;
        }
        const result = await fn({ id: rows[0]!.id, client, tables: now });
        await client.query("commit");
        return result;
      } catch (error) {
        await client.query("rollback").catch(() => undefined);
        // A table dropped or renamed between the listing and the lock: list again.
        if ((error as { code?: string }).code === "42P01" && attempt < 3) continue;
        throw error;
      }
    }
  } catch (error) {
    throwIfAborted(options.signal);
    if ((error as { code?: string }).code === "55P03") {
      throw new LifeboatError(
        "LOCK_TIMEOUT",
        `The backup waited ${options.lockTimeoutSeconds} s for a table the application holds locked (a migration or a long transaction) and gave up; nothing was written. Try again when it has finished, or raise LIFEBOAT_LOCK_TIMEOUT.`,
        {},
        { cause: error },
      );
    }
    throw error;
  } finally {
    options.signal?.removeEventListener("abort", onAbort);
    await client.end().catch(() => undefined);
  }
}

/** LOCK every table in one statement, telling the caller who blocks it while it waits. */
async function lockTables(client: pg.Client, connection: PgConnection, tables: TableInfo[], options: LockedSnapshotOptions): Promise<void> {
  const statement = client.query(`lock table ${tables.map((t) => `only ${t.qualified}`).join(", ")} in access share mode`);
  let done = false;
  const watcher = (async () => {
    await new Promise((r) => setTimeout(r, 2_000));
    while (!done) {
      const blockers = await blockingSessions(client, connection).catch(() => "");
      if (!done && blockers) options.onWaiting?.(`waiting for table locks held by ${blockers}`);
      await new Promise((r) => setTimeout(r, 5_000));
    }
  })();
  try {
    await statement;
  } finally {
    done = true;
    void watcher;
  }
}

/** Who holds the locks our session waits for (pg_blocking_pids), in words (never their SQL, which may hold secrets). */
async function blockingSessions(client: pg.Client, connection: PgConnection): Promise<string> {
  const pid = (client as unknown as { processID?: number }).processID;
  if (!pid) return "";
  const probe = new pg.Client({ ...connection, password: connection.password ?? "", application_name: "lifeboat lock probe", connectionTimeoutMillis: 5_000 });
  probe.on("error", () => {});
  await probe.connect();
  try {
    const { rows } = await probe.query<{ pid: number; app: string; state: string | null }>(
      `select a.pid, coalesce(nullif(a.application_name, ''), a.usename::text) as app, a.state
         from pg_stat_activity a where a.pid = any(pg_blocking_pids($1))`,
      [pid],
    );
    return rows.map((r) => `pid ${r.pid} (${r.app}, ${r.state ?? "unknown state"})`).join(", ");
  } finally {
    await probe.end().catch(() => undefined);
  }
}
