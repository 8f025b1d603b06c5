"use client";

import { useRouter } from "next/navigation";
import { RunProgress } from "@/components/runs/run-progress-client";

export type ActiveRunItem = { id: number; kind: string; target: string | null; triggeredBy: string; queuedAt: string };

/** Operations queued or running, each with its live progress; the page refreshes when one finishes (what it changed shows). */
export function ActiveRuns({ runs }: { runs: ActiveRunItem[] }) {
  const router = useRouter();
  return (
    <ul className="space-y-3" data-testid="active-runs">
      {runs.map((run) => (
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
