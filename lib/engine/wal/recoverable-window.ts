import { mkdtemp, readdir, readFile, rm, stat, symlink } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { createReadStream, createWriteStream } from "node:fs";
import { pipeline } from "node:stream/promises";
import { decryptStream, EncryptionError } from "../crypto/age";
import type { Manifest } from "../repository/manifest";
import { PgToolError, runPgTool } from "../pg/run-pg-tool";
import { execChild } from "../process/spawn-child";
import {
  DEFAULT_SEGMENT_SIZE,
  formatLsn,
  holdsSegment,
  parseLsn,
  parseSegmentFileName,
  segmentFileName,
  segmentOf,
  timelineAncestry,
  timelineForSegment,
  type TimelineSpan,
} from "./wal-names";

/** ISO-8601 UTC with microseconds, so times from PostgreSQL (µs) and JavaScript (ms) compare as text. */
export function isoMicros(text: string | Date): string {
  const iso = typeof text === "string" ? text : text.toISOString();
  const match = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d+))?Z$/.exec(iso);
  if (!match) throw new Error(`Not a UTC timestamp: ${iso}`);
  return `${match[1]}.${(match[2] ?? "").padEnd(6, "0").slice(0, 6)}Z`;
}

export type WindowPoint = { time: string; lsn: string };

/**
 * One stretch of recoverable time: from the end of a base backup to the last readable WAL record
 * (`to.lsn`) and the last commit before it (`to.time`).
 */
export type WindowRange = {
  timeline: number;
  /** The base backup this stretch starts from (base/<time>). */
  base: string;
  from: WindowPoint;
  to: WindowPoint;
  /** Why the stretch ends there. */
  endReason: string;
};

export type RestorePoint = { name: string; lsn: string; timeline: number };

/** Continuous recoverable time on a timeline: overlapping ranges of several base backups merged. */
export type WindowStretch = { timeline: number; from: WindowPoint; to: WindowPoint; bases: string[]; endReason: string };

export type RecoverableWindow = {
  /** The timeline recovery follows by default (the newest in the archive). */
  timeline: number;
  /** One range per base backup (what planning picks from). */
  ranges: WindowRange[];
  /** The same, merged where they overlap: what a person (or the PITR picker) sees. */
  stretches: WindowStretch[];
  restorePoints: RestorePoint[];
  /** Damaged or missing segments found, in words. */
  problems: string[];
};

type ArchiveListing = {
  segments: Map<string, { name: string; size: number; mtimeMs: number }>;
  histories: Map<number, string>;
  newestTimeline: number;
};

async function listArchive(archiveDir: string, segmentSize: number): Promise<ArchiveListing> {
  const names = await readdir(archiveDir).catch(() => [] as string[]);
  const segments = new Map<string, { name: string; size: number; mtimeMs: number }>();
  const histories = new Map<number, string>();
  let newestTimeline = 1;
  for (const name of names) {
    const segment = parseSegmentFileName(name, segmentSize);
    if (segment) {
      const info = await stat(path.join(archiveDir, name));
      segments.set(`${segment.timeline}:${segment.segno}`, { name, size: info.size, mtimeMs: info.mtimeMs });
      newestTimeline = Math.max(newestTimeline, segment.timeline);
      continue;
    }
    const history = /^([0-9A-F]{8})\.history$/.exec(name);
    if (history) {
      const timeline = parseInt(history[1]!, 16);
      histories.set(timeline, await readFile(path.join(archiveDir, name), "utf8"));
      newestTimeline = Math.max(newestTimeline, timeline);
    }
  }
  return { segments, histories, newestTimeline };
}

export type ScanResult = {
  lastRecordLsn: bigint | undefined;
  lastCommit: { time: string; lsn: bigint } | undefined;
  restorePoints: { name: string; lsn: bigint }[];
  /** The highest transaction id (32-bit) of any record: write transactions up to it are in these segments. */
  maxXid: number | undefined;
  /** Set when pg_waldump found a broken record before the end of the range. */
  errorAt: bigint | undefined;
  errorMessage: string | undefined;
};

const XID = /\btx:\s+(\d+),/;
const RECORD = /lsn: ([0-9A-F]+\/[0-9A-F]+), prev [0-9A-F]+\/[0-9A-F]+, desc: (.*)$/;
const COMMIT_TIME = /^COMMIT (\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(?:\.\d+)?) UTC/;
const RESTORE_POINT = /^RESTORE_POINT (.*)$/;

/** What the records that start in one segment add to a scan. */
export type SegmentSummary = Pick<ScanResult, "lastRecordLsn" | "lastCommit" | "restorePoints" | "maxXid">;

function emptyScan(): ScanResult {
  return { lastRecordLsn: undefined, lastCommit: undefined, restorePoints: [], maxXid: undefined, errorAt: undefined, errorMessage: undefined };
}

/** Add what later records say to a scan (segments in order). */
function fold(into: SegmentSummary, later: SegmentSummary): void {
  if (later.lastRecordLsn !== undefined) into.lastRecordLsn = later.lastRecordLsn;
  if (later.lastCommit) into.lastCommit = later.lastCommit;
  into.restorePoints.push(...later.restorePoints);
  if (later.maxXid !== undefined) into.maxXid = into.maxXid === undefined || xidAfter(later.maxXid, into.maxXid) ? later.maxXid : into.maxXid;
}

/**
 * Summaries of segments already read by pg_waldump in this process, keyed by archive, timeline,
 * name, size and modification time (`key`): an archived segment never changes, and one that did
 * gets another key. Entries last 10 minutes, so a segment damaged in place is read again soon.
 */
export class SegmentSummaryCache {
  private readonly entries = new Map<string, { at: number; summary: SegmentSummary }>();
  private static readonly TTL_MS = 10 * 60_000;
  private static readonly MAX = 100_000;

  static key(scope: string, timeline: number, file: { name: string; size: number; mtimeMs: number }): string {
    return `${scope}\0${timeline}\0${file.name}\0${file.size}\0${file.mtimeMs}`;
  }

  get(key: string, now = Date.now()): SegmentSummary | undefined {
    const hit = this.entries.get(key);
    if (hit && now - hit.at <= SegmentSummaryCache.TTL_MS) return { ...hit.summary, restorePoints: [...hit.summary.restorePoints] };
    this.entries.delete(key);
    return undefined;
  }

  set(key: string, summary: SegmentSummary, now = Date.now()): void {
    if (this.entries.size >= SegmentSummaryCache.MAX) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(key, { at: now, summary });
  }
}

/**
 * The window's: a PITR plans twice (the preview, then again under the lock) and the dashboard asks
 * for the window again and again: only new segments are read each time. A segment is remembered
 * only once the scan also read the one after it (its last record may continue there).
 */
const windowSummaries = new SegmentSummaryCache();

/**
 * Read every record of a run of segments on one timeline with pg_waldump, line by line (memory
 * stays flat). With `bySegment`, each record is also summarised under the segment it starts in.
 */
export async function scanSegments(
  archiveDir: string,
  timeline: number,
  first: string,
  last: string,
  pgBinDir: string | undefined,
  signal?: AbortSignal,
  bySegment?: { segmentSize: number; summaries: Map<bigint, SegmentSummary> },
): Promise<ScanResult> {
  const result = emptyScan();
  const onLine = (line: string) => {
    const record = RECORD.exec(line);
    if (!record) return;
    const lsn = parseLsn(record[1]!);
    const found: SegmentSummary = { lastRecordLsn: lsn, lastCommit: undefined, restorePoints: [], maxXid: undefined };
    const xid = Number(XID.exec(line)?.[1] ?? 0);
    if (xid > 0) found.maxXid = xid;
    const desc = record[2]!;
    const commit = COMMIT_TIME.exec(desc);
    if (commit) found.lastCommit = { time: isoMicros(`${commit[1]!.replace(" ", "T")}Z`), lsn };
    const point = RESTORE_POINT.exec(desc);
    if (point) found.restorePoints.push({ name: point[1]!.trim(), lsn });
    fold(result, found);
    if (bySegment) {
      const segno = segmentOf(lsn, bySegment.segmentSize);
      let summary = bySegment.summaries.get(segno);
      if (!summary) bySegment.summaries.set(segno, (summary = { lastRecordLsn: undefined, lastCommit: undefined, restorePoints: [], maxXid: undefined }));
      fold(summary, { ...found, restorePoints: [...found.restorePoints] });
    }
  };
  let stderr = "";
  try {
    await runPgTool({
      tool: "pg_waldump",
      args: [`--path=${archiveDir}`, `--timeline=${timeline}`, first, last],
      pgBinDir,
      signal,
      env: { TZ: "UTC" },
      stdoutConsumer: async (stdout) => {
        for await (const line of createInterface({ input: stdout, crlfDelay: Infinity })) onLine(line);
      },
    });
  } catch (error) {
    if (!(error instanceof PgToolError)) throw error;
    // pg_waldump always ends with an error at the end of valid WAL; the records before it count.
    stderr = error.stderr;
  }
  const failure = /error in WAL record at ([0-9A-F]+\/[0-9A-F]+): (.*)/.exec(stderr);
  if (failure) {
    result.errorAt = parseLsn(failure[1]!);
    result.errorMessage = failure[2]!.trim();
  }
  return result;
}

export type ComputeWindowOptions = {
  archiveDir: string;
  /** Manifests of the available base backups. */
  baseBackups: Manifest[];
  pgBinDir?: string | undefined;
  /** Follow this timeline (default: the newest one in the archive). */
  timeline?: number | undefined;
  /** age identities, for an encrypted archive (segments stored as .age). */
  identities?: string[] | undefined;
  signal?: AbortSignal | undefined;
  /** The archive segment summaries are remembered under (the real archive when `archiveDir` is a scratch copy). */
  cacheScope?: string | undefined;
};

/**
 * The moments a PITR can reach: for each base backup on the followed timeline's ancestry, from the
 * end of that backup through every contiguous, readable WAL segment in the archive. A missing,
 * short or unreadable segment ends the stretch (pg_waldump reads every record, so corruption is
 * found here, not halfway through a restore).
 */
export async function computeRecoverableWindow(options: ComputeWindowOptions): Promise<RecoverableWindow> {
  const names = await readdir(options.archiveDir).catch(() => [] as string[]);
  if (names.some((n) => n.endsWith(".zst") || n.endsWith(".age") || n.endsWith(".stream"))) {
    // pg_waldump reads plain segments only: decompress (and decrypt) into a private scratch folder first.
    const scratch = await mkdtemp(path.join(os.tmpdir(), "lifeboat-wal-"));
    try {
      const failures = await materializeArchive(options.archiveDir, scratch, names, options.identities);
      const window = await computeRecoverableWindow({ ...options, archiveDir: scratch, cacheScope: options.archiveDir });
      return { ...window, problems: [...failures, ...window.problems] };
    } finally {
      await rm(scratch, { recursive: true, force: true });
    }
  }
  const segmentSize = options.baseBackups[0]?.walSegmentSize ?? DEFAULT_SEGMENT_SIZE;
  const archive = await listArchive(options.archiveDir, segmentSize);
  const timeline = options.timeline ?? archive.newestTimeline;
  const ancestry = timelineAncestry(timeline, archive.histories.get(timeline));
  const problems = new Set<string>();
  const restorePoints = new Map<string, RestorePoint>();
  const ranges: WindowRange[] = [];

  const bases = options.baseBackups
    .filter((b) => b.kind === "base" && b.walStopLsn && b.timeline !== undefined)
    .filter((b) => onAncestry(ancestry, b.timeline!, parseLsn(b.walStopLsn!)))
    .sort((a, b) => (parseLsn(a.walStopLsn!) < parseLsn(b.walStopLsn!) ? -1 : 1));

  // Chains of contiguous segments, computed once and shared by the base backups inside them.
  let chain: { start: bigint; end: bigint; scan: { to: WindowPoint; endReason: string } } | undefined;
  for (const base of bases) {
    const stop = parseLsn(base.walStopLsn!);
    const startSeg = segmentOf(stop, segmentSize);
    if (!chain || startSeg < chain.start || startSeg > chain.end) {
      chain = await walkChain(startSeg, base);
      if (!chain) {
        const at = isoMicros(base.finishedAt);
        ranges.push({
          timeline,
          base: base.artifact,
          from: { time: at, lsn: base.walStopLsn! },
          to: { time: at, lsn: base.walStopLsn! },
          endReason: `no archived WAL after the backup (${segmentFileName(timelineForSegment(ancestry, startSeg, segmentSize), startSeg, segmentSize)} missing)`,
        });
        continue;
      }
    }
    const to = chain.scan.to;
    const fromTime = isoMicros(base.finishedAt);
    ranges.push({
      timeline,
      base: base.artifact,
      from: { time: fromTime, lsn: base.walStopLsn! },
      to: to.time < fromTime ? { ...to, time: fromTime } : to,
      endReason: chain.scan.endReason,
    });
  }

  return { timeline, ranges, stretches: mergeRanges(ranges), restorePoints: [...restorePoints.values()], problems: [...problems] };

  async function walkChain(startSeg: bigint, base: Manifest) {
    let segno = startSeg;
    let endReason = "end of the archive";
    const runs: { timeline: number; first: bigint; last: bigint }[] = [];
    for (;;) {
      const tli = timelineForSegment(ancestry, segno, segmentSize);
      const name = segmentFileName(tli, segno, segmentSize);
      const file = archive.segments.get(`${tli}:${segno}`);
      if (!file) {
        // The newest segment is normally still being written: only a hole before later segments is a problem.
        if (hasLaterSegment(segno)) {
          endReason = `segment ${name} is missing from the archive`;
          problems.add(endReason);
        }
        break;
      }
      if (file.size !== segmentSize) {
        endReason = `segment ${name} is truncated (${file.size} of ${segmentSize} bytes)`;
        problems.add(endReason);
        break;
      }
      const run = runs.at(-1);
      if (run && run.timeline === tli && run.last === segno - 1n) run.last = segno;
      else runs.push({ timeline: tli, first: segno, last: segno });
      segno += 1n;
    }
    if (runs.length === 0) return undefined;

    let to: WindowPoint = { time: isoMicros(base.finishedAt), lsn: base.walStopLsn! };
    let lastSegEnd = segno * BigInt(segmentSize);
    for (const [index, run] of runs.entries()) {
      const scan = await scanRun(run);
      for (const point of scan.restorePoints) restorePoints.set(point.name, { name: point.name, lsn: formatLsn(point.lsn), timeline: run.timeline });
      // The time is the last commit's; the position is the last readable record's, so a restore
      // point written after the last commit (as every backup set writes one) is still reachable.
      if (scan.lastCommit) to = { ...to, time: scan.lastCommit.time };
      if (scan.lastRecordLsn !== undefined) to = { ...to, lsn: formatLsn(scan.lastRecordLsn) };
      const lastRun = index === runs.length - 1;
      const errorInLastSegment = scan.errorAt !== undefined && segmentOf(scan.errorAt, segmentSize) >= run.last;
      if (scan.errorAt !== undefined && !(lastRun && errorInLastSegment)) {
        const bad = segmentFileName(run.timeline, segmentOf(scan.errorAt, segmentSize), segmentSize);
        endReason = `segment ${bad} is damaged at ${formatLsn(scan.errorAt)} (${scan.errorMessage ?? "unreadable record"})`;
        problems.add(endReason);
        lastSegEnd = scan.errorAt;
        break;
      }
    }
    return { start: startSeg, end: segmentOf(lastSegEnd - 1n, segmentSize), scan: { to, endReason } };
  }

  /** One run of contiguous segments: the summaries remembered for its first ones, pg_waldump for the rest. */
  async function scanRun(run: { timeline: number; first: bigint; last: bigint }): Promise<ScanResult> {
    const scope = options.cacheScope ?? options.archiveDir;
    const keyOf = (segno: bigint) => SegmentSummaryCache.key(scope, run.timeline, archive.segments.get(`${run.timeline}:${segno}`)!);
    const now = Date.now();
    const result = emptyScan();
    let segno = run.first;
    for (; segno < run.last; segno++) {
      const summary = windowSummaries.get(keyOf(segno), now);
      if (!summary) break;
      fold(result, summary);
    }
    const summaries = new Map<bigint, SegmentSummary>();
    const scan = await scanSegments(
      options.archiveDir,
      run.timeline,
      segmentFileName(run.timeline, segno, segmentSize),
      segmentFileName(run.timeline, run.last, segmentSize),
      options.pgBinDir,
      options.signal,
      { segmentSize, summaries },
    );
    fold(result, scan);
    result.errorAt = scan.errorAt;
    result.errorMessage = scan.errorMessage;
    // Settled: every segment read before the run's last one (whose final record may continue in a
    // segment not archived yet) and before any damage.
    const damaged = scan.errorAt === undefined ? undefined : segmentOf(scan.errorAt, segmentSize);
    for (let s = segno; s < run.last && (damaged === undefined || s < damaged); s++)
      windowSummaries.set(keyOf(s), summaries.get(s) ?? { lastRecordLsn: undefined, lastCommit: undefined, restorePoints: [], maxXid: undefined }, now);
    return result;
  }

  function hasLaterSegment(segno: bigint): boolean {
    for (const key of archive.segments.keys()) {
      const [tli, seg] = key.split(":");
      if (BigInt(seg!) > segno && ancestry.some((span) => span.timeline === Number(tli))) return true;
    }
    return false;
  }
}

export async function materializeArchive(archiveDir: string, scratch: string, names: string[], identities: string[] = []): Promise<string[]> {
  const failures: string[] = [];
  if (names.some((n) => n.endsWith(".age")) && identities.length === 0) {
    throw new EncryptionError("The WAL archive is encrypted: set LIFEBOAT_AGE_IDENTITY_FILE to the key that decrypts it.");
  }
  for (const name of names) {
    if (name.startsWith(".") || name.endsWith(".sha256")) continue;
    const source = path.join(archiveDir, name);
    try {
      if (name.endsWith(".zst.age") || name.endsWith(".age")) {
        const encrypted = name.endsWith(".zst.age");
        const plainName = name.slice(0, encrypted ? -".zst.age".length : -".age".length);
        const decrypted = path.join(scratch, encrypted ? `${plainName}.zst` : plainName);
        await pipeline(await decryptStream(createReadStream(source), identities), createWriteStream(decrypted, { mode: 0o600 }));
        if (encrypted) {
          await execChild("zstd", ["-dqf", "--rm", "-o", path.join(scratch, plainName), decrypted], { timeoutMs: 120_000 });
        }
      } else if (name.endsWith(".stream")) {
        // A streamed newest segment stands in for the whole one until that is archived.
        const plainName = name.slice(0, -".stream".length);
        if (!holdsSegment(names, plainName)) {
          await symlink(source, path.join(scratch, plainName));
        }
      } else if (name.endsWith(".zst")) {
        await execChild("zstd", ["-dqf", "-o", path.join(scratch, name.slice(0, -4)), source], { timeoutMs: 120_000 });
      } else {
        await symlink(source, path.join(scratch, name));
      }
    } catch {
      const plainName = name.replace(/(\.zst)?(\.age)?$/, "");
      await rm(path.join(scratch, plainName), { force: true });
      failures.push(`segment ${name} cannot be ${name.endsWith(".age") ? "decrypted" : "decompressed"}`);
    }
  }
  return failures;
}

function onAncestry(ancestry: TimelineSpan[], timeline: number, lsn: bigint): boolean {
  const span = ancestry.find((s) => s.timeline === timeline);
  if (!span) return false;
  return lsn >= span.begin && (span.end === null || lsn <= span.end);
}

/** Merge overlapping ranges of one timeline into stretches, oldest first. */
export function mergeRanges(ranges: WindowRange[]): WindowStretch[] {
  const sorted = [...ranges].sort((a, b) => a.timeline - b.timeline || (parseLsn(a.from.lsn) < parseLsn(b.from.lsn) ? -1 : 1));
  const stretches: WindowStretch[] = [];
  for (const range of sorted) {
    const last = stretches.at(-1);
    if (last && last.timeline === range.timeline && parseLsn(range.from.lsn) <= parseLsn(last.to.lsn)) {
      last.bases.push(range.base);
      if (parseLsn(range.to.lsn) > parseLsn(last.to.lsn)) {
        last.to = range.to;
        last.endReason = range.endReason;
      }
      continue;
    }
    stretches.push({ timeline: range.timeline, from: range.from, to: range.to, bases: [range.base], endReason: range.endReason });
  }
  return stretches;
}

/** Whether 32-bit transaction id a comes after b (modulo-2^32 comparison, as PostgreSQL does). */
export function xidAfter(a: number, b: number): boolean {
  const diff = (a - b) >>> 0;
  return diff !== 0 && diff < 0x80000000;
}
