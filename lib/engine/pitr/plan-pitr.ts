import { LifeboatError } from "../errors";
import type { Manifest } from "../repository/manifest";
import type { Repository } from "../repository/repository";
import { computeRecoverableWindow, isoMicros, type RecoverableWindow, type WindowRange } from "../wal/recoverable-window";
import { parseLsn } from "../wal/wal-names";
import { describeTarget, type RecoveryTarget } from "./recovery-target";

/** A recovery target that cannot be reached; `window` says what can. Nothing was changed. */
export class PitrRefusedError extends LifeboatError {
  constructor(
    message: string,
    readonly window?: RecoverableWindow,
  ) {
    super("PITR_REFUSED", message, { window });
  }
}

export type PitrPlan = {
  target: RecoveryTarget;
  base: Manifest;
  range: WindowRange;
  window: RecoverableWindow;
  /** LSN recovery aims for, when known before replay (LSN and restore-point targets). */
  targetLsn: string | undefined;
};

/** Every base backup of a target with a readable manifest, oldest first. */
export async function listBaseBackups(repository: Repository): Promise<Manifest[]> {
  const { artifacts } = await repository.list();
  return artifacts
    .map((a) => a.manifest)
    .filter((m) => m.kind === "base")
    .sort((a, b) => a.finishedAt.localeCompare(b.finishedAt));
}

/**
 * Decide, before touching anything, how to reach a target: the recoverable window from the base
 * backups and the archive, the newest base backup that ended before the target, the WAL to
 * replay. A target outside the window is refused with the window attached.
 */
export async function planPitr(options: {
  repository: Repository;
  target: RecoveryTarget;
  pgBinDir?: string | undefined;
  /** age identities, for an encrypted WAL archive. */
  identities?: string[] | undefined;
  signal?: AbortSignal | undefined;
  now?: Date;
}): Promise<PitrPlan> {
  const { repository, target } = options;
  if (target.kind === "time" && target.utc.getTime() > (options.now ?? new Date()).getTime()) {
    throw new PitrRefusedError(`${describeTarget(target)} is in the future; pick a moment that has passed (or "latest").`);
  }
  const bases = await listBaseBackups(repository);
  if (bases.length === 0) throw new PitrRefusedError("There is no base backup to recover from: take one first (npm run backup -- --kinds base).");
  const window = await computeRecoverableWindow({
    archiveDir: repository.archiveDir,
    baseBackups: bases,
    pgBinDir: options.pgBinDir,
    identities: options.identities,
    signal: options.signal,
  });

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

  const verified = await repository.verify(base);
  if (!verified.ok) throw new PitrRefusedError(`The base backup ${base.artifact} is damaged: ${verified.problems.join("; ")}`);
  return { target, base, range, window, targetLsn: targetLsnText };
}
