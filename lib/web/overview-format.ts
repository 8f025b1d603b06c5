/** Times as the dashboard shows them: the UTC instant, and how far from now in words. Plain functions (server and client). */

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** "2026-01-15 02:00 UTC". */
export function formatUtc(date: Date | string | number): string {
  return `${new Date(date).toISOString().slice(0, 16).replace("T", " ")} UTC`;
}

/** A span in words: "45 s", "12 min", "3.5 h", "2.0 days". */
export function formatSpan(ms: number): string {
  const abs = Math.abs(ms);
  if (abs < MINUTE) return `${Math.round(abs / 1000)} s`;
  if (abs < 2 * HOUR) return `${Math.round(abs / MINUTE)} min`;
  if (abs < 2 * DAY) return `${(abs / HOUR).toFixed(1)} h`;
  return `${(abs / DAY).toFixed(1)} days`;
}

/** "3 h ago" / "in 12 min". */
export function relativeTo(date: Date | string | number, now: Date): string {
  const ms = new Date(date).getTime() - now.getTime();
  return ms < 0 ? `${formatSpan(ms)} ago` : `in ${formatSpan(ms)}`;
}
