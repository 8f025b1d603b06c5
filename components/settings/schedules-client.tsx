"use client";

import { useRouter } from "next/navigation";
import { useEffect, useId, useState, useTransition } from "react";
import { previewCronAction, saveScheduleAction } from "@/app/(dashboard)/settings/actions";
import { Button } from "@/components/ui/button";
import { StateBadge } from "@/components/ui/state-badge";
import type { SettingsSchedule } from "@/lib/web/settings-data";
import { formatUtc } from "@/lib/web/overview-format";

const KIND_NAMES: Record<string, string> = { backup: "Backup", cleanup: "Retention cleanup", verify: "Restore drill" };
const input =
  "w-full rounded-md border border-slate-300 bg-white px-2 py-1.5 text-sm dark:border-slate-700 dark:bg-slate-950 focus:outline-2 focus:outline-sky-500";

function NextRuns({ next }: { next: string[] }) {
  if (!next.length) return null;
  return (
    <ol className="mt-1 space-y-0.5 text-xs text-slate-500 dark:text-slate-400" aria-label="Next three runs" data-testid="next-runs">
      {next.map((t) => (
        <li key={t}>
          <time dateTime={t}>{formatUtc(t)}</time>
        </li>
      ))}
    </ol>
  );
}

/** Every schedule, per target: its cron in words and next three times; admins edit the cron with a live preview. */
export function SchedulesList({ schedules, canManage }: { schedules: SettingsSchedule[]; canManage: boolean }) {
  return (
    <ul className="divide-y divide-slate-100 dark:divide-slate-800">
      {schedules.map((s) => (
        <ScheduleRow key={s.id} schedule={s} canManage={canManage} />
      ))}
    </ul>
  );
}

function ScheduleRow({ schedule, canManage }: { schedule: SettingsSchedule; canManage: boolean }) {
  const [editing, setEditing] = useState(false);
  return (
    <li className="py-3" data-testid="schedule" data-schedule-id={schedule.id} data-target={schedule.target} data-kind={schedule.kind}>
      <div className="flex flex-wrap items-start justify-between gap-2">
        <div className="min-w-0">
          <p className="text-sm font-medium">
            {KIND_NAMES[schedule.kind] ?? schedule.kind} <span className="font-normal text-slate-500 dark:text-slate-400">of {schedule.target}</span>{" "}
            {schedule.enabled ? null : <StateBadge state="canceled" label="disabled" />}
          </p>
          <p className="text-sm">
            <code data-testid="schedule-cron" className="rounded bg-slate-100 px-1 dark:bg-slate-800">
              {schedule.cron}
            </code>{" "}
            <span className="text-slate-500 dark:text-slate-400">({schedule.timezone})</span>{" "}
            <span data-testid="schedule-words" className={schedule.invalid ? "text-red-700 dark:text-red-300" : ""}>
              {schedule.words}
            </span>
          </p>
          <NextRuns next={schedule.next} />
        </div>
        {canManage && !editing ? (
          <Button onClick={() => setEditing(true)} aria-label={`Edit the ${schedule.kind} schedule of ${schedule.target}`}>
            Edit
          </Button>
        ) : null}
      </div>
      {editing ? <ScheduleForm schedule={schedule} onDone={() => setEditing(false)} /> : null}
    </li>
  );
}

function ScheduleForm({ schedule, onDone }: { schedule: SettingsSchedule; onDone: () => void }) {
  const router = useRouter();
  const id = useId();
  const [cron, setCron] = useState(schedule.cron);
  const [timezone, setTimezone] = useState(schedule.timezone);
  const [enabled, setEnabled] = useState(schedule.enabled);
  const [preview, setPreview] = useState<{ words: string; next: string[] } | { error: string } | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [pending, startTransition] = useTransition();

  // The preview is the server's own parse (the one the workers use), a moment after typing stops.
  useEffect(() => {
    let live = true;
    const timer = setTimeout(() => {
      void previewCronAction({ cron, timezone }).then((result) => {
        if (live) setPreview(result.ok ? { words: result.data.words, next: result.data.next } : { error: result.error });
      });
    }, 300);
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [cron, timezone]);

  const save = () =>
    startTransition(async () => {
      setError(null);
      const result = await saveScheduleAction({ id: schedule.id, cron, timezone, enabled });
      if (!result.ok) return setError(result.error);
      onDone();
      router.refresh();
    });

  return (
    <form
      className="mt-3 space-y-3 rounded-lg border border-slate-200 p-3 dark:border-slate-800"
      aria-label={`Edit the ${schedule.kind} schedule of ${schedule.target}`}
      onSubmit={(event) => {
        event.preventDefault();
        save();
      }}
    >
      <div className="grid gap-3 sm:grid-cols-2">
        <div>
          <label htmlFor={`${id}-cron`} className="block text-xs font-medium">
            Cron (minute hour day-of-month month day-of-week)
          </label>
          <input
            id={`${id}-cron`}
            className={`${input} font-mono`}
            value={cron}
            onChange={(e) => setCron(e.target.value)}
            autoComplete="off"
            spellCheck={false}
          />
        </div>
        <div>
          <label htmlFor={`${id}-tz`} className="block text-xs font-medium">
            Time zone
          </label>
          <input id={`${id}-tz`} className={input} value={timezone} onChange={(e) => setTimezone(e.target.value)} autoComplete="off" />
        </div>
      </div>
      <label className="flex items-center gap-2 text-sm">
        <input type="checkbox" checked={enabled} onChange={(e) => setEnabled(e.target.checked)} /> Enabled
      </label>
      <div aria-live="polite" data-testid="cron-preview" className="text-sm">
        {preview === null ? (
          <span className="text-slate-500">Checking…</span>
        ) : "error" in preview ? (
          <span className="text-red-700 dark:text-red-300">{preview.error}</span>
        ) : (
          <>
            <span className="font-medium">{preview.words}</span>
            <NextRuns next={preview.next} />
          </>
        )}
      </div>
      {error ? (
        <p role="alert" className="rounded-md bg-red-50 p-2 text-sm text-red-800 dark:bg-red-950 dark:text-red-200">
          {error}
        </p>
      ) : null}
      <div className="flex gap-2">
        <Button type="submit" variant="primary" disabled={pending}>
          {pending ? "Saving…" : "Save schedule"}
        </Button>
        <Button onClick={onDone}>Cancel</Button>
      </div>
    </form>
  );
}
