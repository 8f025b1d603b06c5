import "server-only";
import { and, asc, desc, eq, gte, inArray, isNotNull } from "drizzle-orm";
import type { Db } from "@/lib/db/client";
import { archiverSamples, backupArtifacts, healthStates, runs, type ArchiverSample } from "@/lib/db/schema";
import type { TEnv } from "@/lib/env";
import { evaluateHealth, type HealthCheck } from "@/lib/health/checks";
import { gatherHealthInputs, thresholdsOf } from "@/lib/health/gather-health";
import { listTargets, resolveTarget } from "@/lib/targets/resolve-target";

const HOUR = 60 * 60 * 1000;
const DAY = 24 * HOUR;

/** One backup of one kind: when it finished, its size and how long it took (chart points: times in ms since the epoch). */
export type BackupPoint = { t: number; sizeBytes: number; durationMs: number; artifact: string };
export type WalHour = { hour: number; archived: number; failed: number };
export type SegmentAgePoint = { t: number; ageSeconds: number };
export type DrillPoint = { t: number; runId: number; status: string; fullMs: number | null; partialMs: number | null; pitrMs: number | null };
export type DiskForecast = {
  freeBytes: number;
  totalBytes: number;
  growthBytesPerDay: number;
  /** null: not growing. */
  daysUntilFull: number | null;
  /** Used bytes on the volume today and ahead at the growth of the last week (day offsets). */
  points: { day: number; usedBytes: number }[];
};

export type HealthPageData = {
  targets: string[];
  target: string;
  now: Date;
  backups: Partial<Record<string, BackupPoint[]>>;
  walHours: WalHour[];
  lastSegment: { wal: string | null; archivedAt: Date | null; ageSeconds: number | null; sampledAt: Date } | null;
  segmentAges: SegmentAgePoint[];
  disk: DiskForecast | null;
  drills: DrillPoint[];
  rtoTargets: { fullMs: number; partialMs: number; pitrMs: number };
  checks: (HealthCheck & { since: Date | null })[];
  /** Why the checks could not be judged (the target cannot be resolved, the repository is unreadable). */
  checksError: string | null;
};

/** Backups per kind over the last 90 days (the catalog keeps deleted ones too: the history stays). */
async function backupSeries(db: Db, targetId: number, now: Date): Promise<Partial<Record<string, BackupPoint[]>>> {
  const rows = await db
    .select({
      kind: backupArtifacts.kind,
      fileName: backupArtifacts.fileName,
      startedAt: backupArtifacts.startedAt,
      finishedAt: backupArtifacts.finishedAt,
      sizeBytes: backupArtifacts.sizeBytes,
    })
    .from(backupArtifacts)
    .where(and(eq(backupArtifacts.targetId, targetId), gte(backupArtifacts.finishedAt, new Date(now.getTime() - 90 * DAY))))
    .orderBy(asc(backupArtifacts.finishedAt))
    .limit(2000);
  const series: Partial<Record<string, BackupPoint[]>> = {};
  for (const r of rows)
    (series[r.kind] ??= []).push({
      t: r.finishedAt.getTime(),
      sizeBytes: r.sizeBytes,
      durationMs: Math.max(0, r.finishedAt.getTime() - r.startedAt.getTime()),
      artifact: r.fileName,
    });
  return series;
}

/**
 * WAL segments archived and failed per hour, from consecutive archiver samples: each difference of
 * pg_stat_archiver's counters is counted in the hour of the later sample. A counter that went down
 * (statistics reset, a restored cluster) starts again from that sample.
 */
export function walPerHour(samples: Pick<ArchiverSample, "sampledAt" | "archivedCount" | "failedCount">[]): WalHour[] {
  const hours = new Map<number, WalHour>();
  const sorted = [...samples].sort((a, b) => a.sampledAt.getTime() - b.sampledAt.getTime());
  for (let i = 1; i < sorted.length; i++) {
    const before = sorted[i - 1]!;
    const after = sorted[i]!;
    const hour = Math.floor(after.sampledAt.getTime() / HOUR) * HOUR;
    const bucket = hours.get(hour) ?? { hour, archived: 0, failed: 0 };
    bucket.archived += after.archivedCount >= before.archivedCount ? after.archivedCount - before.archivedCount : 0;
    bucket.failed += after.failedCount >= before.failedCount ? after.failedCount - before.failedCount : 0;
    hours.set(hour, bucket);
  }
  return [...hours.values()].sort((a, b) => a.hour - b.hour);
}

/** The volume's use today and ahead, until it is full or 90 days out. */
export function forecastDisk(disk: { freeBytes: number; totalBytes: number; growthBytesPerDay: number }): DiskForecast {
  const used = Math.max(0, disk.totalBytes - disk.freeBytes);
  const daysUntilFull = disk.growthBytesPerDay > 0 ? disk.freeBytes / disk.growthBytesPerDay : null;
  const horizon = Math.max(7, Math.min(90, daysUntilFull === null ? 90 : Math.ceil(daysUntilFull)));
  const step = Math.max(1, Math.ceil(horizon / 15));
  const points: DiskForecast["points"] = [];
  for (let day = 0; day <= horizon; day += step) points.push({ day, usedBytes: Math.min(disk.totalBytes, used + disk.growthBytesPerDay * day) });
  return { ...disk, daysUntilFull, points };
}

async function drillSeries(db: Db, targetId: number): Promise<DrillPoint[]> {
  const rows = await db
    .select({ id: runs.id, status: runs.status, finishedAt: runs.finishedAt, result: runs.result })
    .from(runs)
    .where(and(eq(runs.targetId, targetId), eq(runs.kind, "verify"), inArray(runs.status, ["succeeded", "failed"]), isNotNull(runs.finishedAt)))
    .orderBy(desc(runs.finishedAt))
    .limit(30);
  const ms = (value: unknown) => (typeof value === "number" && Number.isFinite(value) ? value : null);
  return rows.reverse().map((r) => ({
    t: r.finishedAt!.getTime(),
    runId: r.id,
    status: r.status,
    fullMs: ms(r.result?.rto_full_ms),
    partialMs: ms(r.result?.rto_partial_ms),
    pitrMs: ms(r.result?.rto_pitr_ms),
  }));
}

/** Everything /health draws for one target: from the catalog (artifacts, runs, archiver samples), the repository and the backup volume. */
export async function loadHealthPage(db: Db, env: TEnv, requested: string | undefined, now = new Date()): Promise<HealthPageData> {
  await resolveTarget({ env, db }); // registers the default target from DB_*
  const all = await listTargets(db);
  const names = all.map((t) => t.name).sort((a, b) => Number(b === env.DB_TARGET_NAME) - Number(a === env.DB_TARGET_NAME) || a.localeCompare(b));
  const name = requested && names.includes(requested) ? requested : env.DB_TARGET_NAME;
  const row = all.find((t) => t.name === name)!;
  const thresholds = thresholdsOf(env);

  const samples = await db
    .select()
    .from(archiverSamples)
    .where(and(eq(archiverSamples.targetId, row.id), gte(archiverSamples.sampledAt, new Date(now.getTime() - 2 * DAY))))
    .orderBy(asc(archiverSamples.sampledAt));
  const newest =
    samples.at(-1) ??
    (await db.select().from(archiverSamples).where(eq(archiverSamples.targetId, row.id)).orderBy(desc(archiverSamples.sampledAt)).limit(1))[0];

  const [backups, drills, states] = await Promise.all([
    backupSeries(db, row.id, now),
    drillSeries(db, row.id),
    db.select().from(healthStates).where(eq(healthStates.targetId, row.id)),
  ]);

  let checks: HealthPageData["checks"] = [];
  let checksError: string | null = null;
  let disk: DiskForecast | null = null;
  try {
    const target = await resolveTarget({ env, db, name });
    // Judged now and not recorded: the worker's watch records states and notifies when one turns critical.
    const inputs = await gatherHealthInputs({ db, env, target, now });
    if (inputs.disk) disk = forecastDisk(inputs.disk);
    checks = evaluateHealth(inputs).map((c) => {
      const recorded = states.find((s) => s.checkId === c.id);
      return { ...c, since: recorded && recorded.state === c.state ? recorded.since : null };
    });
  } catch (error) {
    checksError = (error as Error).message;
  }

  return {
    targets: names,
    target: name,
    now,
    backups,
    walHours: walPerHour(samples),
    lastSegment: newest
      ? {
          wal: newest.lastArchivedWal,
          archivedAt: newest.lastArchivedAt,
          ageSeconds: newest.lastArchivedAt ? Math.max(0, Math.round((now.getTime() - newest.lastArchivedAt.getTime()) / 1000)) : null,
          sampledAt: newest.sampledAt,
        }
      : null,
    segmentAges: samples
      .filter((s) => s.lastArchivedAt)
      .map((s) => ({ t: s.sampledAt.getTime(), ageSeconds: Math.max(0, Math.round((s.sampledAt.getTime() - s.lastArchivedAt!.getTime()) / 1000)) })),
    disk,
    drills,
    rtoTargets: { fullMs: thresholds.rtoFullMs, partialMs: thresholds.rtoPartialMs, pitrMs: thresholds.rtoPitrMs },
    checks,
    checksError,
  };
}
