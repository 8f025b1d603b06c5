import { redirect } from "next/navigation";
import { SignOutButton } from "@/components/auth/sign-out-button-client";
import { TargetStatusCard } from "@/components/overview/target-status-card";
import { can } from "@/lib/auth/permissions";
import { getSessionUser } from "@/lib/auth/session";
import { describeConnection } from "@/lib/engine/pg/connection";
import { getEnv } from "@/lib/env";
import { defaultTargetConnection } from "@/lib/targets/default-target";
import { probeTarget } from "@/lib/targets/probe-target";

export const dynamic = "force-dynamic";

export default async function OverviewPage() {
  const user = await getSessionUser();
  if (!user || !can(user, "health.read")) redirect("/signin");

  const env = getEnv();
  const connection = defaultTargetConnection(env);
  const probe = await probeTarget(connection);

  return (
    <div className="mx-auto max-w-5xl p-6">
      <header className="flex items-center justify-between border-b border-slate-200 pb-4">
        <h1 className="text-2xl font-semibold">Lifeboat</h1>
        <div className="flex items-center gap-3 text-sm">
          <span data-testid="signed-in-as">
            {user.email} · {user.role}
          </span>
          <SignOutButton />
        </div>
      </header>
      <main className="mt-6 space-y-6">
        <TargetStatusCard name={env.DB_TARGET_NAME} address={describeConnection(connection)} probe={probe} />
      </main>
    </div>
  );
}
