/**
 * What the PITR page shows, as plain serialisable data (the server loads it, client components
 * draw it), and the few time helpers both sides need. No server-only imports: the picker uses it.
 */

export type PitrPoint = { time: string; lsn: string };

export type PitrStretchView = { from: PitrPoint; to: PitrPoint; bases: string[]; endReason: string };

export type PitrRestorePointView = {
  name: string;
  lsn: string;
  /** When it was written: a backup's end when a backup wrote it, else estimated from its WAL position. */
  time: string | null;
  estimated: boolean;
};

export type PitrTimelineView = {
  timeline: number;
  /** The timeline recovery follows (the newest): only its window can be picked. */
  followed: boolean;
  stretches: PitrStretchView[];
  restorePoints: PitrRestorePointView[];
  problems: string[];
};

export type PitrBaseView = {
  artifact: string;
  startedAt: string;
  finishedAt: string;
  sizeBytes: number;
  timeline: number | null;
  walStopLsn: string | null;
};

export type PitrTargetView = {
  name: string;
  /** The database an in-place recovery overwrites (typed to confirm it). */
  database: string;
  /** Whether this host knows the cluster's data directory (in place also works through an agent on the database host). */
  managedHere: boolean;
  bases: PitrBaseView[];
  timelines: PitrTimelineView[];
  /** When the window was read (the "now" line). */
  now: string;
  /** Why the window could not be read, in words. */
  error: string | null;
};

/** What the plan action returns for a moment: the base backup and the WAL to replay. */
export type PitrPlanView = {
  utc: string;
  described: string;
  base: { artifact: string; finishedAt: string; walStartLsn: string | null; walStopLsn: string | null; timeline: number | null };
  wal: {
    timeline: number;
    fromLsn: string;
    /** The LSN recovery aims for, or null for a time (it stops at the first commit after it). */
    targetLsn: string | null;
    firstSegment: string;
    /** The last segment that may be needed (the archive's end of this stretch). */
    lastSegment: string;
    segments: number;
    archiveReaches: PitrPoint;
  };
};

export type PitrRowCount = { table: string; recovered: number | null; live: number | null };

/** runs.result.data of a finished PITR run (lib/operations/pitr.ts verdict). */
export type PitrRunData = {
  mode: "new-instance" | "in-place";
  port: number;
  dataDir?: string | null;
  timeline: number;
  lastReplayed: string | null;
  preview: PitrRowCount[] | null;
  warnings: string[];
};

/** A recovered instance that a run left on this host (admins can look into it or stop it). */
export type RecoveredInstanceView = {
  runId: number;
  recoveredTo: string;
  finishedAt: string | null;
  running: boolean;
  data: PitrRunData;
};

export type RecoveredRowsView = { table: string; columns: string[]; rows: string[][]; limit: number };

/** ISO-8601 UTC with microseconds (as the engine compares times): "2026-01-15T14:30:00.000000Z". */
export function isoMicros(value: string | Date): string {
  const iso = typeof value === "string" ? value : value.toISOString();
  const match = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d+))?Z$/.exec(iso);
  if (!match) return iso;
  return `${match[1]}.${(match[2] ?? "").padEnd(6, "0").slice(0, 6)}Z`;
}

/** The UTC instant to send for a moment, to the second ("2026-01-15T14:30:00Z"). */
export function utcSeconds(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(".000Z", "Z");
}

/** The stretch of the followed timeline that holds a moment, if any (the same test as the planner's). */
export function stretchHolding(target: PitrTargetView, ms: number): PitrStretchView | undefined {
  const followed = target.timelines.find((t) => t.followed);
  if (!followed) return undefined;
  const at = isoMicros(new Date(ms));
  return followed.stretches.find((s) => isoMicros(s.from.time) <= at && at <= isoMicros(s.to.time));
}

/** A `datetime-local` value (with seconds) for an instant, as a wall clock in `zone` (the browser's). */
export function toLocalInput(ms: number, zone: string): string {
  const parts = new Intl.DateTimeFormat("en-US", {
    timeZone: zone,
    hourCycle: "h23",
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
  }).formatToParts(new Date(ms));
  const get = (type: string) => parts.find((p) => p.type === type)?.value ?? "00";
  return `${get("year")}-${get("month")}-${get("day")}T${get("hour")}:${get("minute")}:${get("second")}`;
}

/** The instant of a `datetime-local` value read in the browser's zone, or null when incomplete. */
export function fromLocalInput(value: string): number | null {
  const match = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?/.exec(value);
  if (!match) return null;
  const [, y, mo, d, h, mi, s = "0"] = match;
  const date = new Date(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s));
  return Number.isNaN(date.getTime()) ? null : date.getTime();
}

/** A moment in a zone, to the second: "29 Nov 2026, 14:30:05". */
export function formatMoment(value: string | number, zone: string, withDate = true): string {
  return new Intl.DateTimeFormat("en-GB", {
    timeZone: zone,
    ...(withDate ? { day: "numeric", month: "short", year: "numeric" } : {}),
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
    hourCycle: "h23",
  }).format(new Date(value));
}

/** Milliseconds of an ISO time that may carry microseconds. */
export function timeMs(iso: string): number {
  return Date.parse(iso.replace(/(\.\d{3})\d+(Z|[+-]\d{2}:?\d{2})$/, "$1$2"));
}
