/** Turning the engine's data (plans, windows, results) into lines for a terminal. */
import type { PitrPlan } from "@/lib/engine/pitr/plan-pitr";
import { describeTarget } from "@/lib/engine/pitr/recovery-target";
import type { RecoverableWindow } from "@/lib/engine/wal/recoverable-window";

export function windowLines(window: RecoverableWindow): string[] {
  if (window.stretches.length === 0) return ["No recoverable window: there is no base backup on this timeline (npm run backup -- --kinds base)."];
  const lines = window.stretches.map((r) => {
    const from = `timeline ${r.timeline}: ${r.from.time} (${r.from.lsn})`;
    const bases = `base backup${r.bases.length > 1 ? "s" : ""} ${r.bases.join(", ")}`;
    // A base backup with no archived WAL after it yet: only the moment it ended.
    if (r.from.lsn === r.to.lsn) return `${from} only (the end of ${bases}; no WAL archived after it yet)`;
    return `${from} → ${r.to.time} (${r.to.lsn}) from ${bases}; ends: ${r.endReason}`;
  });
  for (const p of window.restorePoints) lines.push(`restore point: ${p.name} at ${p.lsn} (timeline ${p.timeline})`);
  for (const p of window.problems) lines.push(`problem: ${p}`);
  return lines;
}

export function planLines(plan: PitrPlan): string[] {
  const { base, range, target } = plan;
  return [
    `target:        ${describeTarget(target)}`,
    `base backup:   ${base.artifact} (ended ${base.finishedAt}, WAL ${base.walStartLsn}–${base.walStopLsn}, timeline ${base.timeline})`,
    `WAL to replay: ${range.from.lsn} → ${plan.targetLsn ?? (target.kind === "latest" ? range.to.lsn : "the target")} on timeline ${range.timeline} (the archive reaches ${range.to.lsn}, last commit ${range.to.time})`,
  ];
}

export function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)}s`;
}
