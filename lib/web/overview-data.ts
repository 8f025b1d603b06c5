import "server-only";
import { and, desc, eq, inArray, isNotNull } from "drizzle-orm";
import type { Db } from "@/lib/db/client";
import { archiverSamples, backupArtifacts, runs, schedules, targets, type Schedule } from "@/lib/db/schema";
import { describeConnection } from "@/lib/engine/pg/connection";
import { ARTIFACT_KINDS, isArtifactKind, type ArtifactKind } from "@/lib/engine/repository/artifact-kinds";
import type { TEnv } from "@/lib/env";
import { evaluateHealth, worstState, type HealthCheck, type HealthState } from "@/lib/health/checks";
import { gatherHealthInputs } from "@/lib/health/gather-health";
import { describeCron, nextDue } from "@/lib/jobs/schedules";
import { probeTarget, type TargetProbe } from "@/lib/targets/probe-target";
import { listTargets, resolveTarget, type ResolvedTarget } from "@/lib/targets/resolve-target";

/** One line of a target's "per kind" table: what last succeeded and when the schedule runs it next. */
export type KindStatus = {
  key: string;
  label: string;
  lastSuccess: Date | null;
  /** Size of the newest artifact (backup kinds only). */
  sizeBytes: number | null;
  next: Date | null;
  /** The schedule in words, or why there is no next run. */
  schedule: string;
};

export type RpoReading = {
  exposureSeconds: number | null;
  sampledAt: Date;
  lastArchivedWal: string | null;
  lastArchivedAt: Date | null;
  healthy: boolean;
  alert: string | null;
};

export type HealthSummary = { worst: HealthState; counts: Record<HealthState, number>; problems: HealthCheck[] } | { error: string };

export type OverviewTarget = {
  name: string;
  /** user@host:port/db, never a password. */
  address: string;
  isDefault: boolean;
  probe: TargetProbe;
  kinds: KindStatus[];
  rpo: RpoReading | null;
  rpoTargetSeconds: number;
  health: HealthSummary;
};

export type ActiveRun = { id: number; kind: string; target: string | null; status: string; queuedAt: Date; triggeredBy: string };

const KIND_TITLES: Record<ArtifactKind, string> = {
  full: "Full dump",
  schema: "Schema dump",
  json: "JSON export",
  env: "Environment",
  base: "Base backup",
};

/** The kinds a backup schedule writes: its own list, or every kind (the operation picks the default set). */
function scheduleKinds(schedule: Schedule): ArtifactKind[] {
  const listed = Array.isArray(schedule.input.kinds) ? schedule.input.kinds.filter(isArtifactKind) : [];
  return listed.length ? listed : [...ARTIFACT_KINDS];
}

function nextOf(schedule: Schedule | undefined): { next: Date | null; words: string } {
  if (!schedule) return { next: null, words: "no schedule" };
  if (!schedule.enabled) return { next: null, words: "schedule disabled" };
  try {
    return { next: nextDue(schedule), words: `${describeCron(schedule.cron)} (${schedule.timezone})` };
  } catch {
    return { next: null, words: `invalid cron ${JSON.stringify(schedule.cron)}: it never fires` };
  }
}

async function kindStatuses(db: Db, targetId: number): Promise<KindStatus[]> {
  const [artifactRows, scheduleRows, drillRows, cleanupRows] = await Promise.all([
    db
      .selectDistinctOn([backupArtifacts.kind], { kind: backupArtifacts.kind, finishedAt: backupArtifacts.finishedAt, sizeBytes: backupArtifacts.sizeBytes })
      .from(backupArtifacts)
      .where(and(eq(backupArtifacts.targetId, targetId), eq(backupArtifacts.status, "available")))
      .orderBy(backupArtifacts.kind, desc(backupArtifacts.finishedAt)),
    db.select().from(schedules).where(eq(schedules.targetId, targetId)).orderBy(schedules.id),
    lastSucceeded(db, targetId, "verify"),
    lastSucceeded(db, targetId, "cleanup"),
  ]);
  const enabledFirst = (kind: string) => scheduleRows.filter((s) => s.kind === kind).sort((a, b) => Number(b.enabled) - Number(a.enabled));
  const backupSchedules = enabledFirst("backup");
  const lines: KindStatus[] = [];
  for (const kind of ARTIFACT_KINDS) {
    const newest = artifactRows.find((r) => r.kind === kind);
    const schedule = backupSchedules.find((s) => s.enabled && scheduleKinds(s).includes(kind)) ?? backupSchedules[0];
    // Environment and base backups exist only where configured: listed once one was written.
    if (!newest && (kind === "env" || kind === "base")) continue;
    const { next, words } = nextOf(schedule);
    lines.push({ key: kind, label: KIND_TITLES[kind], lastSuccess: newest?.finishedAt ?? null, sizeBytes: newest?.sizeBytes ?? null, next, schedule: words });
  }
  for (const [kind, label, last] of [
    ["verify", "Restore drill", drillRows],
    ["cleanup", "Retention cleanup", cleanupRows],
  ] as const) {
    const { next, words } = nextOf(enabledFirst(kind)[0]);
    lines.push({ key: kind, label, lastSuccess: last, sizeBytes: null, next, schedule: words });
  }
  return lines;
}

async function lastSucceeded(db: Db, targetId: number, kind: string): Promise<Date | null> {
  const [row] = await db
    .select({ finishedAt: runs.finishedAt })
    .from(runs)
    .where(and(eq(runs.targetId, targetId), eq(runs.kind, kind), eq(runs.status, "succeeded"), isNotNull(runs.finishedAt)))
    .orderBy(desc(runs.finishedAt))
    .limit(1);
  return row?.finishedAt ?? null;
}

async function latestSample(db: Db, targetId: number): Promise<RpoReading | null> {
  const [row] = await db.select().from(archiverSamples).where(eq(archiverSamples.targetId, targetId)).orderBy(desc(archiverSamples.sampledAt)).limit(1);
  if (!row) return null;
  return {
    exposureSeconds: row.rpoExposureSeconds,
    sampledAt: row.sampledAt,
    lastArchivedWal: row.lastArchivedWal,
    lastArchivedAt: row.lastArchivedAt,
    healthy: row.healthy,
    alert: row.alert,
  };
}

/**
 * The health checks judged now, from the same inputs as the worker's watch. Not recorded: the
 * watch records states and notifies when one turns critical; a page view recording first would
 * swallow that notice.
 */
export async function judgeHealth(db: Db, env: TEnv, target: ResolvedTarget, now: Date): Promise<HealthCheck[]> {
  return evaluateHealth(await gatherHealthInputs({ db, env, target, now }));
}

function summarize(checks: HealthCheck[]): HealthSummary {
  const counts: Record<HealthState, number> = { ok: 0, warning: 0, critical: 0 };
  for (const c of checks) counts[c.state] += 1;
  const rank = { critical: 0, warning: 1, ok: 2 } as const;
  const problems = checks.filter((c) => c.state !== "ok").sort((a, b) => rank[a.state] - rank[b.state]);
  return { worst: worstState(checks), counts, problems };
}

/** Every target in the catalog (the default one, from DB_*, first), probed, with its schedule, RPO exposure and health. */
export async function loadOverview(db: Db, env: TEnv, now = new Date()): Promise<OverviewTarget[]> {
  await resolveTarget({ env, db }); // registers the default target from DB_*
  const rows = await listTargets(db);
  rows.sort((a, b) => Number(b.name === env.DB_TARGET_NAME) - Number(a.name === env.DB_TARGET_NAME));
  const rpoTargetSeconds = env.LIFEBOAT_RPO_TARGET_MINUTES * 60;
  return Promise.all(
    rows.map(async (row): Promise<OverviewTarget> => {
      const [kinds, rpo] = await Promise.all([kindStatuses(db, row.id), latestSample(db, row.id)]);
      const base = { name: row.name, isDefault: row.name === env.DB_TARGET_NAME, kinds, rpo, rpoTargetSeconds };
      let target: ResolvedTarget;
      try {
        target = await resolveTarget({ env, db, name: row.name });
      } catch (error) {
        const message = (error as Error).message;
        return {
          ...base,
          address: `${row.username}@${row.host}:${row.port}/${row.database}`,
          probe: { ok: false, error: message },
          health: { error: message },
        };
      }
      const [probe, health] = await Promise.all([
        probeTarget(target.connection),
        judgeHealth(db, env, target, now).then(summarize, (error: unknown) => ({ error: (error as Error).message })),
      ]);
      return { ...base, address: describeConnection(target.connection), probe, health };
    }),
  );
}

/** Operations queued or running now, on any target (newest first). */
export async function loadActiveRuns(db: Db): Promise<ActiveRun[]> {
  return db
    .select({ id: runs.id, kind: runs.kind, target: targets.name, status: runs.status, queuedAt: runs.queuedAt, triggeredBy: runs.triggeredBy })
    .from(runs)
    .leftJoin(targets, eq(targets.id, runs.targetId))
    .where(inArray(runs.status, ["queued", "running"]))
    .orderBy(desc(runs.id))
    .limit(20);
}
