import { StateBadge } from "@/components/ui/state-badge";
import type { HealthCheck } from "@/lib/health/checks";
import { formatUtc, relativeTo } from "@/lib/web/overview-format";

/** Every health check of a target: its state (word and colour) and the sentence that says what to do. */
export function HealthCheckList({ checks, now }: { checks: (HealthCheck & { since: Date | null })[]; now: Date }) {
  return (
    <ul className="divide-y divide-slate-100 dark:divide-slate-800" data-testid="health-checks">
      {checks.map((c) => (
        <li key={c.id} data-check={c.id} data-state={c.state} className="flex flex-col gap-1 py-2.5 sm:flex-row sm:items-start sm:gap-3">
          <span className="w-20 shrink-0">
            <StateBadge state={c.state} />
          </span>
          <div className="min-w-0 text-sm">
            <p className="font-medium">{c.title}</p>
            <p className="text-slate-600 dark:text-slate-300">{c.message}</p>
            {c.since ? (
              <p className="text-xs text-slate-500 dark:text-slate-400" title={formatUtc(c.since)}>
                {c.state} since {relativeTo(c.since, now)}
              </p>
            ) : null}
          </div>
        </li>
      ))}
    </ul>
  );
}
