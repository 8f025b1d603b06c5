/**
 * The seed's "Backup Health Checks", judged: each check is ok, warning or critical with a sentence
 * a person can act on. `evaluateHealth` is pure (inputs in, checks out: the tests drive every
 * condition through it); `gather-health.ts` reads the inputs from the repository, the catalog and
 * the machine.
 */
import { formatBytes } from "@/lib/format";
import type { ArtifactKind } from "@/lib/engine/repository/artifact-kinds";
import type { Manifest } from "@/lib/engine/repository/manifest";

export type HealthState = "ok" | "warning" | "critical";

export type HealthCheck = {
  /** Stable per target: "last-backup", "size:full", "duration:full", "age:full", "disk", "archiving", "offsite", "offsite-backups", "rto:full", "rto:partial", "rto:pitr". */
  id: string;
  state: HealthState;
  title: string;
  message: string;
};

export type HealthThresholds = {
  rpoSeconds: number;
  rtoFullMs: number;
  rtoPitrMs: number;
  rtoPartialMs: number;
};

export type ArchiverReading = {
  sampledAt: Date;
  lastArchivedWal: string | null;
  lastArchivedAt: Date | null;
  lastFailedWal: string | null;
  lastFailedAt: Date | null;
  readyCount: number | null;
  rpoExposureSeconds: number | null;
  alert: string | null;
};

export type DrillReading = { status: string; finishedAt: Date; error: string | null; result: Record<string, unknown> | null };

export type HealthInputs = {
  target: string;
  now: Date;
  /** Every artifact the repository holds (successful backups: a manifest is written last). */
  artifacts: Manifest[];
  lastBackupRun: { id: number; status: string; finishedAt: Date | null; error: string | null } | null;
  /** The enabled backup schedule, its interval and the kinds it writes; null when none is enabled. */
  backupSchedule: { cron: string; intervalMs: number; kinds: ArtifactKind[] } | null;
  /** The target's WAL is archived into its repository (archiving and PITR checks apply). */
  archives: boolean;
  archiver: ArchiverReading | null;
  /** archive failures counted by pg_stat_archiver in the last 24 hours (null: not known). */
  archiveFailuresLastDay: number | null;
  lastDrill: DrillReading | null;
  disk: { freeBytes: number; totalBytes: number; growthBytesPerDay: number } | null;
  /** With an off-site repository: its WAL lag behind the local archive, or why it could not be read (null: none configured). */
  offsite?: { description: string; pendingFiles: number; lagSeconds: number } | { description: string; error: string } | null | undefined;
  /** With an off-site repository: the local backups the bucket does not hold yet (null: none configured or unreadable). */
  offsiteBackups?: { description: string; missing: { artifact: string; finishedAt: string }[] } | null | undefined;
  thresholds: HealthThresholds;
};

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
/** Artifacts of the same kind the newest is compared with. */
const HISTORY = 7;
/** A month and a few days: the seed's drill is monthly. */
const DRILL_MAX_AGE_MS = 35 * DAY;

const KIND_NAMES: Record<ArtifactKind, string> = {
  full: "full dump",
  schema: "schema dump",
  json: "JSON export",
  env: "environment backup",
  base: "base backup",
};

export function minutesText(ms: number): string {
  if (ms < MINUTE) return `${Math.round(ms / 1000)} s`;
  if (ms < 2 * HOUR) return `${Math.round(ms / MINUTE)} min`;
  if (ms < 2 * DAY) return `${(ms / HOUR).toFixed(1)} h`;
  return `${(ms / DAY).toFixed(1)} days`;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

const check = (id: string, state: HealthState, title: string, message: string): HealthCheck => ({ id, state, title, message });

/** Newest first, by finish time. */
function byKind(artifacts: Manifest[]): Map<ArtifactKind, Manifest[]> {
  const map = new Map<ArtifactKind, Manifest[]>();
  for (const m of [...artifacts].sort((a, b) => Date.parse(b.finishedAt) - Date.parse(a.finishedAt))) map.set(m.kind, [...(map.get(m.kind) ?? []), m]);
  return map;
}

function lastBackupCheck(inputs: HealthInputs): HealthCheck {
  const run = inputs.lastBackupRun;
  const title = "Last backup";
  if (!run)
    return check(
      "last-backup",
      "warning",
      title,
      `No backup of ${inputs.target} has run yet: run npm run backup, or start the worker so the schedule runs it.`,
    );
  if (run.status === "failed" || run.status === "interrupted")
    return check(
      "last-backup",
      "critical",
      title,
      `The last backup of ${inputs.target} (run ${run.id}${run.finishedAt ? `, ${run.finishedAt.toISOString()}` : ""}) ${run.status}: ${run.error ?? "no reason recorded"}. Fix the cause and run npm run backup.`,
    );
  return check("last-backup", "ok", title, `The last backup of ${inputs.target} (run ${run.id}) ${run.status}.`);
}

function sizeCheck(kind: ArtifactKind, history: Manifest[]): HealthCheck | undefined {
  const [newest, ...before] = history;
  if (!newest) return undefined;
  const id = `size:${kind}`;
  const title = `Size of the ${KIND_NAMES[kind]}`;
  const previous = before.slice(0, HISTORY).map((m) => m.sizeBytes);
  if (previous.length < 3) return check(id, "ok", title, `${formatBytes(newest.sizeBytes)}; ${previous.length} earlier one(s), too few to judge a change yet.`);
  const usual = median(previous);
  const ratio = usual === 0 ? 1 : newest.sizeBytes / usual;
  const what = `${newest.artifact} is ${formatBytes(newest.sizeBytes)}, ${Math.round(ratio * 100)}% of the median of the ${previous.length} before it (${formatBytes(usual)})`;
  if (ratio < 0.5)
    return check(
      id,
      "critical",
      title,
      `${what}: a table may have been emptied or the dump cut short. Compare row counts (npm run verify) before trusting it.`,
    );
  if (ratio < 0.8) return check(id, "warning", title, `${what}: check that no data was deleted by mistake.`);
  if (ratio > 2) return check(id, "warning", title, `${what}: the database grew fast; check free space and the backup window.`);
  return check(id, "ok", title, `${what}.`);
}

function durationCheck(kind: ArtifactKind, history: Manifest[]): HealthCheck | undefined {
  const [newest, ...before] = history;
  if (!newest) return undefined;
  const took = (m: Manifest) => Math.max(0, Date.parse(m.finishedAt) - Date.parse(m.startedAt));
  const id = `duration:${kind}`;
  const title = `Duration of the ${KIND_NAMES[kind]}`;
  const previous = before.slice(0, HISTORY).map(took);
  if (previous.length < 3) return check(id, "ok", title, `took ${minutesText(took(newest))}; too few earlier ones to judge a change yet.`);
  const usual = median(previous);
  const ms = took(newest);
  const what = `${newest.artifact} took ${minutesText(ms)}, against a median of ${minutesText(usual)}`;
  // Seconds of jitter on a small database are not an anomaly: a margin of minutes on top of the ratio.
  if (ms > 4 * usual && ms - usual > 5 * MINUTE)
    return check(id, "critical", title, `${what}: something slows the backup (locks, I/O, network); it may no longer finish within its window.`);
  if (ms > 2 * usual && ms - usual > MINUTE) return check(id, "warning", title, `${what}: check for lock waits or a busier server.`);
  return check(id, "ok", title, `${what}.`);
}

function ageChecks(inputs: HealthInputs, kinds: Map<ArtifactKind, Manifest[]>): HealthCheck[] {
  const schedule = inputs.backupSchedule;
  if (!schedule)
    return [
      check("age:full", "warning", "Backup schedule", `No backup schedule of ${inputs.target} is enabled: nothing backs it up unattended (npm run schedule).`),
    ];
  return schedule.kinds.map((kind) => {
    const id = `age:${kind}`;
    const title = `Last ${KIND_NAMES[kind]}`;
    const newest = kinds.get(kind)?.[0];
    if (!newest)
      return check(id, "critical", title, `There is no ${KIND_NAMES[kind]} of ${inputs.target} at all: run npm run backup and check that it succeeds.`);
    const age = inputs.now.getTime() - Date.parse(newest.finishedAt);
    const every = minutesText(schedule.intervalMs);
    const what = `The newest ${KIND_NAMES[kind]} finished ${minutesText(age)} ago (${newest.finishedAt}); the schedule (${schedule.cron}) runs every ${every}`;
    if (age > 2 * schedule.intervalMs + HOUR) return check(id, "critical", title, `${what}: backups are not happening. Check the worker and the last runs.`);
    if (age > schedule.intervalMs + HOUR) return check(id, "warning", title, `${what}: the last scheduled one is missing.`);
    return check(id, "ok", title, `${what}.`);
  });
}

function diskCheck(inputs: HealthInputs): HealthCheck {
  const title = "Repository free space";
  const disk = inputs.disk;
  if (!disk) return check("disk", "warning", title, "The free space of the backup folder could not be read.");
  const share = disk.totalBytes > 0 ? disk.freeBytes / disk.totalBytes : 1;
  const days = disk.growthBytesPerDay > 0 ? disk.freeBytes / disk.growthBytesPerDay : Infinity;
  const what = `${formatBytes(disk.freeBytes)} free (${Math.round(share * 100)}%)${
    Number.isFinite(days) ? `; at ${formatBytes(disk.growthBytesPerDay)} a day it is full in ${days < 1 ? "less than a day" : `${Math.floor(days)} days`}` : ""
  }`;
  if (share < 0.05 || days < 7) return check("disk", "critical", title, `${what}. Free space, shorten retention (npm run cleanup), or move the repository.`);
  if (share < 0.15 || days < 30) return check("disk", "warning", title, `${what}. Plan more space or shorter retention.`);
  return check("disk", "ok", title, `${what}.`);
}

/** The off-site copy's WAL lag against the RPO target: past it, losing this host loses more than the RPO allows. */
function offsiteCheck(inputs: HealthInputs): HealthCheck | undefined {
  const offsite = inputs.offsite;
  if (!offsite) return undefined;
  const title = "Off-site copy";
  if ("error" in offsite) return check("offsite", "critical", title, `${offsite.description} cannot be read: ${offsite.error}`);
  if (offsite.pendingFiles === 0) return check("offsite", "ok", title, `Every archived WAL file is in ${offsite.description}.`);
  const lag = `${offsite.pendingFiles} archived WAL files are not in ${offsite.description} yet (the oldest for ${minutesText(offsite.lagSeconds * 1000)})`;
  const rpoSeconds = inputs.thresholds.rpoSeconds;
  if (offsite.lagSeconds > rpoSeconds)
    return check(
      "offsite",
      "critical",
      title,
      `${lag}, beyond the RPO target of ${minutesText(rpoSeconds * 1000)}: check that a worker runs and can reach the bucket (npm run offsite -- push).`,
    );
  if (offsite.lagSeconds > rpoSeconds / 2) return check("offsite", "warning", title, `${lag}; a worker ships them every 30 s.`);
  return check("offsite", "ok", title, `${lag}; a worker ships them every 30 s.`);
}

/** A backup not off-site for this long is a warning (a copy normally follows its backup at once); for a day, critical. */
const OFFSITE_BACKUP_WARNING_MS = 15 * 60 * 1000;
const OFFSITE_BACKUP_CRITICAL_MS = 24 * 60 * 60 * 1000;

/** Local backups the bucket lacks: each is one disk failure away from being lost. */
function offsiteBackupsCheck(inputs: HealthInputs): HealthCheck | undefined {
  const offsite = inputs.offsiteBackups;
  if (!offsite) return undefined;
  const title = "Off-site backups";
  if (offsite.missing.length === 0) return check("offsite-backups", "ok", title, `Every backup is in ${offsite.description}.`);
  const oldest = [...offsite.missing].sort((a, b) => a.finishedAt.localeCompare(b.finishedAt))[0]!;
  const age = inputs.now.getTime() - Date.parse(oldest.finishedAt);
  const what = `${offsite.missing.length} backup${offsite.missing.length === 1 ? " is" : "s are"} not in ${offsite.description} (the oldest, ${oldest.artifact}, for ${minutesText(Math.max(0, age))})`;
  const fix = "check that the bucket is reachable and run npm run offsite -- push";
  if (!(age <= OFFSITE_BACKUP_CRITICAL_MS)) return check("offsite-backups", "critical", title, `${what}: ${fix}.`);
  if (age > OFFSITE_BACKUP_WARNING_MS) return check("offsite-backups", "warning", title, `${what}: ${fix}.`);
  return check("offsite-backups", "ok", title, `${what}; the copy follows each backup.`);
}

function archivingCheck(inputs: HealthInputs): HealthCheck | undefined {
  if (!inputs.archives) return undefined;
  const title = "WAL archiving";
  const a = inputs.archiver;
  const rpo = minutesText(inputs.thresholds.rpoSeconds * 1000);
  if (!a) return check("archiving", "warning", title, "Archiving has never been sampled: start the worker (npm run worker) or the agent so it is watched.");
  const staleMs = inputs.now.getTime() - a.sampledAt.getTime();
  if (a.lastFailedAt && (!a.lastArchivedAt || a.lastFailedAt > a.lastArchivedAt))
    return check(
      "archiving",
      "critical",
      title,
      `Archiving is failing: ${a.lastFailedWal ?? "a segment"} could not be archived (last attempt ${a.lastFailedAt.toISOString()}). PostgreSQL's log says why (look for "archive command failed"); WAL piles up in pg_wal until it is fixed.`,
    );
  const exposure = a.rpoExposureSeconds;
  if (exposure !== null && exposure > inputs.thresholds.rpoSeconds)
    return check(
      "archiving",
      "critical",
      title,
      `${minutesText(exposure * 1000)} of commits are not archived, more than the RPO of ${rpo}: a disaster now would lose them. ${a.alert ?? "Check archive_command and archive_timeout."}`,
    );
  if (staleMs > 15 * MINUTE)
    return check("archiving", "warning", title, `Archiving was last sampled ${minutesText(staleMs)} ago: is the worker (or agent) running?`);
  if (exposure !== null && exposure > inputs.thresholds.rpoSeconds / 2)
    return check("archiving", "warning", title, `${minutesText(exposure * 1000)} of commits are not archived yet, over half the RPO of ${rpo}.`);
  if ((a.readyCount ?? 0) > 10) return check("archiving", "warning", title, `${a.readyCount} segments wait to be archived: archiving is falling behind.`);
  if ((inputs.archiveFailuresLastDay ?? 0) > 0)
    return check(
      "archiving",
      "warning",
      title,
      `Archiving works now, but failed ${inputs.archiveFailuresLastDay} time(s) in the last 24 hours; PostgreSQL's log says why.`,
    );
  return check(
    "archiving",
    "ok",
    title,
    `Archiving works${exposure !== null ? `; ${minutesText(exposure * 1000)} of commits are not archived yet (RPO ${rpo})` : ""}.`,
  );
}

function rtoChecks(inputs: HealthInputs): HealthCheck[] {
  const drill = inputs.lastDrill;
  const t = inputs.thresholds;
  const specs = [
    { id: "rto:full", name: "full restore", field: "rto_full_ms", target: t.rtoFullMs },
    { id: "rto:partial", name: "partial (JSON) restore", field: "rto_partial_ms", target: t.rtoPartialMs },
    ...(inputs.archives ? [{ id: "rto:pitr", name: "point-in-time recovery", field: "rto_pitr_ms", target: t.rtoPitrMs }] : []),
  ];
  return specs.map(({ id, name, field, target }) => {
    const title = `Measured RTO of a ${name}`;
    if (!drill)
      return check(id, "warning", title, `No restore drill has run: the ${name} time is unknown (target ${minutesText(target)}). Run npm run verify.`);
    if (drill.status === "failed")
      return check(
        id,
        "critical",
        title,
        `The last restore drill (${drill.finishedAt.toISOString()}) failed: ${drill.error ?? "no reason recorded"}. The backups may not restore.`,
      );
    const measured = drill.result?.[field];
    const age = inputs.now.getTime() - drill.finishedAt.getTime();
    if (typeof measured !== "number")
      return check(
        id,
        "warning",
        title,
        `The last drill (${drill.finishedAt.toISOString()}) did not measure a ${name}${drill.result?.pitr_skipped ? ` (${String(drill.result.pitr_skipped)})` : ""}.`,
      );
    const what = `The last drill restored in ${minutesText(measured)} (target ${minutesText(target)}, ${drill.finishedAt.toISOString()})`;
    if (measured > target)
      return check(id, "critical", title, `${what}: slower than the RTO. Faster storage, parallel restore (LIFEBOAT_DUMP_JOBS) or a new target.`);
    if (age > DRILL_MAX_AGE_MS)
      return check(id, "warning", title, `${what}, but that was ${minutesText(age)} ago: run npm run verify (the schedule is monthly).`);
    if (measured > 0.8 * target) return check(id, "warning", title, `${what}: close to the RTO.`);
    return check(id, "ok", title, `${what}.`);
  });
}

export function evaluateHealth(inputs: HealthInputs): HealthCheck[] {
  const kinds = byKind(inputs.artifacts);
  const checks: HealthCheck[] = [lastBackupCheck(inputs)];
  for (const [kind, history] of kinds) {
    const size = sizeCheck(kind, history);
    const duration = durationCheck(kind, history);
    if (size) checks.push(size);
    if (duration) checks.push(duration);
  }
  checks.push(...ageChecks(inputs, kinds), diskCheck(inputs));
  const archiving = archivingCheck(inputs);
  if (archiving) checks.push(archiving);
  const offsite = offsiteCheck(inputs);
  if (offsite) checks.push(offsite);
  const offsiteBackups = offsiteBackupsCheck(inputs);
  if (offsiteBackups) checks.push(offsiteBackups);
  checks.push(...rtoChecks(inputs));
  return checks;
}

export function worstState(checks: HealthCheck[]): HealthState {
  return checks.some((c) => c.state === "critical") ? "critical" : checks.some((c) => c.state === "warning") ? "warning" : "ok";
}
