import { readdir } from "node:fs/promises";
import { LifeboatError, throwIfAborted } from "../errors";
import type { PgConnection } from "../pg/connection";
import { withClient, withClusterFunction } from "../pg/server-info";
import { holdsSegment } from "./wal-names";

export class WalSwitchError extends LifeboatError {
  constructor(message: string) {
    super("WAL_SWITCH_FAILED", message);
  }
}

async function archived(archiveDir: string, segment: string): Promise<boolean> {
  return holdsSegment(await readdir(archiveDir).catch(() => [] as string[]), segment);
}

/**
 * Close the current WAL segment (pg_switch_wal) and wait, bounded, until the archiver put it into
 * the archive: the moment just before the damage is then recoverable, not only what archive_timeout
 * happened to ship. Needs EXECUTE on pg_switch_wal, granted in the `postgres` database (tried first)
 * or the target's.
 */
export async function switchAndWaitForArchive(options: {
  connection: PgConnection;
  archiveDir: string;
  timeoutMs?: number | undefined;
  signal?: AbortSignal | undefined;
}): Promise<{ segment: string; waitedMs: number }> {
  const started = Date.now();
  let segment: string;
  try {
    segment = await withClusterFunction(
      options.connection,
      async (c) => (await c.query<{ f: string }>("select pg_walfile_name(pg_switch_wal()) as f")).rows[0]!.f,
    );
  } catch (error) {
    throw new WalSwitchError(
      `Could not close the current WAL segment (${(error as Error).message}); recovery reaches only what was archived already. ` +
        `Grant it: GRANT EXECUTE ON FUNCTION pg_switch_wal() TO ${options.connection.user} (in the postgres database).`,
    );
  }
  const deadline = started + (options.timeoutMs ?? 60_000);
  while (!(await archived(options.archiveDir, segment))) {
    throwIfAborted(options.signal);
    if (Date.now() > deadline) {
      const failing = await withClient(
        options.connection,
        async (c) => (await c.query<{ w: string | null; t: Date | null }>("select last_failed_wal as w, last_failed_time as t from pg_stat_archiver")).rows[0],
      ).catch(() => undefined);
      throw new WalSwitchError(
        `Segment ${segment} did not reach the archive within ${Math.round((options.timeoutMs ?? 60_000) / 1000)} s` +
          (failing?.w ? `; the archiver last failed on ${failing.w} at ${failing.t?.toISOString()} (npm run wal:status)` : "") +
          ". Recovery reaches only what was archived.",
      );
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return { segment, waitedMs: Date.now() - started };
}
