"use client";

import { useQuery } from "@tanstack/react-query";
import { useEffect } from "react";
import { StateBadge } from "@/components/ui/state-badge";
import { formatBytes } from "@/lib/format";

export type RunView = {
  id: number;
  kind: string;
  status: "queued" | "running" | "succeeded" | "failed" | "canceled" | "interrupted";
  phase: string | null;
  bytesDone: number;
  bytesTotal: number | null;
  error: string | null;
  stderr: string | null;
  result: Record<string, unknown> | null;
  durationMs: number | null;
};

const FINISHED = new Set(["succeeded", "failed", "canceled", "interrupted"]);

/** Poll a run once a second until it finishes (the worker writes its phase and bytes to the run record). */
export function useRun(runId: number | null) {
  return useQuery({
    queryKey: ["run", runId],
    enabled: runId !== null,
    queryFn: async (): Promise<RunView> => {
      const response = await fetch(`/api/runs/${runId}`, { cache: "no-store" });
      const body = (await response.json()) as RunView & { error?: string };
      if (!response.ok) throw new Error(body.error ?? `HTTP ${response.status}`);
      return body;
    },
    refetchInterval: (query) => (query.state.data && FINISHED.has(query.state.data.status) ? false : 1000),
  });
}

/** Live progress of a run: state, phase, bytes; at the end its result or its failure, in words. */
export function RunProgress({ runId, onFinished }: { runId: number; onFinished?: (run: RunView) => void }) {
  const { data: run, error } = useRun(runId);
  const finished = run && FINISHED.has(run.status) ? run : undefined;
  useEffect(() => {
    if (finished) onFinished?.(finished);
    // Once per finish: the run does not change after it.
  }, [finished?.status]);
  if (error) return <p role="alert">Progress could not be read: {error.message}</p>;
  if (!run) return <p aria-busy="true">Queued as run {runId}…</p>;
  return (
    <div data-testid="run-progress" data-status={run.status} className="space-y-1 text-sm" aria-live="polite">
      <div className="flex items-center gap-2">
        <span>Run {run.id}</span>
        <StateBadge state={run.status} />
        {run.phase && !FINISHED.has(run.status) ? <span className="text-slate-500">{run.phase}</span> : null}
        {run.bytesDone > 0 ? <span className="text-slate-500">{formatBytes(run.bytesDone)}</span> : null}
      </div>
      {run.status === "queued" ? <p className="text-slate-500">Waiting for a worker to pick it up.</p> : null}
      {run.error ? (
        <p role="alert" className="text-red-700 dark:text-red-300">
          {run.error}
        </p>
      ) : null}
    </div>
  );
}
