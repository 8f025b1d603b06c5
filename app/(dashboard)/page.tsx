import { Suspense } from "react";
import { ActiveRuns } from "@/components/overview/active-runs-client";
import { TargetStatusCard } from "@/components/overview/target-status-card";
import { Card } from "@/components/ui/card";
import { EmptyState } from "@/components/ui/empty-state";
import { Forbidden } from "@/components/ui/forbidden";
import { PageHeader } from "@/components/ui/page-header";
import { Skeleton } from "@/components/ui/skeleton";
import { can } from "@/lib/auth/permissions";
import { getDb } from "@/lib/db/client";
import { getEnv } from "@/lib/env";
import { loadActiveRuns, loadOverview } from "@/lib/web/overview-data";
import { requirePageUser } from "@/lib/web/page-user";

export const dynamic = "force-dynamic";

export default async function OverviewPage() {
  const user = await requirePageUser();
  if (!can(user, "health.read")) return <Forbidden permission="health.read" role={user.role} />;
  const active = await loadActiveRuns(await getDb());
  return (
    <>
      <PageHeader
        title="Overview"
        description="Every target: can Lifeboat reach it, what last succeeded, what runs next, and what a disaster now would lose."
      />
      <div className="space-y-6">
        <Card title="Running operations" aria-label="Running operations">
          <ActiveRuns
            runs={active.map((r) => ({ id: r.id, kind: r.kind, target: r.target, triggeredBy: r.triggeredBy, queuedAt: r.queuedAt.toISOString() }))}
          />
        </Card>
        {/* Each target is probed and judged (a connection, the repository, the volume): the page does not wait for it. */}
        <Suspense fallback={<Skeleton className="h-72 w-full rounded-xl" />}>
          <TargetCards />
        </Suspense>
      </div>
    </>
  );
}

async function TargetCards() {
  const now = new Date();
  const targets = await loadOverview(await getDb(), getEnv(), now);
  if (targets.length === 0) return <EmptyState title="No target yet">Add one on the Settings page, or set DB_HOST, DB_NAME and DB_USER in .env.</EmptyState>;
  return (
    <>
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
    </>
  );
}
