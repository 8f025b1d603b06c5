import type { TargetProbe } from "@/lib/targets/probe-target";
import { formatBytes } from "@/lib/format";

export type TargetStatusCardProps = {
  name: string;
  /** user@host:port/db, without any password. */
  address: string;
  probe: TargetProbe;
};

export function TargetStatusCard({ name, address, probe }: TargetStatusCardProps) {
  return (
    <section aria-label={`Target ${name}`} className="rounded-xl border border-slate-200 bg-white p-6 shadow-sm">
      <div className="flex items-center justify-between">
        <h2 className="text-lg font-semibold">Target: {name}</h2>
        <span
          data-testid="connection-state"
          className={`rounded-full px-2 py-0.5 text-xs font-medium ${probe.ok ? "bg-emerald-100 text-emerald-800" : "bg-red-100 text-red-800"}`}
        >
          {probe.ok ? "connected" : "unreachable"}
        </span>
      </div>
      <p className="mt-1 font-mono text-sm text-slate-500">{address}</p>
      {probe.ok ? (
        <dl className="mt-4 grid grid-cols-2 gap-x-6 gap-y-2 text-sm sm:grid-cols-4">
          <div>
            <dt className="text-slate-500">Server version</dt>
            <dd data-testid="server-version" className="font-medium">
              PostgreSQL {probe.serverVersion}
            </dd>
          </div>
          <div>
            <dt className="text-slate-500">Database size</dt>
            <dd className="font-medium">{formatBytes(probe.databaseSizeBytes)}</dd>
          </div>
          <div>
            <dt className="text-slate-500">WAL level</dt>
            <dd className="font-medium">{probe.walLevel}</dd>
          </div>
          <div>
            <dt className="text-slate-500">Archive mode</dt>
            <dd className="font-medium">{probe.archiveMode}</dd>
          </div>
          <div className="col-span-full">
            <dt className="text-slate-500">Reported</dt>
            <dd className="font-mono text-xs">{probe.versionString}</dd>
          </div>
        </dl>
      ) : (
        <p role="alert" data-testid="connection-error" className="mt-4 rounded-md bg-red-50 p-3 text-sm text-red-800">
          cannot connect: {probe.error}
        </p>
      )}
    </section>
  );
}
