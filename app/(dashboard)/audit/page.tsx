import Link from "next/link";
import { AuditTable } from "@/components/audit/audit-table";
import { VerifyChain } from "@/components/audit/verify-chain-client";
import { Card } from "@/components/ui/card";
import { EmptyState } from "@/components/ui/empty-state";
import { Forbidden } from "@/components/ui/forbidden";
import { PageHeader } from "@/components/ui/page-header";
import { AUDIT_PAGE_SIZE, listAuditRows } from "@/lib/audit/query-audit";
import { getDb } from "@/lib/db/client";
import { auditFiltersQuery, parseAuditFilters } from "@/lib/validations/audit";
import { pageUserWith } from "@/lib/web/page-user";

export const dynamic = "force-dynamic";

const inputClass = "mt-1 block w-full rounded-md border border-slate-300 bg-white px-3 py-1.5 text-sm dark:border-slate-700 dark:bg-slate-950";
const linkButton =
  "inline-flex items-center rounded-md border border-slate-300 bg-white px-3 py-1.5 text-sm font-medium hover:bg-slate-100 dark:border-slate-700 dark:bg-slate-900 dark:hover:bg-slate-800";

export default async function AuditPage({ searchParams }: { searchParams: Promise<Record<string, string | string[] | undefined>> }) {
  const { user, allowed } = await pageUserWith("audit.read");
  if (!allowed) return <Forbidden permission="audit.read" role={user.role} />;
  const { filters, page } = parseAuditFilters(await searchParams);
  const { rows, total } = await listAuditRows(await getDb(), filters, page);
  const pages = Math.max(1, Math.ceil(total / AUDIT_PAGE_SIZE));
  const filtered = Object.keys(filters).length > 0;

  return (
    <>
      <PageHeader
        title="Audit log"
        description="Every sign-in, operation and change, allowed or refused. Each row is sealed to the one before it, so an edited or deleted row breaks the chain."
        actions={
          <a href={`/api/audit/export${auditFiltersQuery(filters)}`} className={linkButton} download>
            Export CSV
          </a>
        }
      />
      <div className="space-y-6">
        <Card title="Chain">
          <VerifyChain />
        </Card>

        <Card title="Filter">
          <form method="get" className="grid gap-3 sm:grid-cols-3 lg:grid-cols-[2fr_2fr_1fr_1fr_1fr_auto] lg:items-end">
            <label className="block text-sm font-medium">
              Actor
              <input name="actor" type="search" defaultValue={filters.actor ?? ""} placeholder="email contains" className={inputClass} />
            </label>
            <label className="block text-sm font-medium">
              Action
              <input name="action" type="search" defaultValue={filters.action ?? ""} placeholder="e.g. auth. or backups.restore" className={inputClass} />
            </label>
            <label className="block text-sm font-medium">
              Outcome
              <select name="outcome" defaultValue={filters.outcome ?? ""} className={inputClass}>
                <option value="">any</option>
                <option value="succeeded">succeeded</option>
                <option value="denied">denied</option>
                <option value="failed">failed</option>
                <option value="allowed">allowed</option>
              </select>
            </label>
            <label className="block text-sm font-medium">
              From (UTC)
              <input name="from" type="date" defaultValue={filters.from ?? ""} className={inputClass} />
            </label>
            <label className="block text-sm font-medium">
              To (UTC)
              <input name="to" type="date" defaultValue={filters.to ?? ""} className={inputClass} />
            </label>
            <div className="flex gap-2">
              <button type="submit" className={linkButton}>
                Filter
              </button>
              {filtered ? (
                <Link href="/audit" className={linkButton}>
                  Clear
                </Link>
              ) : null}
            </div>
          </form>
        </Card>

        <Card title={`${total} row${total === 1 ? "" : "s"}${filtered ? " match" : ""}`}>
          {rows.length === 0 ? (
            <EmptyState title={filtered ? "No row matches these filters" : "Nothing recorded yet"}>
              {filtered ? "Widen the dates or clear a filter." : "Sign-ins, operations and changes appear here as they happen."}
            </EmptyState>
          ) : (
            <AuditTable rows={rows} />
          )}
          {pages > 1 ? (
            <nav aria-label="Pages" className="mt-4 flex flex-wrap items-center gap-2 text-sm">
              {page > 1 ? (
                <Link className={linkButton} href={`/audit${auditFiltersQuery(filters, { page: page - 1 })}`}>
                  Newer
                </Link>
              ) : null}
              <span>
                Page {Math.min(page, pages)} of {pages}
              </span>
              {page < pages ? (
                <Link className={linkButton} href={`/audit${auditFiltersQuery(filters, { page: page + 1 })}`}>
                  Older
                </Link>
              ) : null}
            </nav>
          ) : null}
        </Card>
      </div>
    </>
  );
}
