import Link from "next/link";
import { StateBadge } from "@/components/ui/state-badge";
import type { BackupHistoryPage, TBackupHistoryFilters } from "@/lib/catalog/list-backup-history";
import { formatBytes } from "@/lib/format";
import { formatDuration, formatUtc } from "./format";
import { KIND_NAMES } from "./history-filters";
import { historyHref } from "./history-href";
import { RestoreButton } from "./restore-dialog-client";
import { VerifiedState } from "./verified-state";

type SortKey = TBackupHistoryFilters["sort"];

/** A column header that sorts by its key; a second click turns the order around. */
function SortHeader({ label, sortKey, filters, className = "" }: { label: string; sortKey: SortKey; filters: TBackupHistoryFilters; className?: string }) {
  const active = filters.sort === sortKey;
  const nextDir = active && filters.dir === "desc" ? "asc" : "desc";
  return (
    <th scope="col" aria-sort={active ? (filters.dir === "asc" ? "ascending" : "descending") : "none"} className={`px-3 py-2 font-medium ${className}`}>
      <Link href={historyHref(filters, { sort: sortKey, dir: nextDir, page: 1 })} className="inline-flex items-center gap-1 hover:underline">
        {label}
        <span aria-hidden="true" className="text-slate-400">
          {active ? (filters.dir === "asc" ? "▲" : "▼") : "↕"}
        </span>
        <span className="sr-only">{active ? `, sorted ${filters.dir === "asc" ? "ascending" : "descending"}; sort the other way` : ", sort by this"}</span>
      </Link>
    </th>
  );
}

/** One page of the backup history; admins get a restore control on full dumps and JSON exports. */
export function HistoryTable({ page, filters, canRestore }: { page: BackupHistoryPage; filters: TBackupHistoryFilters; canRestore: boolean }) {
  const first = (page.page - 1) * page.pageSize + 1;
  const last = first + page.rows.length - 1;
  return (
    <div>
      <div className="relative overflow-x-auto rounded-xl border border-slate-200 bg-white dark:border-slate-800 dark:bg-slate-900">
        <table className="w-full min-w-[760px] text-left text-sm" data-testid="backup-history">
          <caption className="sr-only">Backup history, {page.total} backups</caption>
          <thead className="border-b border-slate-200 text-slate-600 dark:border-slate-800 dark:text-slate-300">
            <tr>
              <SortHeader label="Started (UTC)" sortKey="date" filters={filters} />
              <th scope="col" className="px-3 py-2 font-medium">
                Backup
              </th>
              <SortHeader label="Size" sortKey="size" filters={filters} className="text-right" />
              <SortHeader label="Duration" sortKey="duration" filters={filters} className="text-right" />
              <th scope="col" className="px-3 py-2 font-medium">
                Verified
              </th>
              <th scope="col" className="px-3 py-2 font-medium">
                Status
              </th>
              {canRestore ? (
                <th scope="col" className="px-3 py-2 font-medium">
                  <span className="sr-only">Actions</span>
                </th>
              ) : null}
            </tr>
          </thead>
          <tbody>
            {page.rows.map((row) => (
              <tr
                key={row.id}
                data-testid="backup-row"
                data-kind={row.kind}
                data-run={row.runId ?? ""}
                className="border-b border-slate-100 last:border-0 dark:border-slate-800"
              >
                <td className="px-3 py-2 whitespace-nowrap">
                  <time dateTime={row.startedAt.toISOString()}>{formatUtc(row.startedAt, { seconds: false })}</time>
                </td>
                <td className="px-3 py-2">
                  <Link href={`/backups/${row.id}`} className="font-medium hover:underline">
                    {KIND_NAMES[row.kind]}
                  </Link>
                  <span className="ml-2 text-xs text-slate-500 dark:text-slate-400">{row.target}</span>
                  {row.encrypted ? <span className="ml-2 text-xs text-slate-500 dark:text-slate-400">encrypted</span> : null}
                  <div className="max-w-[22rem] truncate font-mono text-xs text-slate-500 dark:text-slate-400" title={row.fileName}>
                    {row.fileName}
                  </div>
                </td>
                <td className="px-3 py-2 text-right whitespace-nowrap tabular-nums" data-testid="backup-size">
                  {formatBytes(row.sizeBytes)}
                </td>
                <td className="px-3 py-2 text-right whitespace-nowrap tabular-nums" data-testid="backup-duration">
                  {formatDuration(row.durationMs)}
                </td>
                <td className="px-3 py-2">
                  <VerifiedState verifiedAt={row.verifiedAt} verifyStatus={row.verifyStatus} />
                </td>
                <td className="px-3 py-2">
                  <StateBadge state={row.status} />
                </td>
                {canRestore ? (
                  <td className="px-3 py-2 text-right">
                    {(row.kind === "full" || row.kind === "json") && row.status === "available" ? (
                      <RestoreButton backupId={row.id} label={`Restore ${row.fileName}`} />
                    ) : null}
                  </td>
                ) : null}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <nav aria-label="Pages" className="mt-3 flex flex-wrap items-center justify-between gap-2 text-sm">
        <p className="text-slate-500 dark:text-slate-400" data-testid="history-count">
          {page.rows.length ? `${first}–${last} of ${page.total}` : `No backups on page ${page.page} (${page.total} in all)`}
        </p>
        <div className="flex items-center gap-2">
          {page.page > 1 ? (
            <Link href={historyHref(filters, { page: Math.min(page.page - 1, page.pageCount) })} rel="prev" className="rounded-md border border-slate-300 px-3 py-1.5 dark:border-slate-700">
              ← Previous
            </Link>
          ) : null}
          <span aria-current="page">
            Page {page.page} of {page.pageCount}
          </span>
          {page.page < page.pageCount ? (
            <Link href={historyHref(filters, { page: page.page + 1 })} rel="next" className="rounded-md border border-slate-300 px-3 py-1.5 dark:border-slate-700">
              Next →
            </Link>
          ) : null}
        </div>
      </nav>
    </div>
  );
}
