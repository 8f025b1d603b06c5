import Link from "next/link";
import { ARTIFACT_STATUSES, HISTORY_PAGE_SIZES, type TBackupHistoryFilters } from "@/lib/catalog/list-backup-history";
import { ARTIFACT_KINDS } from "@/lib/engine/repository/artifact-kinds";

const KIND_NAMES: Record<(typeof ARTIFACT_KINDS)[number], string> = {
  full: "Full dump",
  schema: "Schema",
  json: "JSON export",
  env: "Environment",
  base: "Base backup",
};

const field = "mt-1 block w-full rounded-md border border-slate-300 bg-white px-2 py-1.5 text-sm dark:border-slate-700 dark:bg-slate-900";

/**
 * The history's filters as a plain GET form: the URL holds the state (shareable, back button
 * works), and it works before any JavaScript has loaded. Applying resets to the first page.
 */
export function HistoryFilters({ filters, targetNames }: { filters: TBackupHistoryFilters; targetNames: string[] }) {
  return (
    <form method="get" action="/backups" aria-label="Filter backups" className="mb-4 grid grid-cols-2 gap-3 sm:grid-cols-4 lg:grid-cols-8">
      <label className="text-sm">
        Target
        <select name="target" defaultValue={filters.target ?? ""} className={field}>
          <option value="">All targets</option>
          {targetNames.map((name) => (
            <option key={name} value={name}>
              {name}
            </option>
          ))}
        </select>
      </label>
      <label className="text-sm">
        Kind
        <select name="kind" defaultValue={filters.kind ?? ""} className={field}>
          <option value="">All kinds</option>
          {ARTIFACT_KINDS.map((kind) => (
            <option key={kind} value={kind}>
              {KIND_NAMES[kind]}
            </option>
          ))}
        </select>
      </label>
      <label className="text-sm">
        Status
        <select name="status" defaultValue={filters.status ?? ""} className={field}>
          <option value="">Any status</option>
          {ARTIFACT_STATUSES.map((status) => (
            <option key={status} value={status}>
              {status}
            </option>
          ))}
        </select>
      </label>
      <label className="text-sm">
        Verified
        <select name="verified" defaultValue={filters.verified ?? ""} className={field}>
          <option value="">Any</option>
          <option value="ok">Verified</option>
          <option value="failed">Failed its check</option>
          <option value="never">Never verified</option>
        </select>
      </label>
      <label className="text-sm">
        From (UTC)
        <input type="date" name="from" defaultValue={filters.from ?? ""} className={field} />
      </label>
      <label className="text-sm">
        To (UTC)
        <input type="date" name="to" defaultValue={filters.to ?? ""} className={field} />
      </label>
      <label className="text-sm">
        Per page
        <select name="pageSize" defaultValue={String(filters.pageSize)} className={field}>
          {HISTORY_PAGE_SIZES.map((n) => (
            <option key={n} value={n}>
              {n}
            </option>
          ))}
        </select>
      </label>
      <input type="hidden" name="sort" value={filters.sort} />
      <input type="hidden" name="dir" value={filters.dir} />
      <div className="flex items-end gap-2">
        <button
          type="submit"
          className="rounded-md bg-slate-900 px-3 py-1.5 text-sm font-medium text-white hover:bg-slate-700 dark:bg-slate-100 dark:text-slate-900 dark:hover:bg-white"
        >
          Apply
        </button>
        <Link href="/backups" className="px-1 py-1.5 text-sm underline underline-offset-2">
          Clear
        </Link>
      </div>
    </form>
  );
}

export { KIND_NAMES };
