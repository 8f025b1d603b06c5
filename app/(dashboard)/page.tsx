import { ActiveRuns } from "@/components/overview/active-runs-client";
import { TargetStatusCard } from "@/components/overview/target-status-card";
import { Card } from "@/components/ui/card";
import { EmptyState } from "@/components/ui/empty-state";
import { Forbidden } from "@/components/ui/forbidden";
import { PageHeader } from "@/components/ui/page-header";
import { can } from "@/lib/auth/permissions";
import { getDb } from "@/lib/db/client";
import { getEnv } from "@/lib/env";
import { loadActiveRuns, loadOverview } from "@/lib/web/overview-data";
import { requirePageUser } from "@/lib/web/page-user";

export const dynamic = "force-dynamic";

export default async function OverviewPage() {
  const user = await requirePageUser();
  if (!can(user, "health.read")) return <Forbidden permission="health.read" role={user.role} />;
  const db = await getDb();
  const now = new Date();
  const [targets, active] = await Promise.all([loadOverview(db, getEnv(), now), loadActiveRuns(db)]);
  return (
    <>
      <PageHeader
        title="Overview"
        description="Every target: can Lifeboat reach it, what last succeeded, what runs next, and what a disaster now would lose."
      />
      <div className="space-y-6">
        <Card title="Running operations" aria-label="Running operations">
          {active.length ? (
            <ActiveRuns
              runs={active.map((r) => ({ id: r.id, kind: r.kind, target: r.target, triggeredBy: r.triggeredBy, queuedAt: r.queuedAt.toISOString() }))}
            />
          ) : (
            <p className="text-sm text-slate-500 dark:text-slate-400">Nothing is running. Backups start on their schedule, or from the Backups page.</p>
          )}
        </Card>
        {targets.length === 0 ? (
          <EmptyState title="No target yet">Add one on the Settings page, or set DB_HOST, DB_NAME and DB_USER in .env.</EmptyState>
        ) : null}
        {targets.map((t) => (
          <TargetStatusCard
            key={t.name}
            name={t.name}
            address={t.address}
            probe={t.probe}
            kinds={t.kinds}
            rpo={t.rpo}
            rpoTargetSeconds={t.rpoTargetSeconds}
            health={t.health}
            now={now}
          />
        ))}
      </div>
    </>
  );
}
