import { PitrPageClient } from "@/components/pitr/pitr-page-client";
import { Forbidden } from "@/components/ui/forbidden";
import { PageHeader } from "@/components/ui/page-header";
import { can } from "@/lib/auth/permissions";
import { getDb } from "@/lib/db/client";
import { getEnv } from "@/lib/env";
import { requirePageUser } from "@/lib/web/page-user";
import { loadPitrTarget, loadRecoveredInstances, pitrTargetNames } from "@/lib/web/pitr-data";

export const dynamic = "force-dynamic";

/** A target selector that works without JavaScript (a GET form). */
function TargetSelector({ names, current }: { names: string[]; current: string }) {
  return (
    <form method="get" className="flex items-end gap-2">
      <div>
        <label htmlFor="pitr-target" className="block text-sm font-medium">
          Target
        </label>
        <select
          id="pitr-target"
          name="target"
          defaultValue={current}
          className="mt-1 rounded-md border border-slate-300 bg-white px-2 py-1.5 text-sm dark:border-slate-700 dark:bg-slate-900"
        >
          {names.map((n) => (
            <option key={n} value={n}>
              {n}
            </option>
          ))}
        </select>
      </div>
      <button type="submit" className="rounded-md border border-slate-300 px-3 py-1.5 text-sm dark:border-slate-700">
        Show
      </button>
    </form>
  );
}

export default async function PitrPage({ searchParams }: { searchParams: Promise<{ target?: string | string[] }> }) {
  const user = await requirePageUser();
  if (!can(user, "backups.read")) return <Forbidden permission="backups.read" role={user.role} />;
  const env = getEnv();
  const db = await getDb();
  const names = await pitrTargetNames(env, db);
  const requested = (await searchParams).target;
  const name = typeof requested === "string" && names.includes(requested) ? requested : names[0];
  const view = await loadPitrTarget(env, db, name);
  const canAct = can(user, "backups.pitr");
  const instances = canAct ? await loadRecoveredInstances(env, db, view.name) : [];
  return (
    <>
      <PageHeader
        title="Point-in-time recovery"
        description="Every moment between a base backup's end and the last archived commit can be recovered: into a new instance to look at, or in place."
        actions={names.length > 1 ? <TargetSelector names={names} current={view.name} /> : null}
      />
      <PitrPageClient view={view} canAct={canAct} role={user.role} instances={instances} />
    </>
  );
}
