import { TargetStatusCard } from "@/components/overview/target-status-card";
import { Forbidden } from "@/components/ui/forbidden";
import { PageHeader } from "@/components/ui/page-header";
import { can } from "@/lib/auth/permissions";
import { getDb } from "@/lib/db/client";
import { describeConnection } from "@/lib/engine/pg/connection";
import { getEnv } from "@/lib/env";
import { probeTarget, type TargetProbe } from "@/lib/targets/probe-target";
import { listTargets, resolveTarget } from "@/lib/targets/resolve-target";
import { requirePageUser } from "@/lib/web/page-user";

export const dynamic = "force-dynamic";

type Card = { name: string; address: string; probe: TargetProbe };

/** Every target in the catalog (the default one, from DB_*, first), each probed. */
async function loadCards(): Promise<Card[]> {
  const env = getEnv();
  const db = await getDb();
  await resolveTarget({ env, db }); // registers the default target from DB_*
  const rows = await listTargets(db);
  rows.sort((a, b) => Number(b.name === env.DB_TARGET_NAME) - Number(a.name === env.DB_TARGET_NAME));
  return Promise.all(
    rows.map(async (row): Promise<Card> => {
      const address = `${row.username}@${row.host}:${row.port}/${row.database}`;
      try {
        const target = await resolveTarget({ env, db, name: row.name });
        return { name: target.name, address: describeConnection(target.connection), probe: await probeTarget(target.connection) };
      } catch (error) {
        return { name: row.name, address, probe: { ok: false, error: (error as Error).message } };
      }
    }),
  );
}

export default async function OverviewPage() {
  const user = await requirePageUser();
  if (!can(user, "health.read")) return <Forbidden permission="health.read" role={user.role} />;
  const cards = await loadCards();
  return (
    <>
      <PageHeader title="Overview" />
      <div className="space-y-6">
        {cards.map((card) => (
          <TargetStatusCard key={card.name} name={card.name} address={card.address} probe={card.probe} />
        ))}
      </div>
    </>
  );
}
