import { MirroredRepository } from "@/lib/engine/offsite/offsite-repository";
import { readdir, stat, statfs } from "node:fs/promises";
import path from "node:path";
import { and, desc, eq, gte, inArray, isNotNull } from "drizzle-orm";
import type { Db } from "@/lib/db/client";
import { archiverSamples, healthStates, runs, schedules } from "@/lib/db/schema";
import type { TEnv } from "@/lib/env";
import { ARTIFACT_KINDS, type ArtifactKind } from "@/lib/engine/repository/artifact-kinds";
import type { Manifest } from "@/lib/engine/repository/manifest";
import { nextRuns } from "@/lib/jobs/schedules";
import type { ResolvedTarget } from "@/lib/targets/resolve-target";
import { evaluateHealth, type HealthCheck, type HealthInputs, type HealthThresholds } from "./checks";

const DAY = 24 * 60 * 60 * 1000;

export function thresholdsOf(env: TEnv): HealthThresholds {
  return {
    rpoSeconds: env.LIFEBOAT_RPO_TARGET_MINUTES * 60,
    rtoFullMs: env.LIFEBOAT_RTO_FULL_MINUTES * 60_000,
    rtoPitrMs: env.LIFEBOAT_RTO_PITR_MINUTES * 60_000,
    rtoPartialMs: env.LIFEBOAT_RTO_PARTIAL_MINUTES * 60_000,
  };
}

/** Bytes of archived WAL written in the last week, per day (the repository's growth besides backups). */
async function walBytesPerDay(archiveDir: string, now: Date): Promise<number> {
  let bytes = 0;
  for (const name of await readdir(archiveDir).catch(() => [] as string[])) {
    const info = await stat(path.join(archiveDir, name)).catch(() => undefined);
    if (info?.isFile() && now.getTime() - info.mtimeMs < 7 * DAY) bytes += info.size;
  }
  return bytes / 7;
}

/** The kinds the backup schedule writes: its own list, or the default set as this repository would take it. */
function scheduledKinds(input: Record<string, unknown>, artifacts: Manifest[], archives: boolean): ArtifactKind[] {
  const listed = Array.isArray(input.kinds) ? input.kinds.filter((k): k is ArtifactKind => (ARTIFACT_KINDS as readonly unknown[]).includes(k)) : [];
  if (listed.length) return listed;
  const kinds: ArtifactKind[] = ["full", "schema", "json"];
  // An environment backup needs a key: expected once one was ever written.
  if (artifacts.some((a) => a.kind === "env")) kinds.push("env");
  if (archives) kinds.push("base");
  return kinds;
}

/**
 * Everything the checks judge, read from the repository (the artifacts), the catalog (runs,
 * schedules, archiver samples) and the machine (free space of the backup folder).
 */
export async function gatherHealthInputs(options: { db: Db; env: TEnv; target: ResolvedTarget; now: Date }): Promise<HealthInputs> {
  const { db, env, target, now } = options;
  const targetId = target.id;
  const { artifacts: listed } = await target.repository.list();
  const artifacts = listed.map((a) => a.manifest);
  const archives = await stat(path.join(target.repository.archiveDir, "SYSTEM_IDENTIFIER")).then(
    () => true,
    () => false,
  );

  let lastBackupRun: HealthInputs["lastBackupRun"] = null;
  let backupSchedule: HealthInputs["backupSchedule"] = null;
  let archiver: HealthInputs["archiver"] = null;
  let archiveFailuresLastDay: number | null = null;
  let lastDrill: HealthInputs["lastDrill"] = null;
  if (targetId !== null) {
    const [run] = await db
      .select()
      .from(runs)
      .where(
        and(eq(runs.targetId, targetId), eq(runs.kind, "backup"), inArray(runs.status, ["succeeded", "failed", "interrupted"]), isNotNull(runs.finishedAt)),
      )
      .orderBy(desc(runs.finishedAt))
      .limit(1);
    if (run) lastBackupRun = { id: run.id, status: run.status, finishedAt: run.finishedAt, error: run.error };

    const [schedule] = await db
      .select()
      .from(schedules)
      .where(and(eq(schedules.targetId, targetId), eq(schedules.kind, "backup"), eq(schedules.enabled, true)))
      .limit(1);
    if (schedule) {
      try {
        const [a, b] = nextRuns(schedule.cron, schedule.timezone, now, 2);
        backupSchedule = { cron: schedule.cron, intervalMs: b!.getTime() - a!.getTime(), kinds: scheduledKinds(schedule.input, artifacts, archives) };
      } catch {
        backupSchedule = null; // an invalid cron never fires: judged as no schedule
      }
    }

    const samples = await db
      .select()
      .from(archiverSamples)
      .where(and(eq(archiverSamples.targetId, targetId), gte(archiverSamples.sampledAt, new Date(now.getTime() - DAY))))
      .orderBy(desc(archiverSamples.sampledAt));
    const newest =
      samples[0] ??
      (await db.select().from(archiverSamples).where(eq(archiverSamples.targetId, targetId)).orderBy(desc(archiverSamples.sampledAt)).limit(1))[0];
    if (newest) archiver = newest;
    if (samples.length >= 2) archiveFailuresLastDay = Math.max(0, samples[0]!.failedCount - samples.at(-1)!.failedCount);

    const [drill] = await db
      .select()
      .from(runs)
      .where(and(eq(runs.targetId, targetId), eq(runs.kind, "verify"), inArray(runs.status, ["succeeded", "failed"]), isNotNull(runs.finishedAt)))
      .orderBy(desc(runs.finishedAt))
      .limit(1);
    if (drill?.finishedAt) lastDrill = { status: drill.status, finishedAt: drill.finishedAt, error: drill.error, result: drill.result };
  }

  const fs = await statfs(env.BACKUP_DIR).catch(() => undefined);
  const weekOfBackups = artifacts.filter((a) => now.getTime() - Date.parse(a.finishedAt) < 7 * DAY).reduce((sum, a) => sum + a.sizeBytes, 0);
  const disk = fs
    ? {
        freeBytes: fs.bavail * fs.bsize,
        totalBytes: fs.blocks * fs.bsize,
        growthBytesPerDay: weekOfBackups / 7 + (archives ? await walBytesPerDay(target.repository.archiveDir, now) : 0),
      }
    : null;

  // With an off-site copy: how far the bucket's WAL is behind (what a lost host would lose beyond the RPO exposure).
  const repository = target.repository;
  const offsite =
    repository instanceof MirroredRepository
      ? await repository.offsite.walLag(repository.archiveDir, now).then(
          (lag) => ({ description: repository.offsite.description, pendingFiles: lag.pendingFiles, lagSeconds: lag.lagSeconds }),
          (error: unknown) => ({ description: repository.offsite.description, error: (error as Error).message }),
        )
      : null;
  // …and which local backups it does not hold yet (one listing of the bucket's manifests).
  const offsiteBackups =
    repository instanceof MirroredRepository
      ? await repository.notOffsiteYet().then(
          (pending) => ({
            description: repository.offsite.description,
            missing: pending.artifacts.map((m) => ({ artifact: m.artifact, finishedAt: m.finishedAt })),
          }),
          () => null, // an unreadable bucket is already critical in the "offsite" check
        )
      : null;

  return {
    target: target.name,
    now,
    offsite,
    offsiteBackups,
    artifacts,
    lastBackupRun,
    backupSchedule,
    archives,
    archiver,
    archiveFailuresLastDay,
    lastDrill,
    disk,
    thresholds: thresholdsOf(env),
  };
}

/**
 * Store each check's state; returns the checks that have just turned critical (they were not
 * critical before), for the notification.
 */
export async function recordHealth(db: Db, targetId: number, checks: HealthCheck[], now: Date): Promise<HealthCheck[]> {
  const previous = new Map((await db.select().from(healthStates).where(eq(healthStates.targetId, targetId))).map((r) => [r.checkId, r]));
  const turnedCritical: HealthCheck[] = [];
  for (const c of checks) {
    const before = previous.get(c.id);
    if (c.state === "critical" && before?.state !== "critical") turnedCritical.push(c);
    const since = before && before.state === c.state ? before.since : now;
    await db
      .insert(healthStates)
      .values({ targetId, checkId: c.id, state: c.state, title: c.title, message: c.message, since, checkedAt: now })
      .onConflictDoUpdate({
        target: [healthStates.targetId, healthStates.checkId],
        set: { state: c.state, title: c.title, message: c.message, since, checkedAt: now },
      });
  }
  // Checks that no longer apply (a kind with no artifacts left) are not kept as stale states.
  const current = new Set(checks.map((c) => c.id));
  const gone = [...previous.keys()].filter((id) => !current.has(id));
  if (gone.length) await db.delete(healthStates).where(and(eq(healthStates.targetId, targetId), inArray(healthStates.checkId, gone)));
  return turnedCritical;
}

/** Gather, judge and (with a catalog row) record one target's health. */
export async function checkTargetHealth(options: {
  db: Db;
  env: TEnv;
  target: ResolvedTarget;
  now?: Date;
}): Promise<{ checks: HealthCheck[]; turnedCritical: HealthCheck[] }> {
  const now = options.now ?? new Date();
  const checks = evaluateHealth(await gatherHealthInputs({ ...options, now }));
  const turnedCritical = options.target.id !== null ? await recordHealth(options.db, options.target.id, checks, now) : [];
  return { checks, turnedCritical };
}
