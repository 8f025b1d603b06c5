"use client";

import { useRouter } from "next/navigation";
import { useId, useState, useTransition } from "react";
import { retentionDryRunAction, saveRetentionAction } from "@/app/(dashboard)/settings/actions";
import { RunProgress, type RunView } from "@/components/runs/run-progress-client";
import { Button } from "@/components/ui/button";
import { formatBytes } from "@/lib/format";
import type { RetentionPlan } from "@/lib/engine/retention/plan-retention";
import type { SettingsRetention } from "@/lib/web/settings-data";
import { formatUtc } from "@/lib/web/overview-format";

const field =
  "w-24 rounded-md border border-slate-300 bg-white px-2 py-1.5 text-sm dark:border-slate-700 dark:bg-slate-950 focus:outline-2 focus:outline-sky-500";

type Stretch = { from: { time: string }; to: { time: string } };
type Window = { stretches?: Stretch[] } | null;

/** Retention per target (read by the weekly cleanup schedule); admins change it and preview what a cleanup would delete, as a dry run. */
export function RetentionPanel({ retention, canManage }: { retention: SettingsRetention[]; canManage: boolean }) {
  return (
    <ul className="divide-y divide-slate-100 dark:divide-slate-800">
      {retention.map((r) => (
        <RetentionRow key={r.target} retention={r} canManage={canManage} />
      ))}
    </ul>
  );
}

function RetentionRow({ retention, canManage }: { retention: SettingsRetention; canManage: boolean }) {
  const router = useRouter();
  const id = useId();
  const [days, setDays] = useState(String(retention.days));
  const [keepNewest, setKeepNewest] = useState(String(retention.keepNewest));
  const [message, setMessage] = useState<{ ok: boolean; text: string } | null>(null);
  const [runId, setRunId] = useState<number | null>(null);
  const [pending, startTransition] = useTransition();

  const save = () =>
    startTransition(async () => {
      const result = await saveRetentionAction({ target: retention.target, days, keepNewest });
      setMessage(result.ok ? { ok: true, text: "Saved: the next cleanup keeps this." } : { ok: false, text: result.error });
      if (result.ok) router.refresh();
    });
  const dryRun = () =>
    startTransition(async () => {
      setMessage(null);
      const result = await retentionDryRunAction({ target: retention.target, dryRun: true, days, keepNewest });
      if (!result.ok) return setMessage({ ok: false, text: result.error });
      setRunId(result.data.runId);
    });

  return (
    <li className="space-y-2 py-3" data-testid="retention" data-target={retention.target}>
      <p className="text-sm">
        <span className="font-medium">{retention.target}</span>: every kind kept <strong>{retention.days} days</strong>, and however old the newest{" "}
        <strong>{retention.keepNewest}</strong> good backup(s) of each kind
        {retention.cron ? <span className="text-slate-500 dark:text-slate-400"> · cleanup schedule {retention.cron}</span> : null}.
      </p>
      {canManage ? (
        <form
          className="flex flex-wrap items-end gap-3"
          onSubmit={(event) => {
            event.preventDefault();
            save();
          }}
        >
          <div>
            <label htmlFor={`${id}-days`} className="block text-xs font-medium">
              Days kept
            </label>
            <input id={`${id}-days`} type="number" min={1} className={field} value={days} onChange={(e) => setDays(e.target.value)} />
          </div>
          <div>
            <label htmlFor={`${id}-keep`} className="block text-xs font-medium">
              Always keep newest
            </label>
            <input id={`${id}-keep`} type="number" min={1} className={field} value={keepNewest} onChange={(e) => setKeepNewest(e.target.value)} />
          </div>
          <Button type="submit" variant="primary" disabled={pending}>
            Save retention
          </Button>
          <Button onClick={dryRun} disabled={pending}>
            Preview cleanup (dry run)
          </Button>
        </form>
      ) : null}
      {message ? (
        <p
          role={message.ok ? "status" : "alert"}
          className={`text-sm ${message.ok ? "text-emerald-700 dark:text-emerald-300" : "text-red-700 dark:text-red-300"}`}
        >
          {message.text}
        </p>
      ) : null}
      {runId !== null ? <DryRun runId={runId} /> : null}
    </li>
  );
}

function PlannedDeletes({ plan }: { plan: RetentionPlan }) {
  if (!plan.deletes.length) return null;
  return (
    <ul className="list-disc space-y-0.5 pl-5 text-xs">
      {plan.deletes.map((d) => (
        <li key={d.artifact}>
          <span className="font-mono">{d.artifact}</span> ({formatBytes(d.sizeBytes)}): {d.reason}
        </li>
      ))}
    </ul>
  );
}

function DryRun({ runId }: { runId: number }) {
  const [run, setRun] = useState<RunView | null>(null);
  const data = run?.result?.data as
    { plan?: RetentionPlan; windowBefore?: Window; windowAfter?: Window; offsite?: { description: string; days: number; plan: RetentionPlan } } | undefined;
  const offsite = data?.offsite;
  const plan = data?.plan;
  const stretches = (w: Window | undefined) => w?.stretches?.map((s) => `${formatUtc(s.from.time)} → ${formatUtc(s.to.time)}`).join("; ") || "none";
  return (
    <div className="space-y-2 rounded-lg border border-slate-200 p-3 text-sm dark:border-slate-800" data-testid="retention-preview">
      <RunProgress runId={runId} onFinished={setRun} />
      {plan ? (
        <>
          <p className="font-medium">
            A cleanup now would delete {plan.deletes.length} backup(s) and {plan.walDeletes.length} WAL file(s), freeing {formatBytes(plan.bytesFreed)}; it
            keeps {plan.keeps.length}. Nothing was deleted.
          </p>
          <PlannedDeletes plan={plan} />
          {offsite ? (
            <>
              <p className="font-medium" data-testid="retention-preview-offsite">
                Off-site ({offsite.description}, kept {offsite.days} days): would delete {offsite.plan.deletes.length} backup(s) and{" "}
                {offsite.plan.walDeletes.length} WAL file(s), freeing {formatBytes(offsite.plan.bytesFreed)}; it keeps {offsite.plan.keeps.length}.
              </p>
              <PlannedDeletes plan={offsite.plan} />
            </>
          ) : null}
          <p className="text-xs text-slate-500 dark:text-slate-400">
            Recoverable window now: {stretches(data?.windowBefore)}; after: {stretches(data?.windowAfter)}.
          </p>
          {plan.notes.length ? <p className="text-xs text-slate-500 dark:text-slate-400">{plan.notes.join(" ")}</p> : null}
        </>
      ) : null}
    </div>
  );
}
