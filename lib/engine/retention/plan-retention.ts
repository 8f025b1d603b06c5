import { lstat, readdir, rm } from "node:fs/promises";
import path from "node:path";
import { InvalidInputError, UntrustedDataError } from "../errors";
import { ARTIFACT_KINDS, KIND_LABELS, kindOfFileName, manifestFileName, type ArtifactKind } from "../repository/artifact-kinds";
import type { Manifest, VerifyResult } from "../repository/manifest";
import type { Repository, RepositoryListing, Verification } from "../repository/repository";
import { DEFAULT_SEGMENT_SIZE, parseLsn, parseSegmentFileName, segmentFileName, segmentOf } from "../wal/wal-names";

/** The seed strategy's "retention 7 days", for every kind unless told otherwise. */
export const DEFAULT_RETENTION_DAYS = 7;
export const DEFAULT_KEEP_NEWEST = 1;

const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * One copy of a target's backups as retention sees it: the local folder, or the off-site copy in
 * object storage. Each copy has its own retention (3-2-1: a short one for the fast local copy, a
 * longer one off-site), planned and applied the same way.
 */
export type RetentionSide = {
  targetName: string;
  /** Which copy, for plans and messages ("the local folder …", "s3://…"). */
  description: string;
  list(): Promise<RepositoryListing>;
  verify(manifest: Manifest): Promise<VerifyResult>;
  readVerification(artifact: string): Promise<Verification | undefined>;
  /** Whether anything of the artifact is still there (manifest or files). */
  holds(artifact: string): Promise<boolean>;
  /** Remove the artifact from this copy only: manifest first, then its files. Idempotent. */
  discard(artifact: string): Promise<void>;
  /** The WAL archive's files in this copy, with their sizes. */
  walFiles(): Promise<{ name: string; sizeBytes: number }[]>;
  /** Remove one WAL archive file; false when it was already gone. */
  removeWal(name: string): Promise<boolean>;
  /**
   * What must stay whatever its age, and why: a local folder mirrored off-site keeps what the
   * bucket does not hold yet, so an upload that keeps failing never loses the only copy.
   */
  protect?: { artifacts: Set<string>; wal: Set<string>; why: string } | undefined;
  /** Base backups kept elsewhere that the WAL here must still serve (object storage only: the bucket's). */
  anchorBases?: Manifest[] | undefined;
  /** Called once a plan was applied, with what this copy no longer holds (the bucket records it so nothing sends it again). */
  recordApplied?: ((applied: { artifacts: string[]; walKeptFrom: string | null }) => Promise<void>) | undefined;
};

/** The local folder of a repository as a retention side. */
export function localRetentionSide(repository: Repository, overrides: Partial<RetentionSide> = {}): RetentionSide {
  return {
    targetName: repository.targetName,
    description: `the local folder ${repository.dir}`,
    list: () => repository.list(),
    verify: (manifest) => repository.verify(manifest),
    readVerification: (artifact) => repository.readVerification(artifact),
    holds: async (artifact) =>
      kindOfFileName(artifact) !== undefined &&
      ((await exists(path.join(repository.dir, manifestFileName(artifact)))) || (await exists(path.join(repository.dir, artifact)))),
    discard: (artifact) => repository.discard(artifact),
    walFiles: async () => {
      const files: { name: string; sizeBytes: number }[] = [];
      for (const entry of await readdir(repository.archiveDir, { withFileTypes: true }).catch(() => [])) {
        if (!entry.isFile()) continue;
        const info = await lstat(path.join(repository.archiveDir, entry.name)).catch(() => undefined);
        if (info?.isFile()) files.push({ name: entry.name, sizeBytes: info.size });
      }
      return files;
    },
    removeWal: async (name) => {
      try {
        await rm(path.join(repository.archiveDir, name));
        return true;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === "ENOENT") return false;
        throw error;
      }
    },
    ...overrides,
  };
}

function asSide(source: Repository | RetentionSide): RetentionSide {
  return "walFiles" in source ? source : localRetentionSide(source);
}

export type PlanRetentionOptions = {
  /** A repository (its local folder) or one copy of it. */
  repository: Repository | RetentionSide;
  now: Date;
  /** Days an artifact of each kind is kept after it finished (default 7 for each kind). */
  days?: Partial<Record<ArtifactKind, number>> | undefined;
  /** The newest this many verified artifacts of each kind are kept however old (default 1, at least 1). */
  keepNewest?: number | undefined;
  /** Check every artifact's files against its manifest (default true). Without it, "verified" means only "has a manifest that does not record a failed check". */
  verify?: boolean | undefined;
};

export type RetentionDelete = {
  artifact: string;
  kind: ArtifactKind;
  sizeBytes: number;
  finishedAt: string;
  reason: string;
  /** Its files do not match its manifest (or its manifest records a failed check). */
  damaged: boolean;
};

export type RetentionKeep = { artifact: string; kind: ArtifactKind; reason: string; damaged: boolean };

export type RetentionWalDelete = { name: string; sizeBytes: number };

/** What retention would delete and keep, and why: data for the CLI and the dashboard. Nothing is changed until `applyRetention`. */
export type RetentionPlan = {
  /** The target the plan was made for: `applyRetention` refuses it for any other repository. */
  target: string;
  /** The copy it was made for (the local folder, or the off-site copy): applied only there. */
  copy: string;
  deletes: RetentionDelete[];
  keeps: RetentionKeep[];
  /** Files of the WAL archive (names inside `repository.archiveDir`). */
  walDeletes: RetentionWalDelete[];
  bytesFreed: number;
  /** The kept base backup the WAL window is anchored to (the lowest start segment of any kept one). */
  oldestKeptBase: string | null;
  /** The first segment kept: its start segment. Null when no WAL is deleted because nothing anchors it. */
  walKeptFrom: string | null;
  notes: string[];
};

export type RetentionResult = {
  /** Artifacts removed (manifest and files). */
  artifacts: string[];
  /** WAL archive files removed. */
  wal: string[];
  /** Listed in the plan but no longer there (nothing to do). */
  alreadyGone: string[];
  /** Listed in the plan but could not be deleted (the rest went on). */
  failed: { name: string; error: string }[];
  bytesFreed: number;
};

type Judged = { manifest: Manifest; finished: number; damaged: boolean; problems: string[] };

/**
 * Decide, without changing anything, what retention deletes: artifacts older than their kind's days,
 * except the newest `keepNewest` verified artifacts of each kind (a damaged newer one never counts, so
 * the last good one survives however many recent backups failed), and archived WAL older than the
 * start of the oldest kept base backup (the recoverable window stays continuous from it on).
 */
export async function planRetention(options: PlanRetentionOptions): Promise<RetentionPlan> {
  const { now } = options;
  const repository = asSide(options.repository);
  const keepNewest = options.keepNewest ?? DEFAULT_KEEP_NEWEST;
  const verify = options.verify ?? true;
  if (!Number.isInteger(keepNewest) || keepNewest < 1)
    throw new InvalidInputError(`keepNewest must be a whole number of at least 1 (got ${keepNewest}): retention never deletes the last good backup.`);
  if (Number.isNaN(now.getTime())) throw new InvalidInputError("now is not a valid date.");
  const days = {} as Record<ArtifactKind, number>;
  for (const kind of ARTIFACT_KINDS) {
    const value = options.days?.[kind] ?? DEFAULT_RETENTION_DAYS;
    if (!Number.isFinite(value) || value < 0) throw new InvalidInputError(`Retention days for ${kind} must be a number of at least 0 (got ${value}).`);
    days[kind] = value;
  }

  const notes: string[] = [];
  const listing = await repository.list();
  for (const entry of listing.unreadable) notes.push(`${entry.file} could not be read and was left alone: ${entry.reason}`);
  if (!verify) notes.push("Files were not verified (verify: false): the newest artifacts with a manifest count as good.");

  const judged: Judged[] = [];
  for (const { manifest } of listing.artifacts) {
    const problems: string[] = [];
    if (manifest.verification && !manifest.verification.ok) problems.push(`its manifest records a failed ${manifest.verification.tool} check`);
    // A restore drill recorded beside it: the newest one decides (a later good drill clears an older failure).
    const drill = await repository.readVerification(manifest.artifact).catch(() => undefined);
    if (drill && !drill.ok) problems.push(`its last restore drill (${drill.at}) failed${drill.detail ? `: ${drill.detail}` : ""}`);
    if (verify) {
      const result = await repository.verify(manifest).catch((error: unknown) => ({ ok: false as const, problems: [(error as Error).message] }));
      if (!result.ok) problems.push(...result.problems);
    }
    judged.push({ manifest, finished: Date.parse(manifest.finishedAt), damaged: problems.length > 0, problems });
  }

  const deletes: RetentionDelete[] = [];
  const keeps: RetentionKeep[] = [];
  const keptBases: Judged[] = [];
  for (const kind of ARTIFACT_KINDS) {
    const ofKind = judged.filter((j) => j.manifest.kind === kind).sort(newestFirst);
    if (ofKind.length === 0) continue;
    const label = KIND_LABELS[kind].replace(/^an? /, "");
    const floor = new Set(ofKind.filter((j) => !j.damaged && !Number.isNaN(j.finished)).slice(0, keepNewest));
    if (floor.size === 0) notes.push(`No ${label} passes verification: none is kept as the last good one, and old damaged ones go by age.`);
    const cutoff = now.getTime() - days[kind] * DAY_MS;
    for (const j of ofKind) {
      const { artifact } = j.manifest;
      const damage = j.damaged ? ` (damaged: ${j.problems.join("; ")})` : "";
      const keep = (reason: string) => {
        keeps.push({ artifact, kind, reason: `${reason}${damage}`, damaged: j.damaged });
        if (kind === "base") keptBases.push(j);
      };
      const pending = repository.protect?.artifacts.has(artifact);
      const young = !Number.isNaN(j.finished) && j.finished >= cutoff;
      const floorReason = `one of the newest ${keepNewest} verified ${label}${keepNewest === 1 ? "" : "s"}`;
      if (young) keep(`finished within the last ${days[kind]} days${floor.has(j) ? ` (${floorReason})` : ""}`);
      else if (floor.has(j)) keep(`${floorReason}: kept past ${days[kind]} days so a good one always remains`);
      else if (Number.isNaN(j.finished)) keep(`its finish time ${JSON.stringify(j.manifest.finishedAt)} cannot be read`);
      else if (pending) keep(`older than ${days[kind]} days, but ${repository.protect!.why}`);
      else
        deletes.push({
          artifact,
          kind,
          sizeBytes: j.manifest.sizeBytes,
          finishedAt: j.manifest.finishedAt,
          reason: `finished ${j.manifest.finishedAt}, older than ${days[kind]} days${damage}`,
          damaged: j.damaged,
        });
    }
  }

  // Base backups kept in another copy that this copy's WAL serves (object storage only) anchor it too.
  for (const manifest of repository.anchorBases ?? [])
    if (manifest.kind === "base" && !keptBases.some((b) => b.manifest.artifact === manifest.artifact))
      keptBases.push({ manifest, finished: Date.parse(manifest.finishedAt), damaged: false, problems: [] });
  const wal = await planWal(repository, keptBases, listing.unreadable, notes);
  const bytesFreed = deletes.reduce((sum, d) => sum + d.sizeBytes, 0) + wal.walDeletes.reduce((sum, w) => sum + w.sizeBytes, 0);
  return { target: repository.targetName, copy: repository.description, deletes, keeps, ...wal, bytesFreed, notes };
}

/** Newest finish first; an unreadable finish time sorts last; ties by name (newest timestamp first). */
function newestFirst(a: Judged, b: Judged): number {
  const key = (j: Judged) => (Number.isNaN(j.finished) ? -Infinity : j.finished);
  if (key(a) !== key(b)) return key(b) > key(a) ? 1 : -1;
  return b.manifest.artifact.localeCompare(a.manifest.artifact);
}

/**
 * Archived WAL older (by segment number, on every timeline) than the start segment of the oldest kept
 * base backup. Whenever the anchor is in doubt, every file is kept and a note says why.
 */
async function planWal(
  side: RetentionSide,
  keptBases: Judged[],
  unreadable: { file: string }[],
  notes: string[],
): Promise<Pick<RetentionPlan, "walDeletes" | "oldestKeptBase" | "walKeptFrom">> {
  const keepAll = (why: string, oldestKeptBase: string | null = null) => {
    notes.push(`All archived WAL is kept: ${why}.`);
    return { walDeletes: [], oldestKeptBase, walKeptFrom: null };
  };
  if (keptBases.length === 0) return keepAll("no base backup is kept, so nothing anchors the recoverable window");
  const unreadableBases = unreadable.filter((u) => u.file.startsWith("base/"));
  if (unreadableBases.length > 0)
    return keepAll(`the manifest of ${unreadableBases.map((u) => u.file).join(", ")} cannot be read, so the WAL that base backup needs is unknown`);

  const sizes = new Set(keptBases.map((b) => b.manifest.walSegmentSize ?? DEFAULT_SEGMENT_SIZE));
  if (sizes.size > 1) return keepAll(`the kept base backups disagree on the WAL segment size (${[...sizes].join(", ")} bytes)`);
  const segmentSize = [...sizes][0]!;

  let anchor: { base: Judged; segno: bigint; timeline: number } | undefined;
  for (const base of keptBases) {
    const { walStartLsn, timeline } = base.manifest;
    let start: bigint | undefined;
    try {
      start = walStartLsn === undefined ? undefined : parseLsn(walStartLsn);
    } catch {
      start = undefined;
    }
    if (start === undefined || timeline === undefined)
      return keepAll(`the manifest of ${base.manifest.artifact} gives no WAL start position and timeline`, base.manifest.artifact);
    const segno = segmentOf(start, segmentSize);
    if (!anchor || segno < anchor.segno || (segno === anchor.segno && base.finished < anchor.base.finished)) anchor = { base, segno, timeline };
  }
  const { base, segno: firstKept, timeline } = anchor!;
  const walKeptFrom = segmentFileName(timeline, firstKept, segmentSize);
  if (base.damaged) notes.push(`The oldest kept base backup, ${base.manifest.artifact}, is damaged; the WAL from its start on is kept anyway.`);

  const walDeletes: (RetentionWalDelete & { segno: bigint })[] = [];
  let protectedWal = 0;
  for (const file of await side.walFiles()) {
    const segment = deletableWalSegment(file.name, segmentSize);
    if (!segment || segment.segno >= firstKept) continue;
    if (side.protect?.wal.has(file.name)) {
      protectedWal++;
      continue;
    }
    walDeletes.push({ ...file, segno: segment.segno });
  }
  if (protectedWal) notes.push(`${protectedWal} WAL file(s) older than the oldest kept base backup are kept: ${side.protect!.why}.`);
  // Oldest first, the data before its .sha256: a deletion cut short leaves a continuous window behind.
  walDeletes.sort((a, b) => (a.segno === b.segno ? sidecarLast(a.name, b.name) : a.segno < b.segno ? -1 : 1));
  return { walDeletes: walDeletes.map(({ name, sizeBytes }) => ({ name, sizeBytes })), oldestKeptBase: base.manifest.artifact, walKeptFrom };
}

function sidecarLast(a: string, b: string): number {
  const rank = (n: string) => (n.endsWith(".sha256") ? 1 : 0);
  return rank(a) - rank(b) || a.localeCompare(b);
}

/** A whole archived segment in any stored form, the plain sha256 beside an encrypted one. */
const SEGMENT_FILE = /^([0-9A-F]{24})(?:\.zst|\.age|\.zst\.age|\.sha256)?$/;
/** A backup history file (<segment>.<offset>.backup), as archive-wal stores it. */
const BACKUP_LABEL_FILE = /^([0-9A-F]{24})\.[0-9A-F]{8}\.backup(?:\.zst)?(?:\.age)?$/;

/**
 * The segment an archive file belongs to, when retention may ever delete it. Timeline history files,
 * SYSTEM_IDENTIFIER, .partial and .stream files, temporary (dot) names and anything unknown are never
 * deletable: they are undefined here.
 */
export function deletableWalSegment(name: string, segmentSize = DEFAULT_SEGMENT_SIZE): { timeline: number; segno: bigint } | undefined {
  const segment = SEGMENT_FILE.exec(name)?.[1] ?? BACKUP_LABEL_FILE.exec(name)?.[1];
  return segment === undefined ? undefined : parseSegmentFileName(segment, segmentSize);
}

/**
 * Delete exactly what the plan lists, nothing else: artifacts through the repository (manifest first,
 * so a half-deleted artifact is never listed), then WAL oldest first. A file already gone is not an
 * error; one that cannot be deleted is reported in `failed` and the rest go on. The plan is checked whole
 * before anything is deleted.
 */
export async function applyRetention(plan: RetentionPlan, source: Repository | RetentionSide): Promise<RetentionResult> {
  const repository = asSide(source);
  if (plan.target !== repository.targetName)
    throw new UntrustedDataError(`This retention plan was made for target ${JSON.stringify(plan.target)}, not ${repository.targetName}; nothing was deleted.`);
  if (plan.copy !== repository.description)
    throw new UntrustedDataError(`This retention plan was made for ${plan.copy}, not ${repository.description}; nothing was deleted.`);
  for (const d of plan.deletes)
    if (kindOfFileName(d.artifact) === undefined)
      throw new UntrustedDataError(`The retention plan names ${JSON.stringify(d.artifact)}, which is not a Lifeboat artifact; nothing was deleted.`);
  for (const w of plan.walDeletes)
    if (!deletableWalSegment(w.name))
      throw new UntrustedDataError(
        `The retention plan names ${JSON.stringify(w.name)}, which retention never deletes from the WAL archive; nothing was deleted.`,
      );

  const result: RetentionResult = { artifacts: [], wal: [], alreadyGone: [], failed: [], bytesFreed: 0 };
  for (const d of plan.deletes) {
    const present = await repository.holds(d.artifact);
    try {
      // Called even when it looks gone: discard is idempotent and clears whatever a cut-short one left.
      await repository.discard(d.artifact);
    } catch (error) {
      result.failed.push({ name: d.artifact, error: (error as Error).message });
      continue;
    }
    if (!present) {
      result.alreadyGone.push(d.artifact);
      continue;
    }
    result.artifacts.push(d.artifact);
    result.bytesFreed += d.sizeBytes;
  }
  for (const w of plan.walDeletes) {
    try {
      if (!(await repository.removeWal(w.name))) {
        result.alreadyGone.push(w.name);
        continue;
      }
    } catch (error) {
      result.failed.push({ name: w.name, error: (error as Error).message });
      continue;
    }
    result.wal.push(w.name);
    result.bytesFreed += w.sizeBytes;
  }
  if (repository.recordApplied && (result.artifacts.length || result.alreadyGone.length || result.wal.length)) {
    const artifacts = [...result.artifacts, ...result.alreadyGone].filter((name) => kindOfFileName(name) !== undefined);
    await repository
      .recordApplied({ artifacts, walKeptFrom: result.wal.length ? plan.walKeptFrom : null })
      .catch((error: unknown) => result.failed.push({ name: "the record of what retention removed", error: (error as Error).message }));
  }
  return result;
}

async function exists(file: string): Promise<boolean> {
  return (await lstat(file).catch(() => undefined)) !== undefined;
}
