/** 2026-01-15T02:00:00.000Z → "2026-01-15 02:00:00 UTC" (the dashboard shows instants in UTC, labelled). */
export function formatUtc(date: Date | string, options: { seconds?: boolean } = {}): string {
  const iso = (typeof date === "string" ? new Date(date) : date).toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, options.seconds === false ? 16 : 19)} UTC`;
}

/** 850 → "0.9 s", 75_000 → "1 min 15 s", 4_000_000 → "1 h 6 min". */
export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms) || ms < 0) return "–";
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s`;
  const seconds = Math.round(ms / 1000);
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ${seconds % 60} s`;
  return `${Math.floor(seconds / 3600)} h ${Math.floor((seconds % 3600) / 60)} min`;
}
