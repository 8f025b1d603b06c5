import { LifeboatError } from "../errors";
import { parseLsn } from "../wal/wal-names";

export type RecoveryTarget =
  { kind: "time"; input: string; utc: Date; zone: string } | { kind: "name"; name: string } | { kind: "lsn"; lsn: string } | { kind: "latest" };

export class RecoveryTargetError extends LifeboatError {
  constructor(message: string) {
    super("BAD_RECOVERY_TARGET", message);
  }
}

/** Milliseconds the zone is ahead of UTC at an instant. */
function zoneOffset(instant: number, zone: string): number {
  const parts = new Intl.DateTimeFormat("en-US", {
    timeZone: zone,
    hourCycle: "h23",
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
  }).formatToParts(new Date(instant));
  const get = (type: string) => Number(parts.find((p) => p.type === type)?.value);
  const local = Date.UTC(get("year"), get("month") - 1, get("day"), get("hour"), get("minute"), get("second"));
  return local - Math.floor(instant / 1000) * 1000;
}

export function isValidZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/**
 * "2026-01-15 14:30:00" (no offset) is read in `zone` (LIFEBOAT_TIMEZONE, default UTC);
 * "2026-01-15T14:30:00+07:00" or "…Z" carries its own offset.
 */
export function parseRecoveryTime(input: string, zone: string): Date {
  if (!isValidZone(zone)) throw new RecoveryTargetError(`Unknown time zone ${JSON.stringify(zone)} (use an IANA name such as UTC or Asia/Jakarta).`);
  const match = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6}))?)?\s*(Z|[+-]\d{2}(?::?\d{2})?)?$/i.exec(input.trim());
  if (!match)
    throw new RecoveryTargetError(
      `Not a time: ${JSON.stringify(input)}; write it as "2026-01-15 14:30:00" (${zone}) or with an offset ("2026-01-15T14:30:00+07:00").`,
    );
  const [, y, mo, d, h, mi, s = "0", frac = "0", offset] = match;
  const ms = Math.round(Number(`0.${frac}`) * 1000);
  const wall = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s), ms);
  const check = new Date(wall);
  if (check.getUTCMonth() !== Number(mo) - 1 || check.getUTCDate() !== Number(d) || Number(h) > 23 || Number(mi) > 59 || Number(s) > 59) {
    throw new RecoveryTargetError(`Not a valid date and time: ${JSON.stringify(input)}.`);
  }
  if (offset) {
    if (offset.toUpperCase() === "Z") return new Date(wall);
    const om = /^([+-])(\d{2}):?(\d{2})?$/.exec(offset)!;
    const minutes = Number(om[2]) * 60 + Number(om[3] ?? 0);
    return new Date(wall - (om[1] === "+" ? 1 : -1) * minutes * 60_000);
  }
  // Two passes: the zone's offset at the guessed instant may differ around a DST change.
  let utc = wall - zoneOffset(wall, zone);
  const second = zoneOffset(utc, zone);
  if (wall - second !== utc) utc = wall - second;
  return new Date(utc);
}

export function parseRecoveryTarget(
  input: { time?: string | undefined; name?: string | undefined; lsn?: string | undefined; latest?: boolean | undefined },
  zone: string,
): RecoveryTarget {
  const given = [input.time !== undefined, input.name !== undefined, input.lsn !== undefined, Boolean(input.latest)].filter(Boolean).length;
  if (given !== 1) throw new RecoveryTargetError("Give exactly one recovery target: a time, --name <restore point>, --lsn <lsn> or latest.");
  if (input.latest) return { kind: "latest" };
  if (input.name !== undefined) {
    if (!input.name.trim() || input.name.length > 63) throw new RecoveryTargetError("A restore point name has 1 to 63 characters.");
    return { kind: "name", name: input.name };
  }
  if (input.lsn !== undefined) {
    try {
      parseLsn(input.lsn);
    } catch (error) {
      throw new RecoveryTargetError((error as Error).message);
    }
    return { kind: "lsn", lsn: input.lsn.toUpperCase() };
  }
  return { kind: "time", input: input.time!, utc: parseRecoveryTime(input.time!, zone), zone };
}

export function describeTarget(target: RecoveryTarget): string {
  switch (target.kind) {
    case "time":
      return `time ${target.utc.toISOString()} (UTC; "${target.input}" read in ${target.zone})`;
    case "name":
      return `restore point "${target.name}"`;
    case "lsn":
      return `WAL position ${target.lsn}`;
    case "latest":
      return "the latest archived moment";
  }
}
