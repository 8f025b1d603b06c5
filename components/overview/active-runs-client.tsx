"use client";

import { useRouter } from "next/navigation";
import { useState } from "react";
import { RunProgress } from "@/components/runs/run-progress-client";

export type ActiveRunItem = { id: number; kind: string; target: string | null; triggeredBy: string; queuedAt: string };

/**
 * Operations queued or running, each with its live progress. When one finishes the page refreshes
 * (the target cards show what it changed); the finished run stays listed with its outcome until
 * the page is left, so a failure is not gone before it is read.
 */
export function ActiveRuns({ runs }: { runs: ActiveRunItem[] }) {
  const router = useRouter();
  const [shown, setShown] = useState(runs);
  // Runs the refreshed page lists for the first time join the ones already shown (newest first).
  const fresh = runs.filter((r) => !shown.some((s) => s.id === r.id));
  if (fresh.length) setShown([...fresh, ...shown].sort((a, b) => b.id - a.id));
  if (!shown.length)
    return <p className="text-sm text-slate-500 dark:text-slate-400">Nothing is running. Backups start on their schedule, or from the Backups page.</p>;
  return (
    <ul className="space-y-3" data-testid="active-runs">
      {shown.map((run) => (
        <li key={run.id} className="rounded-lg border border-slate-200 p-3 dark:border-slate-800">
          <p className="mb-1 text-sm font-medium">
            {run.kind} of {run.target ?? "an unknown target"} <span className="font-normal text-slate-500 dark:text-slate-400">· by {run.triggeredBy}</span>
          </p>
          <RunProgress runId={run.id} onFinished={() => router.refresh()} />
        </li>
      ))}
    </ul>
  );
}
