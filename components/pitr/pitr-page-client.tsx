"use client";

import { useState } from "react";
import { Button } from "@/components/ui/button";
import { StateBadge } from "@/components/ui/state-badge";
import { Card } from "@/components/ui/card";
import { EmptyState } from "@/components/ui/empty-state";
import { formatBytes } from "@/lib/format";
import { formatMoment, fromLocalInput, timeMs, toLocalInput, type PitrTargetView, type RecoveredInstanceView } from "@/lib/web/pitr-view";
import { PitrWorkbench, RecoveredInstance } from "./pitr-workbench-client";
import { useBrowserZone } from "./use-zone";
import { WindowTimeline } from "./window-timeline-client";

/** Instances earlier recoveries left running on this host: look into them, or stop them. */
function RecoveredInstances({ instances, zone }: { instances: RecoveredInstanceView[]; zone: string }) {
  const [open, setOpen] = useState<number | null>(null);
  const [removed, setRemoved] = useState<number[]>([]);
  const moment = (text: string) => (Number.isFinite(timeMs(text)) ? `${formatMoment(text, zone)} (${zone})` : text);
  return (
    <Card title="Recovered instances on this host" data-testid="pitr-instances">
      <ul className="space-y-3 text-sm">
        {instances.map((i) => (
          <li key={i.runId} data-testid="pitr-instance" data-run={i.runId}>
            <div className="flex flex-wrap items-center gap-2">
              <span>
                Run {i.runId}: {moment(i.recoveredTo)} on 127.0.0.1:{i.data.port}
              </span>
              {removed.includes(i.runId) ? (
                <StateBadge state="canceled" label="stopped and removed" />
              ) : (
                <StateBadge state={i.running ? "running" : "canceled"} label={i.running ? "running" : "stopped"} />
              )}
              <Button onClick={() => setOpen(open === i.runId ? null : i.runId)} aria-expanded={open === i.runId}>
                {open === i.runId ? "Close" : "Look into"}
              </Button>
            </div>
            {open === i.runId ? <RecoveredInstance runId={i.runId} data={i.data} zone={zone} onDiscarded={() => setRemoved((r) => [...r, i.runId])} /> : null}
          </li>
        ))}
      </ul>
    </Card>
  );
}

/** The window (everyone) and, for admins, the picker, the plan and the recoveries. */
export function PitrPageClient({ view, canAct, role, instances }: { view: PitrTargetView; canAct: boolean; role: string; instances: RecoveredInstanceView[] }) {
  const zone = useBrowserZone();
  const [value, setValue] = useState("");
  const selected = fromLocalInput(value);
  const when = (iso: string) => formatMoment(iso, zone);
  const followed = view.timelines.find((t) => t.followed);

  return (
    <div className="space-y-6">
      <Card title={`Recoverable window of ${view.name}`} data-testid="pitr-window">
        {view.error ? (
          <p role="alert" className="text-sm text-red-700 dark:text-red-300">
            {view.error}
          </p>
        ) : null}
        {view.bases.length === 0 && !view.error ? (
          <EmptyState title="Nothing can be recovered to a moment yet">
            There is no base backup of {view.name}. Take one (Backups → run a base backup, or <code>npm run backup -- --kinds base</code>); from its end on,
            every archived moment can be recovered.
          </EmptyState>
        ) : null}
        {view.timelines.length > 0 ? (
          <>
            <WindowTimeline view={view} selected={selected} onPick={canAct ? (ms) => setValue(toLocalInput(ms, zone)) : undefined} />
            <div className="mt-4 space-y-3 text-sm">
              {view.timelines.map((t) => (
                <div key={t.timeline}>
                  <h3 className="font-medium">
                    Timeline {t.timeline}
                    {t.followed ? " (recovery follows this one)" : " (superseded: recovery follows the newest timeline)"}
                  </h3>
                  <ul className="mt-1 list-disc space-y-0.5 pl-5" data-testid={t.followed ? "pitr-stretches" : undefined}>
                    {t.stretches.map((s) => (
                      <li key={`${s.from.lsn}-${s.to.lsn}`} data-testid="pitr-stretch" data-from={s.from.time} data-to={s.to.time}>
                        {s.from.lsn === s.to.lsn ? (
                          <>Only {when(s.from.time)}: the end of the base backup, no WAL archived after it yet.</>
                        ) : (
                          <>
                            {when(s.from.time)} → {when(s.to.time)} <span className="text-slate-500">({zone})</span>, from base backup
                            {s.bases.length > 1 ? "s" : ""} {s.bases.join(", ")}; ends: {s.endReason}.
                          </>
                        )}
                      </li>
                    ))}
                    {t.restorePoints.map((p) => (
                      <li key={`${p.name}-${p.lsn}`}>
                        Restore point “{p.name}” at {p.lsn}
                        {p.time ? `, ${p.estimated ? "about " : ""}${when(p.time)}` : ""}.
                      </li>
                    ))}
                  </ul>
                  {t.problems.length > 0 ? (
                    <ul className="mt-1 space-y-0.5 text-amber-800 dark:text-amber-200" aria-label="Problems in the archive">
                      {t.problems.map((p) => (
                        <li key={p}>Problem: {p}</li>
                      ))}
                    </ul>
                  ) : null}
                </div>
              ))}
              <details>
                <summary className="cursor-pointer">Base backups ({view.bases.length})</summary>
                <ul className="mt-1 list-disc pl-5">
                  {view.bases.map((b) => (
                    <li key={b.artifact}>
                      {b.artifact}: ended {when(b.finishedAt)}, {formatBytes(b.sizeBytes)}, timeline {b.timeline ?? "?"}
                      {b.walStopLsn ? `, WAL stop ${b.walStopLsn}` : ""}
                    </li>
                  ))}
                </ul>
              </details>
            </div>
          </>
        ) : null}
      </Card>

      {canAct && instances.length > 0 ? <RecoveredInstances instances={instances} zone={zone} /> : null}
      {canAct ? (
        followed && followed.stretches.length > 0 ? (
          <PitrWorkbench view={view} value={value} onValue={setValue} />
        ) : null
      ) : (
        <p className="text-sm text-slate-600 dark:text-slate-400" data-testid="pitr-read-only">
          You are signed in as {role}: you can see what can be recovered; recovering needs an admin.
        </p>
      )}
    </div>
  );
}
