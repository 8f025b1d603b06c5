import Link from "next/link";
import { StateBadge } from "@/components/ui/state-badge";
import { formatBytes } from "@/lib/format";
import type { TargetProbe } from "@/lib/targets/probe-target";
import type { HealthSummary, KindStatus, RpoReading } from "@/lib/web/overview-data";
import { formatSpan, formatUtc, relativeTo } from "@/lib/web/overview-format";

export type TargetStatusCardProps = {
  name: string;
  /** user@host:port/db, without any password. */
  address: string;
  probe: TargetProbe;
  kinds?: KindStatus[];
  rpo?: RpoReading | null;
  rpoTargetSeconds?: number;
  health?: HealthSummary;
  now?: Date;
};

/** One target on the overview: can Lifeboat reach it, what last succeeded and runs next, how much a disaster would lose, how healthy it is. */
export function TargetStatusCard({ name, address, probe, kinds, rpo, rpoTargetSeconds, health, now = new Date() }: TargetStatusCardProps) {
  return (
    <section
      aria-label={`Target ${name}`}
      data-testid="target-card"
      className="rounded-xl border border-slate-200 bg-white p-5 shadow-sm sm:p-6 dark:border-slate-800 dark:bg-slate-900"
    >
      <div className="flex flex-wrap items-center justify-between gap-2">
        <h2 className="text-lg font-semibold">Target: {name}</h2>
        <span
          data-testid="connection-state"
          className={`rounded-full px-2 py-0.5 text-xs font-medium ${
            probe.ok
              ? "bg-emerald-100 text-emerald-800 dark:bg-emerald-900/60 dark:text-emerald-200"
              : "bg-red-100 text-red-800 dark:bg-red-900/60 dark:text-red-100"
          }`}
        >
          {probe.ok ? "connected" : "unreachable"}
        </span>
      </div>
      <p className="mt-1 font-mono text-sm break-all text-slate-500 dark:text-slate-400">{address}</p>
      {probe.ok ? (
        <dl className="mt-4 grid grid-cols-2 gap-x-6 gap-y-2 text-sm sm:grid-cols-4">
          <div>
            <dt className="text-slate-500 dark:text-slate-400">Server version</dt>
            <dd data-testid="server-version" className="font-medium">
              PostgreSQL {probe.serverVersion}
            </dd>
          </div>
          <div>
            <dt className="text-slate-500 dark:text-slate-400">Database size</dt>
            <dd className="font-medium">{formatBytes(probe.databaseSizeBytes)}</dd>
          </div>
          <div>
            <dt className="text-slate-500 dark:text-slate-400">WAL level</dt>
            <dd className="font-medium">{probe.walLevel}</dd>
          </div>
          <div>
            <dt className="text-slate-500 dark:text-slate-400">Archive mode</dt>
            <dd className="font-medium">{probe.archiveMode}</dd>
          </div>
          <div className="col-span-full">
            <dt className="text-slate-500 dark:text-slate-400">Reported</dt>
            <dd className="font-mono text-xs break-all">{probe.versionString}</dd>
          </div>
        </dl>
      ) : (
        <p role="alert" data-testid="connection-error" className="mt-4 rounded-md bg-red-50 p-3 text-sm text-red-800 dark:bg-red-950 dark:text-red-200">
          cannot connect: {probe.error}
        </p>
      )}
      <div className="mt-5 grid gap-5 lg:grid-cols-3">
        {kinds ? <KindTable kinds={kinds} now={now} /> : null}
        <div className="space-y-5">
          {rpoTargetSeconds !== undefined ? <RpoBlock rpo={rpo ?? null} targetSeconds={rpoTargetSeconds} now={now} /> : null}
          {health ? <HealthBlock health={health} target={name} /> : null}
        </div>
      </div>
    </section>
  );
}

function KindTable({ kinds, now }: { kinds: KindStatus[]; now: Date }) {
  return (
    <div className="overflow-x-auto lg:col-span-2">
      <table className="w-full text-left text-sm" data-testid="kind-table">
        <caption className="mb-2 text-left text-sm font-semibold">Last success and next run</caption>
        <thead className="text-xs text-slate-500 dark:text-slate-400">
          <tr>
            <th scope="col" className="py-1 pr-3 font-medium">
              Kind
            </th>
            <th scope="col" className="py-1 pr-3 font-medium">
              Last success
            </th>
            <th scope="col" className="py-1 font-medium">
              Next run
            </th>
          </tr>
        </thead>
        <tbody>
          {kinds.map((k) => (
            <tr key={k.key} data-kind={k.key} className="border-t border-slate-100 align-top dark:border-slate-800">
              <th scope="row" className="py-1.5 pr-3 font-medium">
                {k.label}
              </th>
              <td className="py-1.5 pr-3">
                {k.lastSuccess ? (
                  <>
                    <span title={formatUtc(k.lastSuccess)}>{relativeTo(k.lastSuccess, now)}</span>
                    {k.sizeBytes !== null ? <span className="text-slate-500 dark:text-slate-400"> · {formatBytes(k.sizeBytes)}</span> : null}
                  </>
                ) : (
                  <span className="text-amber-700 dark:text-amber-300">never</span>
                )}
              </td>
              <td className="py-1.5">
                {k.next ? <span title={formatUtc(k.next)}>{relativeTo(k.next, now)}</span> : <span className="text-slate-500 dark:text-slate-400">–</span>}
                <span className="block text-xs text-slate-500 dark:text-slate-400">{k.schedule}</span>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function RpoBlock({ rpo, targetSeconds, now }: { rpo: RpoReading | null; targetSeconds: number; now: Date }) {
  const state = !rpo
    ? "warning"
    : rpo.exposureSeconds === null
      ? rpo.healthy
        ? "ok"
        : "warning"
      : rpo.exposureSeconds > targetSeconds
        ? "critical"
        : rpo.healthy
          ? "ok"
          : "warning";
  return (
    <div data-testid="rpo-exposure">
      <h3 className="text-sm font-semibold">RPO exposure</h3>
      {rpo ? (
        <div className="mt-1 space-y-1 text-sm">
          <p className="flex flex-wrap items-center gap-2">
            <StateBadge state={state} />
            <span>
              {rpo.exposureSeconds !== null ? `${formatSpan(rpo.exposureSeconds * 1000)} of commits not archived` : "not measured"} (target{" "}
              {formatSpan(targetSeconds * 1000)})
            </span>
          </p>
          <p className="text-xs text-slate-500 dark:text-slate-400">
            Last archived {rpo.lastArchivedWal ?? "segment: none yet"}
            {rpo.lastArchivedAt ? ` ${relativeTo(rpo.lastArchivedAt, now)}` : ""}; sampled {relativeTo(rpo.sampledAt, now)}.
          </p>
          {rpo.alert ? <p className="text-xs text-red-700 dark:text-red-300">{rpo.alert}</p> : null}
        </div>
      ) : (
        <p className="mt-1 text-sm text-slate-500 dark:text-slate-400">Not sampled yet: the worker (npm run worker) samples archiving every minute.</p>
      )}
    </div>
  );
}

function HealthBlock({ health, target }: { health: HealthSummary; target: string }) {
  return (
    <div data-testid="health-summary">
      <h3 className="text-sm font-semibold">Health</h3>
      {"error" in health ? (
        <p role="alert" className="mt-1 text-sm text-red-700 dark:text-red-300">
          Health could not be judged: {health.error}
        </p>
      ) : (
        <div className="mt-1 space-y-2 text-sm">
          <p className="flex flex-wrap items-center gap-2">
            <StateBadge state={health.worst} />
            <span>
              {health.counts.ok} ok, {health.counts.warning} warning, {health.counts.critical} critical
            </span>
          </p>
          {health.problems.length ? (
            <ul className="space-y-1 text-xs">
              {health.problems.slice(0, 3).map((p) => (
                <li key={p.id}>
                  <span className="font-medium">{p.title}:</span> {p.message}
                </li>
              ))}
            </ul>
          ) : null}
          <Link href={`/health?target=${encodeURIComponent(target)}`} className="text-xs underline underline-offset-2">
            Every check and the charts
          </Link>
        </div>
      )}
    </div>
  );
}
