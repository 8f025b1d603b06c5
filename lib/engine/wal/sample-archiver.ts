import type { PgConnection } from "../pg/connection";
import { withClient } from "../pg/server-info";
import { measureExposure } from "./exposure";

export type ArchiverStats = {
  archivedCount: number;
  failedCount: number;
  lastArchivedWal: string | null;
  lastArchivedAt: Date | null;
  lastFailedWal: string | null;
  lastFailedAt: Date | null;
  readyCount: number | null;
  /** Seconds of commits a disaster now would lose (from the archive itself when it is known). */
  rpoExposureSeconds: number | null;
  /** The last commit the archive holds, when the archive was read. */
  lastArchivedCommitAt: Date | null;
  /** WAL written since the newest archived segment, when the archive was read. */
  unarchivedBytes: number | null;
  healthy: boolean;
  alert: string | null;
};

/** The seed's RPO: at most one hour of data lost. */
export const DEFAULT_RPO_SECONDS = 60 * 60;

/**
 * Read pg_stat_archiver and the archive backlog (.ready files; needs pg_monitor or superuser), and
 * judge them: archiving that is failing right now, a backlog, or a last archived segment older
 * than the RPO is an alert.
 */
export async function sampleArchiver(
  connection: PgConnection,
  options: {
    rpoSeconds?: number;
    maxReady?: number;
    archive?: { dir: string; streamDir?: string | undefined; pgBinDir?: string | undefined; identities?: string[] | undefined };
  } = {},
): Promise<ArchiverStats> {
  // The real exposure, from the archive (when Lifeboat can read it): commits not archived yet.
  let exposureError: string | undefined;
  const exposure = options.archive
    ? await measureExposure({
        connection,
        archiveDir: options.archive.dir,
        pgBinDir: options.archive.pgBinDir,
        identities: options.archive.identities,
        streamDir: options.archive.streamDir,
      }).catch((error: unknown) => {
        exposureError = (error as Error).message;
        return undefined;
      })
    : undefined;
  return withClient(connection, async (client) => {
    const { rows } = await client.query<{
      archived_count: string;
      failed_count: string;
      last_archived_wal: string | null;
      last_archived_time: Date | null;
      last_failed_wal: string | null;
      last_failed_time: Date | null;
      archive_mode: string;
      age: number | null;
    }>(
      `select archived_count, failed_count, last_archived_wal, last_archived_time, last_failed_wal, last_failed_time,
              current_setting('archive_mode') as archive_mode,
              extract(epoch from now() - last_archived_time)::int as age
         from pg_stat_archiver`,
    );
    const row = rows[0]!;
    let readyCount: number | null;
    try {
      const ready = await client.query<{ n: number }>("select count(*)::int as n from pg_ls_archive_statusdir() where name like '%.ready'");
      readyCount = ready.rows[0]?.n ?? 0;
    } catch {
      readyCount = null; // no pg_monitor: the backlog cannot be seen from this role
    }
    const alerts: string[] = [];
    if (row.archive_mode === "off") alerts.push("archive_mode is off: no WAL is archived, point-in-time recovery is impossible");
    const failingNow = row.last_failed_time && (!row.last_archived_time || row.last_failed_time > row.last_archived_time);
    if (failingNow) alerts.push(`archiving is failing: ${row.last_failed_wal} could not be archived (last attempt ${row.last_failed_time!.toISOString()})`);
    if (readyCount !== null && readyCount > (options.maxReady ?? 10)) alerts.push(`${readyCount} WAL segments are waiting to be archived`);
    const rpo = options.rpoSeconds ?? DEFAULT_RPO_SECONDS;
    if (exposureError) alerts.push(`the exposure could not be measured from the archive: ${exposureError}`);
    else if (exposure && exposure.lastArchivedSegment === null)
      alerts.push("the archive holds no WAL of the server's current timeline: is archive_command pointed at this repository?");
    if (exposure?.exposureSeconds != null) {
      if (exposure.exposureSeconds > rpo) {
        alerts.push(`commits of the last ${Math.round(exposure.exposureSeconds / 60)} minutes are not archived yet (RPO ${Math.round(rpo / 60)} minutes)`);
      }
    } else if (row.age !== null && row.age > rpo && (readyCount === null || readyCount > 0)) {
      alerts.push(`the last archived segment is ${Math.round(row.age / 60)} minutes old (RPO ${Math.round(rpo / 60)} minutes)`);
    }
    return {
      archivedCount: Number(row.archived_count),
      failedCount: Number(row.failed_count),
      lastArchivedWal: row.last_archived_wal,
      lastArchivedAt: row.last_archived_time,
      lastFailedWal: row.last_failed_wal,
      lastFailedAt: row.last_failed_time,
      readyCount,
      rpoExposureSeconds: exposure ? exposure.exposureSeconds : row.age,
      lastArchivedCommitAt: exposure?.lastArchivedCommitAt ?? null,
      unarchivedBytes: exposure?.unarchivedBytes ?? null,
      healthy: alerts.length === 0,
      alert: alerts.length ? alerts.join("; ") : null,
    };
  });
}
