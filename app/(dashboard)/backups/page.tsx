import Link from "next/link";
import { BackupNowButton } from "@/components/backups/backup-now-client";
import { HistoryFilters } from "@/components/backups/history-filters";
import { HistoryTable } from "@/components/backups/history-table";
import { EmptyState } from "@/components/ui/empty-state";
import { Forbidden } from "@/components/ui/forbidden";
import { PageHeader } from "@/components/ui/page-header";
import { can } from "@/lib/auth/permissions";
import { listBackupHistory, parseHistoryFilters } from "@/lib/catalog/list-backup-history";
import { getDb } from "@/lib/db/client";
import { listTargetNames } from "@/lib/web/backup-history";
import { requirePageUser } from "@/lib/web/page-user";

export const dynamic = "force-dynamic";

export default async function BackupsPage({ searchParams }: { searchParams: Promise<Record<string, string | string[] | undefined>> }) {
  const user = await requirePageUser();
  if (!can(user, "backups.read")) return <Forbidden permission="backups.read" role={user.role} />;
  const filters = parseHistoryFilters(await searchParams);
  const db = await getDb();
  const [page, targetNames] = await Promise.all([listBackupHistory(db, filters), listTargetNames(db)]);
  const canRun = can(user, "backups.run");
  const filtered = Boolean(filters.target || filters.kind || filters.status || filters.verified || filters.from || filters.to);

  return (
    <>
      <PageHeader
        title="Backups"
        description="Every backup in the catalog: open one for its manifest, its log and its files."
        actions={canRun ? <BackupNowButton target={filters.target} /> : undefined}
      />
      <HistoryFilters filters={filters} targetNames={targetNames} />
      {page.total === 0 && !filtered ? (
        <EmptyState title="No backups yet">
          {canRun ? (
            <>
              Take the first one with <strong>Back up now</strong> above, or run <code>npm run backup</code> on the server. Scheduled backups appear here too.
            </>
          ) : (
            <>
              An operator or admin can take the first one with <strong>Back up now</strong>, or run <code>npm run backup</code> on the server.
            </>
          )}
        </EmptyState>
      ) : page.total === 0 ? (
        <EmptyState title="No backup matches these filters">
          Widen the dates or choose another kind, or{" "}
          <Link href="/backups" className="underline underline-offset-2">
            clear the filters
          </Link>
          .
        </EmptyState>
      ) : (
        <HistoryTable page={page} filters={filters} canRestore={can(user, "backups.restore")} />
      )}
    </>
  );
}
