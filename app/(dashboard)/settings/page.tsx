import Link from "next/link";
import { RetentionPanel } from "@/components/settings/retention-client";
import { SchedulesList } from "@/components/settings/schedules-client";
import { TargetsPanel } from "@/components/settings/targets-client";
import { WebhooksPanel } from "@/components/settings/webhooks-client";
import { Card } from "@/components/ui/card";
import { EmptyState } from "@/components/ui/empty-state";
import { PageHeader } from "@/components/ui/page-header";
import { can } from "@/lib/auth/permissions";
import { getDb } from "@/lib/db/client";
import { getEnv } from "@/lib/env";
import { requirePageUser } from "@/lib/web/page-user";
import { loadSettings } from "@/lib/web/settings-data";

export const dynamic = "force-dynamic";

export default async function SettingsPage() {
  const user = await requirePageUser();
  const data = await loadSettings(await getDb(), getEnv());
  const manage = {
    targets: can(user, "targets.manage"),
    schedules: can(user, "schedules.manage"),
    retention: can(user, "retention.manage"),
    users: can(user, "users.manage"),
  };
  const readOnly = !manage.targets && !manage.schedules && !manage.retention;
  return (
    <>
      <PageHeader
        title="Settings"
        description={
          readOnly
            ? `Read-only for your role (${user.role}): an admin changes targets, schedules, retention and notifications.`
            : "Targets, schedules, retention and notifications. Every change is checked and recorded in the audit log."
        }
      />
      <div className="space-y-6">
        <Card title="Targets" aria-label="Targets">
          <TargetsPanel targets={data.targets} canManage={manage.targets} secretsKeySet={data.secretsKeySet} />
        </Card>
        <Card title="Schedules" aria-label="Schedules">
          <p className="mb-2 text-sm text-slate-500 dark:text-slate-400">
            Fired by the worker (npm run worker), once however many run. Times are read in each schedule&apos;s zone and shown in UTC.
          </p>
          {data.schedules.length ? (
            <SchedulesList schedules={data.schedules} canManage={manage.schedules} />
          ) : (
            <EmptyState title="No schedule yet">Each target gets the seed&apos;s schedules when a worker starts (npm run worker).</EmptyState>
          )}
        </Card>
        <Card title="Retention" aria-label="Retention">
          <RetentionPanel retention={data.retention} canManage={manage.retention} />
        </Card>
        <Card title="Notifications" aria-label="Notifications">
          <WebhooksPanel webhooks={data.webhooks} canManage={manage.targets} error={data.webhooksError} />
        </Card>
        <Card title="Users" aria-label="Users">
          <p className="text-sm">
            {manage.users ? (
              <Link href="/users" className="underline underline-offset-2">
                Manage users and roles
              </Link>
            ) : (
              "Users and roles are managed by an admin on the Users page."
            )}
          </p>
        </Card>
      </div>
    </>
  );
}
