/** WAL positions, segment file names and timeline history files (PostgreSQL's own formats). */

export const DEFAULT_SEGMENT_SIZE = 16 * 1024 * 1024;

/** "0/3000028" → 50331688n */
export function parseLsn(text: string): bigint {
  const match = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/.exec(text.trim());
  if (!match) throw new Error(`Not a WAL position (LSN): ${JSON.stringify(text)}; expected something like 0/3000028`);
  return (BigInt(`0x${match[1]}`) << 32n) + BigInt(`0x${match[2]}`);
}

export function formatLsn(lsn: bigint): string {
  return `${(lsn >> 32n).toString(16).toUpperCase()}/${(lsn & 0xffffffffn).toString(16).toUpperCase()}`;
}

export function segmentOf(lsn: bigint, segmentSize = DEFAULT_SEGMENT_SIZE): bigint {
  return lsn / BigInt(segmentSize);
}

export function segmentFileName(timeline: number, segno: bigint, segmentSize = DEFAULT_SEGMENT_SIZE): string {
  const perId = 0x100000000n / BigInt(segmentSize);
  const hex = (n: bigint | number) => n.toString(16).toUpperCase().padStart(8, "0");
  return `${hex(timeline)}${hex(segno / perId)}${hex(segno % perId)}`;
}

export type ParsedSegment = { timeline: number; segno: bigint };

export function parseSegmentFileName(name: string, segmentSize = DEFAULT_SEGMENT_SIZE): ParsedSegment | undefined {
  const match = /^([0-9A-F]{8})([0-9A-F]{8})([0-9A-F]{8})$/.exec(name);
  if (!match) return undefined;
  const perId = 0x100000000n / BigInt(segmentSize);
  return { timeline: parseInt(match[1]!, 16), segno: BigInt(`0x${match[2]}`) * perId + BigInt(`0x${match[3]}`) };
}

export function historyFileName(timeline: number): string {
  return `${timeline.toString(16).toUpperCase().padStart(8, "0")}.history`;
}

/** One ancestor of a timeline: WAL of `timeline` is valid from `begin` up to `end` (exclusive). */
export type TimelineSpan = { timeline: number; begin: bigint; end: bigint | null };

/**
 * The ancestry of `timeline` from its history file text (lines "parentTLI\tswitchLSN\treason"),
 * oldest first, ending with the timeline itself (end null).
 */
export function timelineAncestry(timeline: number, historyText: string | undefined): TimelineSpan[] {
  const spans: TimelineSpan[] = [];
  let begin = 0n;
  for (const line of (historyText ?? "").split("\n")) {
    const trimmed = line.trim();
    if (!trimmed || trimmed.startsWith("#")) continue;
    const [tli, lsn] = trimmed.split(/\s+/);
    if (!tli || !lsn) continue;
    const end = parseLsn(lsn);
    spans.push({ timeline: Number(tli), begin, end });
    begin = end;
  }
  spans.push({ timeline, begin, end: null });
  return spans;
}

/** The timeline whose file holds segment `segno` when recovering along `ancestry` (newest first wins). */
export function timelineForSegment(ancestry: TimelineSpan[], segno: bigint, segmentSize = DEFAULT_SEGMENT_SIZE): number {
  for (let i = ancestry.length - 1; i >= 0; i--) {
    const span = ancestry[i]!;
    if (segmentOf(span.begin, segmentSize) <= segno) return span.timeline;
  }
  return ancestry[0]!.timeline;
}

/** The forms archive-wal stores a whole segment in (plain, zstd, age, both). */
const STORED_FORMS = ["", ".zst", ".age", ".zst.age"];

/** Whether an archive listing holds the whole segment (a .partial or a streamed .stream copy does not count). */
export function holdsSegment(names: Iterable<string>, segment: string): boolean {
  const set = names instanceof Set ? (names as Set<string>) : new Set(names);
  return STORED_FORMS.some((suffix) => set.has(`${segment}${suffix}`));
}
