import { readdir } from "node:fs/promises";
import path from "node:path";
import { readManifest, verifyAgainstManifest, type Manifest } from "../repository/manifest";
import { computeRecoverableWindow, describeWindow, isoMicros, type RecoverableWindow, type WindowRange } from "../wal/recoverable-window";
import { parseLsn } from "../wal/wal-names";
import { describeTarget, type RecoveryTarget } from "./recovery-target";

export class PitrRefusedError extends Error {
  readonly code = "PITR_REFUSED";
  constructor(
    message: string,
    readonly window?: RecoverableWindow,
  ) {
    super(window ? `${message}\nRecoverable window:\n  ${describeWindow(window).join("\n  ")}` : message);
    this.name = "PitrRefusedError";
  }
}

export type PitrPlan = {
  target: RecoveryTarget;
  base: Manifest;
  range: WindowRange;
  window: RecoverableWindow;
  /** LSN recovery aims for, when known before replay (LSN and restore-point targets). */
  targetLsn: string | undefined;
  lines: string[];
};

/** Every base backup of a target with a readable manifest, oldest first. */
export async function listBaseBackups(targetDir: string): Promise<Manifest[]> {
  const names = await readdir(path.join(targetDir, "base")).catch(() => [] as string[]);
  const manifests: Manifest[] = [];
  for (const name of names.filter((n) => n.endsWith(".manifest.json") && !n.startsWith("."))) {
    const manifest = await readManifest(targetDir, `base/${name.slice(0, -".manifest.json".length)}`).catch(() => undefined);
    if (manifest?.kind === "base") manifests.push(manifest);
  }
  return manifests.sort((a, b) => a.finishedAt.localeCompare(b.finishedAt));
}

/**
 * Decide, before touching anything, how to reach a target: the recoverable window from the base
 * backups and the archive, the newest base backup that ended before the target, the WAL to
 * replay. A target outside the window is refused with the window in the message.
 */
export async function planPitr(options: { targetDir: string; archiveDir: string; target: RecoveryTarget; pgBinDir?: string | undefined }): Promise<PitrPlan> {
  const bases = await listBaseBackups(options.targetDir);
  if (bases.length === 0) throw new PitrRefusedError("There is no base backup to recover from: take one first (npm run backup -- --kinds base).");
  const window = await computeRecoverableWindow({ archiveDir: options.archiveDir, baseBackups: bases, pgBinDir: options.pgBinDir });
  const { target } = options;

  let targetLsnText: string | undefined;
  if (target.kind === "lsn") targetLsnText = target.lsn;
  if (target.kind === "name") {
    const point = window.restorePoints.filter((p) => p.name === target.name).at(-1);
    if (!point) throw new PitrRefusedError(`No restore point named "${target.name}" in the recoverable WAL.`, window);
    targetLsnText = point.lsn;
  }
  const targetLsn = targetLsnText === undefined ? undefined : parseLsn(targetLsnText);

  const fits = (range: WindowRange) => {
    if (target.kind === "latest") return true;
    if (target.kind !== "time") return targetLsn !== undefined && parseLsn(range.from.lsn) <= targetLsn && targetLsn <= parseLsn(range.to.lsn);
    const time = isoMicros(target.utc);
    return range.from.time <= time && time <= range.to.time;
  };
  // The newest base backup whose stretch holds the target: least WAL to replay.
  const candidates = window.ranges.filter(fits).sort((a, b) => (parseLsn(a.from.lsn) < parseLsn(b.from.lsn) ? 1 : -1));
  // For "latest": the stretch that reaches furthest, and within it the newest base backup.
  const furthest = [...window.ranges].sort((a, b) => (parseLsn(a.to.lsn) === parseLsn(b.to.lsn) ? 0 : parseLsn(a.to.lsn) < parseLsn(b.to.lsn) ? 1 : -1))[0];
  const range = target.kind === "latest" ? candidates.find((r) => r.to.lsn === furthest?.to.lsn) : candidates[0];
  if (!range) throw new PitrRefusedError(`${describeTarget(target)} is outside what can be recovered.`, window);
  const base = bases.find((b) => b.artifact === range.base)!;

  const verified = await verifyAgainstManifest(options.targetDir, base);
  if (!verified.ok) throw new PitrRefusedError(`The base backup ${base.artifact} is damaged: ${verified.problems.join("; ")}`);

  const lines = [
    `target:        ${describeTarget(target)}`,
    `base backup:   ${base.artifact} (ended ${base.finishedAt}, WAL ${base.walStartLsn}–${base.walStopLsn}, timeline ${base.timeline})`,
    `WAL to replay: ${range.from.lsn} → ${targetLsnText ?? (target.kind === "latest" ? range.to.lsn : "the target")} on timeline ${range.timeline} (the archive reaches ${range.to.lsn}, last commit ${range.to.time})`,
  ];
  return { target, base, range, window, targetLsn: targetLsnText, lines };
}
