import { readdir } from "node:fs/promises";
import { LifeboatError, throwIfAborted } from "../errors";
import type { PgConnection } from "../pg/connection";
import { withClient } from "../pg/server-info";

export class WalSwitchError extends LifeboatError {
  constructor(message: string) {
    super("WAL_SWITCH_FAILED", message);
  }
}

/** Whether the archive holds a segment, in any form Lifeboat stores it (plain, .zst, .age, .zst.age). */
async function archived(archiveDir: string, segment: string): Promise<boolean> {
  const names = await readdir(archiveDir).catch(() => [] as string[]);
  return names.some(
    (n) => n === segment || (n.startsWith(`${segment}.`) && !n.endsWith(".partial") && !n.endsWith(".stream") && !/\.[0-9A-F]{8}\.backup/.test(n)),
  );
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
  let segment: string | undefined;
  let denied: string | undefined;
  for (const database of ["postgres", options.connection.database]) {
    try {
      segment = await withClient({ ...options.connection, database }, async (c) => {
        const { rows } = await c.query<{ f: string }>("select pg_walfile_name(pg_switch_wal()) as f");
        return rows[0]!.f;
      });
      break;
    } catch (error) {
      denied = (error as Error).message;
    }
  }
  if (!segment) {
    throw new WalSwitchError(
      `Could not close the current WAL segment (${denied}); recovery reaches only what was archived already. ` +
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
