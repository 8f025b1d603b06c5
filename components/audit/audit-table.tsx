import { StateBadge } from "@/components/ui/state-badge";
import type { AuditRow } from "@/lib/db/schema";

const OUTCOME_STATE: Record<string, string> = { succeeded: "succeeded", allowed: "ok", denied: "warning", failed: "failed" };

function detailsText(details: Record<string, unknown>): string {
  const text = JSON.stringify(details);
  return text === "{}" ? "" : text.length > 160 ? `${text.slice(0, 157)}…` : text;
}

function time(row: AuditRow): string {
  return row.at.toISOString().replace("T", " ").slice(0, 19);
}

/** Audit rows, newest first: a table, and on a phone one block per row instead of a table scrolling out of sight. */
export function AuditTable({ rows }: { rows: AuditRow[] }) {
  return (
    <>
      <ul className="divide-y divide-slate-200 text-sm sm:hidden dark:divide-slate-800">
        {rows.map((row) => (
          <li key={row.id} className="space-y-1 py-2">
            <div className="flex flex-wrap items-center gap-2">
              <span className="font-mono text-xs">#{row.id}</span>
              <span className="font-mono text-xs">{time(row)}</span>
              <StateBadge state={OUTCOME_STATE[row.outcome] ?? "queued"} label={row.outcome} />
            </div>
            <div className="break-all">
              <span className="font-mono text-xs">{row.action}</span> by {row.actorEmail ?? "anonymous"}
              {row.subject ? ` · ${row.subject}` : ""}
            </div>
            {detailsText(row.details) ? <div className="font-mono text-xs break-all text-slate-600 dark:text-slate-400">{detailsText(row.details)}</div> : null}
          </li>
        ))}
      </ul>
      <AuditRowsTable rows={rows} />
    </>
  );
}

function AuditRowsTable({ rows }: { rows: AuditRow[] }) {
  return (
    <div className="hidden overflow-x-auto sm:block">
      <table className="w-full min-w-[720px] text-left text-sm">
        <thead className="text-xs text-slate-500 uppercase dark:text-slate-400">
          <tr>
            <th scope="col" className="py-2 pr-3 font-medium">
              Row
            </th>
            <th scope="col" className="py-2 pr-3 font-medium">
              Time (UTC)
            </th>
            <th scope="col" className="py-2 pr-3 font-medium">
              Actor
            </th>
            <th scope="col" className="py-2 pr-3 font-medium">
              Action
            </th>
            <th scope="col" className="py-2 pr-3 font-medium">
              Outcome
            </th>
            <th scope="col" className="py-2 pr-3 font-medium">
              Subject
            </th>
            <th scope="col" className="py-2 font-medium">
              Details
            </th>
          </tr>
        </thead>
        <tbody>
          {rows.map((row) => (
            <tr key={row.id} data-testid={`audit-row-${row.id}`} className="border-t border-slate-200 align-top dark:border-slate-800">
              <td className="py-2 pr-3 font-mono text-xs">{row.id}</td>
              <td className="py-2 pr-3 font-mono text-xs whitespace-nowrap">{time(row)}</td>
              <td className="py-2 pr-3 break-all">{row.actorEmail ?? <span className="text-slate-500">anonymous</span>}</td>
              <td className="py-2 pr-3 font-mono text-xs">{row.action}</td>
              <td className="py-2 pr-3">
                <StateBadge state={OUTCOME_STATE[row.outcome] ?? "queued"} label={row.outcome} />
              </td>
              <td className="py-2 pr-3 break-all">{row.subject}</td>
              <td className="py-2 font-mono text-xs break-all text-slate-600 dark:text-slate-400">{detailsText(row.details)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
