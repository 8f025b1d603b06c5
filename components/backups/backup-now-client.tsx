"use client";

import { useRouter } from "next/navigation";
import { useState, useTransition } from "react";
import { queueBackup } from "@/app/(dashboard)/backups/actions";
import { RunProgress } from "@/components/runs/run-progress-client";
import { Button } from "@/components/ui/button";

/** "Back up now" (operators and admins): queues a backup, shows its progress, and refreshes the history when it is done. */
export function BackupNowButton({ target }: { target?: string | undefined }) {
  const router = useRouter();
  const [runId, setRunId] = useState<number | null>(null);
  const [running, setRunning] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [pending, startTransition] = useTransition();

  const start = () => {
    setError(null);
    startTransition(async () => {
      const result = await queueBackup(target ? { target } : {});
      if (!result.ok) return setError(result.error);
      setRunId(result.data.runId);
      setRunning(true);
    });
  };

  return (
    <div className="flex flex-col items-end gap-2">
      <Button variant="primary" onClick={start} disabled={pending || running}>
        {pending ? "Queuing…" : running ? "Backing up…" : "Back up now"}
      </Button>
      {error ? (
        <p role="alert" className="text-sm text-red-700 dark:text-red-300">
          {error}
        </p>
      ) : null}
      {runId !== null ? (
        <div className="w-72 max-w-full rounded-md border border-slate-200 bg-white p-2 dark:border-slate-800 dark:bg-slate-900" data-testid="backup-now-progress">
          <RunProgress
            key={runId}
            runId={runId}
            onFinished={() => {
              setRunning(false);
              // The new artifacts are in the catalog now: show them.
              router.refresh();
            }}
          />
        </div>
      ) : null}
    </div>
  );
}
