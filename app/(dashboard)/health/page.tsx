import Link from "next/link";
import { BackupSeriesChart, DiskForecastChart, DrillRtoChart, SegmentAgeChart, WalHourChart } from "@/components/health/health-charts-client";
import { HealthCheckList } from "@/components/health/health-check-list";
import { Card } from "@/components/ui/card";
import { EmptyState } from "@/components/ui/empty-state";
import { Forbidden } from "@/components/ui/forbidden";
import { PageHeader } from "@/components/ui/page-header";
import { StateBadge } from "@/components/ui/state-badge";
import { can } from "@/lib/auth/permissions";
import { getDb } from "@/lib/db/client";
import { getEnv } from "@/lib/env";
import { formatBytes } from "@/lib/format";
import { worstState } from "@/lib/health/checks";
import { loadHealthPage } from "@/lib/web/health-data";
import { formatSpan, formatUtc, relativeTo } from "@/lib/web/overview-format";
import { requirePageUser } from "@/lib/web/page-user";

export const dynamic = "force-dynamic";

const muted = "text-sm text-slate-500 dark:text-slate-400";

export default async function HealthPage({ searchParams }: { searchParams: Promise<{ target?: string | string[] }> }) {
  const user = await requirePageUser();
  if (!can(user, "health.read")) return <Forbidden permission="health.read" role={user.role} />;
  const requested = (await searchParams).target;
  const env = getEnv();
  const data = await loadHealthPage(await getDb(), env, typeof requested === "string" ? requested : undefined);
  const { now } = data;
  const hasBackups = Object.values(data.backups).some((points) => points?.length);
  const rpoSeconds = env.LIFEBOAT_RPO_TARGET_MINUTES * 60;
  return (
    <>
      <PageHeader
        title="Health"
        description={`Backups, WAL archiving, space and restore drills of ${data.target}, and every check judged now.`}
        actions={
          data.targets.length > 1 ? (
            <nav aria-label="Target" className="flex flex-wrap gap-1 text-sm">
              {data.targets.map((name) => (
                <Link
                  key={name}
                  href={`/health?target=${encodeURIComponent(name)}`}
                  aria-current={name === data.target ? "page" : undefined}
                  className={`rounded-md px-2 py-1 ${name === data.target ? "bg-slate-900 text-white dark:bg-slate-100 dark:text-slate-900" : "border border-slate-300 dark:border-slate-700"}`}
                >
                  {name}
                </Link>
              ))}
            </nav>
          ) : null
        }
      />
      <div className="space-y-6">
        <Card
          title="Health checks"
          aria-label="Health checks"
          actions={data.checks.length ? <StateBadge state={worstState(data.checks)} label={`overall: ${worstState(data.checks)}`} /> : null}
        >
          {data.checksError ? (
            <p role="alert" className="text-sm text-red-700 dark:text-red-300">
              The checks could not be judged: {data.checksError}
            </p>
          ) : (
            <HealthCheckList checks={data.checks} now={now} />
          )}
        </Card>

        <div className="grid gap-6 lg:grid-cols-2">
          <Card title="Backup size over time" aria-label="Backup size over time">
            {hasBackups ? (
              <BackupSeriesChart series={data.backups} measure="size" />
            ) : (
              <EmptyState title="No backup yet">Run one from the Backups page (or npm run backup); each kind gets a line here.</EmptyState>
            )}
          </Card>
          <Card title="Backup duration over time" aria-label="Backup duration over time">
            {hasBackups ? (
              <BackupSeriesChart series={data.backups} measure="duration" />
            ) : (
              <EmptyState title="No backup yet">Durations appear with the first backup.</EmptyState>
            )}
          </Card>
          <Card title="WAL archived and failed per hour" aria-label="WAL archived and failed per hour">
            {data.walHours.length ? (
              <WalHourChart hours={data.walHours} />
            ) : (
              <EmptyState title="Not enough archiver samples yet">
                The worker samples pg_stat_archiver every minute; two samples make the first bar. Is npm run worker running?
              </EmptyState>
            )}
          </Card>
          <Card title="Age of the last archived segment" aria-label="Age of the last archived segment">
            {data.lastSegment ? (
              <p className="mb-2 text-sm" data-testid="last-segment">
                {data.lastSegment.wal && data.lastSegment.archivedAt ? (
                  <>
                    <span className="font-mono">{data.lastSegment.wal}</span> archived {relativeTo(data.lastSegment.archivedAt, now)} (
                    {formatUtc(data.lastSegment.archivedAt)}; RPO {formatSpan(rpoSeconds * 1000)})
                  </>
                ) : (
                  "No segment has been archived yet."
                )}
              </p>
            ) : null}
            {data.segmentAges.length ? (
              <SegmentAgeChart points={data.segmentAges} rpoSeconds={rpoSeconds} />
            ) : (
              <EmptyState title="No archived segment sampled yet">
                When the worker samples a target whose WAL is archived, the age of its newest segment is drawn here.
              </EmptyState>
            )}
          </Card>
          <Card title="Repository usage and forecast" aria-label="Repository usage and forecast">
            {data.disk ? (
              <>
                <p className="mb-2 text-sm" data-testid="disk-summary">
                  {formatBytes(data.disk.totalBytes - data.disk.freeBytes)} used of {formatBytes(data.disk.totalBytes)} ({formatBytes(data.disk.freeBytes)}{" "}
                  free); growing {formatBytes(data.disk.growthBytesPerDay)} a day
                  {data.disk.daysUntilFull === null
                    ? ", so it does not fill up."
                    : `: full in ${data.disk.daysUntilFull < 1 ? "less than a day" : `${Math.floor(data.disk.daysUntilFull)} days`}.`}
                </p>
                <DiskForecastChart disk={data.disk} />
              </>
            ) : (
              <EmptyState title="The backup folder's volume could not be read">Check that BACKUP_DIR exists and is readable by the dashboard.</EmptyState>
            )}
          </Card>
          <Card title="Restore drill RTO" aria-label="Restore drill RTO">
            <p className={`mb-2 ${muted}`}>
              Targets: full restore {formatSpan(data.rtoTargets.fullMs)}, partial {formatSpan(data.rtoTargets.partialMs)}, point in time{" "}
              {formatSpan(data.rtoTargets.pitrMs)} (LIFEBOAT_RTO_*).
            </p>
            {data.drills.length ? (
              <>
                <DrillRtoChart drills={data.drills} targets={data.rtoTargets} />
                <ul className="mt-2 space-y-1 text-xs" data-testid="drill-list">
                  {data.drills
                    .slice(-3)
                    .reverse()
                    .map((d) => (
                      <li key={d.runId} className="flex flex-wrap items-center gap-2">
                        <StateBadge state={d.status} />
                        <span>
                          run {d.runId}, {formatUtc(d.t)}: full {d.fullMs === null ? "–" : formatSpan(d.fullMs)}
                          {d.fullMs !== null && d.fullMs > data.rtoTargets.fullMs ? " (over the RTO)" : ""}, partial{" "}
                          {d.partialMs === null ? "–" : formatSpan(d.partialMs)}, point in time {d.pitrMs === null ? "–" : formatSpan(d.pitrMs)}
                        </span>
                      </li>
                    ))}
                </ul>
              </>
            ) : (
              <EmptyState title="No restore drill yet">
                A drill restores the newest backup into a scratch database and times it: npm run verify, or the monthly schedule.
              </EmptyState>
            )}
          </Card>
        </div>
      </div>
    </>
  );
}
