import { mkdtemp, readdir, rm, stat, symlink } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { PgConnection } from "../pg/connection";
import { WAL_SEGMENT_SIZE_SQL, withClient } from "../pg/server-info";
import { materializeArchive, scanSegments, SegmentSummaryCache, xidAfter, type SegmentSummary } from "./recoverable-window";
import { parseLsn, parseSegmentFileName, segmentFileName } from "./wal-names";

/**
 * What a disaster now would lose: the commits not yet in the archive. Measured from the archive
 * itself (its newest segment and the last commit in it, read with pg_waldump) against the server's
 * current WAL position, not from the archiver's counters alone.
 */
export type WalExposure = {
  /** The newest archived segment of the server's timeline. */
  lastArchivedSegment: string | null;
  /** The last commit the archive holds (UTC). */
  lastArchivedCommitAt: Date | null;
  /** WAL written since the end of the newest archived segment. */
  unarchivedBytes: number;
  /** 0 when every write is archived; else seconds since the last archived commit (null: no commit found to measure from). */
  exposureSeconds: number | null;
};

/** How many of the newest segments are read looking for the last archived commit. */
const EXPOSURE_SCAN_SEGMENTS = 32;

/**
 * Each segment read alone (records that continue into the next one end its scan): the worker
 * samples every minute, and an idle server's housekeeping segments are read once, not each time.
 */
const exposureSummaries = new SegmentSummaryCache();

export async function measureExposure(options: {
  connection: PgConnection;
  archiveDir: string;
  pgBinDir?: string | undefined;
  /** age identities, for an encrypted archive. */
  identities?: string[] | undefined;
  /** Where WAL streaming writes (its .partial counts as safe). */
  streamDir?: string | undefined;
  now?: Date;
}): Promise<WalExposure> {
  const server = await withClient(options.connection, async (c) => {
    const { rows } = await c.query<{ lsn: string; file: string; size: string; next: string }>(
      `select pg_current_wal_lsn()::text as lsn, pg_walfile_name(pg_current_wal_lsn()) as file,
              (txid_snapshot_xmax(txid_current_snapshot()) % 4294967296)::text as next,
              ${WAL_SEGMENT_SIZE_SQL}::text as size`,
    );
    return rows[0]!;
  });
  const segmentSize = Number(server.size);
  const timeline = parseInt(server.file.slice(0, 8), 16);
  const onTimeline = (names: string[], dir: string, strip: RegExp) =>
    names
      .map((name) => ({ name, dir, plain: name.replace(strip, "") }))
      .map((s) => ({ ...s, parsed: parseSegmentFileName(s.plain, segmentSize) }))
      .filter((s) => s.parsed?.timeline === timeline);
  const archived = onTimeline(await readdir(options.archiveDir).catch(() => [] as string[]), options.archiveDir, /(\.zst)?(\.age)?$/);
  // WAL streaming's newest segment counts as safe too: it is on the repository's disk already.
  const streamed = options.streamDir ? onTimeline(await readdir(options.streamDir).catch(() => [] as string[]), options.streamDir, /\.partial$/) : [];
  const segments = [...archived, ...streamed.filter((s) => s.name.endsWith(".partial") && !archived.some((a) => a.plain === s.plain))].sort((a, b) =>
    a.parsed!.segno < b.parsed!.segno ? 1 : -1,
  );
  const newest = segments[0];
  const current = parseLsn(server.lsn);
  // Nothing of this timeline in the archive: the exposure cannot be told (archive_command writes
  // elsewhere, or the timeline just began) — never "0 s".
  if (!newest) return { lastArchivedSegment: null, lastArchivedCommitAt: null, unarchivedBytes: Number(current), exposureSeconds: null };

  // The last commit, the highest transaction id and the end of the last record, newest segment
  // first. An idle server closes segments holding no transaction (a checkpoint, a WAL switch), so
  // the search goes back past them (bounded) to the last commit.
  let lastCommit: Date | null = null;
  let maxXid: number | undefined;
  let safeEnd = (newest.parsed!.segno + 1n) * BigInt(segmentSize);
  const scratch = await mkdtemp(path.join(os.tmpdir(), "lifeboat-exposure-"));
  try {
    for (const segment of segments.slice(0, EXPOSURE_SCAN_SEGMENTS)) {
      const source = await stat(path.join(segment.dir, segment.name)).catch(() => undefined);
      const key = source && SegmentSummaryCache.key(segment.dir, timeline, { name: segment.name, size: source.size, mtimeMs: source.mtimeMs });
      let scan: SegmentSummary | undefined = key ? exposureSummaries.get(key) : undefined;
      if (!scan) {
        if (segment.dir === options.archiveDir) await materializeArchive(options.archiveDir, scratch, [segment.name], options.identities);
        else await symlink(path.join(segment.dir, segment.name), path.join(scratch, segment.plain));
        const name = segmentFileName(timeline, segment.parsed!.segno, segmentSize);
        scan = await scanSegments(scratch, timeline, name, name, options.pgBinDir).catch(() => undefined);
        if (scan && key) exposureSummaries.set(key, scan);
      }
      // A streamed segment is safe up to its last complete record, not to its (preallocated) end.
      if (segment === newest && segment.dir !== options.archiveDir && scan?.lastRecordLsn !== undefined) safeEnd = scan.lastRecordLsn + 1n;
      if (maxXid === undefined && scan?.maxXid !== undefined) maxXid = scan.maxXid;
      if (scan?.lastCommit) {
        lastCommit = new Date(scan.lastCommit.time);
        break;
      }
    }
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
  const unarchivedBytes = current > safeEnd ? Number(current - safeEnd) : 0;
  // Unarchived WAL without a new transaction id is checkpoints and housekeeping: nothing to lose.
  // A transaction id beyond the archive's highest means a write the archive does not hold yet.
  const lastAssigned = (Number(server.next) - 1 + 0x100000000) % 0x100000000;
  const unarchivedWrites = unarchivedBytes > 0 && (maxXid === undefined ? lastAssigned > 0 : xidAfter(lastAssigned, maxXid));
  const now = (options.now ?? new Date()).getTime();
  const exposureSeconds = !unarchivedWrites ? 0 : lastCommit ? Math.max(0, Math.round((now - lastCommit.getTime()) / 1000)) : null;
  return { lastArchivedSegment: newest.plain, lastArchivedCommitAt: lastCommit, unarchivedBytes, exposureSeconds };
}
