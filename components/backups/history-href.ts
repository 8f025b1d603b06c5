import type { TBackupHistoryFilters } from "@/lib/catalog/list-backup-history";

const DEFAULTS: Partial<Record<keyof TBackupHistoryFilters, string>> = { sort: "date", dir: "desc", page: "1", pageSize: "50" };

/** The history's URL for these filters (defaults left out, so links stay short and shareable). */
export function historyHref(filters: TBackupHistoryFilters, changes: Partial<TBackupHistoryFilters> = {}): string {
  const merged = { ...filters, ...changes };
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(merged)) {
    if (value === undefined || value === null || value === "") continue;
    if (DEFAULTS[key as keyof TBackupHistoryFilters] === String(value)) continue;
    params.set(key, String(value));
  }
  const query = params.toString();
  return query ? `/backups?${query}` : "/backups";
}
