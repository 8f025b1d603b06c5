import "server-only";
import { existsSync } from "node:fs";
import { readdir } from "node:fs/promises";
import path from "node:path";
import { and, desc, eq } from "drizzle-orm";
import type { Db } from "@/lib/db/client";
import { runs } from "@/lib/db/schema";
import { ManagedCluster } from "@/lib/engine/cluster/managed-cluster";
import { PITR_INSTANCE_MARKER } from "@/lib/engine/pitr/run-pitr";
import { listBaseBackups } from "@/lib/engine/pitr/plan-pitr";
import type { Manifest } from "@/lib/engine/repository/manifest";
import { computeRecoverableWindow, type RecoverableWindow } from "@/lib/engine/wal/recoverable-window";
import { parseLsn } from "@/lib/engine/wal/wal-names";
import type { TEnv } from "@/lib/env";
import { identities } from "@/lib/operations/settings";
import { listTargets, resolveTarget, type ResolvedTarget } from "@/lib/targets/resolve-target";
import type { PitrRestorePointView, PitrRunData, PitrTargetView, PitrTimelineView, RecoveredInstanceView } from "./pitr-view";

/** Older timelines drawn besides the followed one (each costs a pg_waldump pass over its WAL). */
const MAX_TIMELINES = 4;

/** Target names for the selector, the default target first. */
export async function pitrTargetNames(env: TEnv, db: Db): Promise<string[]> {
  await resolveTarget({ env, db }); // registers the default target from DB_*
  const rows = await listTargets(db);
  return rows.map((r) => r.name).sort((a, b) => Number(b === env.DB_TARGET_NAME) - Number(a === env.DB_TARGET_NAME) || a.localeCompare(b));
}

/** Timelines with WAL or a history file in the archive, newest first. */
async function archiveTimelines(archiveDir: string): Promise<number[]> {
  const names = await readdir(archiveDir).catch(() => [] as string[]);
  const timelines = new Set<number>();
  for (const name of names) {
    const match = /^([0-9A-F]{8})(?:[0-9A-F]{16}|\.history)/.exec(name);
    if (match) timelines.add(parseInt(match[1]!, 16));
  }
  return [...timelines].sort((a, b) => b - a);
}

/**
 * A restore point's moment: the end of the backup that wrote it when one did (its manifest names
 * it), else estimated from its WAL position between the known ends of its stretch.
 */
function restorePointTime(
  point: { name: string; lsn: string },
  window: RecoverableWindow,
  bases: Manifest[],
): Pick<PitrRestorePointView, "time" | "estimated"> {
  const backup = bases.find((b) => b.restorePoint === point.name);
  if (backup) return { time: backup.finishedAt, estimated: false };
  const lsn = parseLsn(point.lsn);
  const stretch = window.stretches.find((s) => parseLsn(s.from.lsn) <= lsn && lsn <= parseLsn(s.to.lsn));
  if (!stretch) return { time: null, estimated: true };
  const from = parseLsn(stretch.from.lsn);
  const span = parseLsn(stretch.to.lsn) - from;
  const t0 = Date.parse(stretch.from.time);
  const t1 = Date.parse(stretch.to.time);
  const share = span > 0n ? Number(((lsn - from) * 1000n) / span) / 1000 : 0;
  return { time: new Date(t0 + (t1 - t0) * Math.min(1, Math.max(0, share))).toISOString(), estimated: true };
}

function timelineView(window: RecoverableWindow, followed: boolean, bases: Manifest[]): PitrTimelineView {
  return {
    timeline: window.timeline,
    followed,
    stretches: window.stretches.map((s) => ({ from: s.from, to: s.to, bases: s.bases, endReason: s.endReason })),
    restorePoints: window.restorePoints.filter((p) => p.timeline === window.timeline).map((p) => ({ ...p, ...restorePointTime(p, window, bases) })),
    problems: window.problems,
  };
}

/**
 * The recoverable window of one target per timeline, as the PITR page draws it: the followed
 * (newest) timeline first, then older ones for context. Read from the repository, as
 * `npm run restore pitr -- --window` does; a failure becomes a sentence, not an error page.
 */
export async function loadPitrTarget(env: TEnv, db: Db, name: string | undefined): Promise<PitrTargetView> {
  const target: ResolvedTarget = await resolveTarget({ env, db, name });
  const now = new Date().toISOString();
  const view: PitrTargetView = {
    name: target.name,
    database: target.connection.database,
    managedHere: target.dataDir !== null,
    bases: [],
    timelines: [],
    now,
    error: null,
  };
  try {
    const bases = await listBaseBackups(target.repository);
    view.bases = bases.map((b) => ({
      artifact: b.artifact,
      startedAt: b.startedAt,
      finishedAt: b.finishedAt,
      sizeBytes: b.sizeBytes,
      timeline: b.timeline ?? null,
      walStopLsn: b.walStopLsn ?? null,
    }));
    if (bases.length === 0) return view;
    const options = {
      archiveDir: target.repository.archiveDir,
      baseBackups: bases,
      pgBinDir: env.PG_BIN_DIR,
      identities: await identities(env),
    };
    const followed = await computeRecoverableWindow(options);
    view.timelines.push(timelineView(followed, true, bases));
    const older = (await archiveTimelines(target.repository.archiveDir)).filter((t) => t < followed.timeline).slice(0, MAX_TIMELINES - 1);
    for (const timeline of older) {
      const window = await computeRecoverableWindow({ ...options, timeline });
      if (window.stretches.length > 0) view.timelines.push(timelineView(window, false, bases));
    }
  } catch (error) {
    view.error = `The recoverable window could not be read: ${(error as Error).message}`;
  }
  return view;
}

/**
 * Instances that recoveries into a new instance left on this host (their folder still exists):
 * after a reload they can still be looked into, and stopped.
 */
export async function loadRecoveredInstances(env: TEnv, db: Db, name: string): Promise<RecoveredInstanceView[]> {
  const target = await resolveTarget({ env, db, name });
  if (target.id === null) return [];
  const rows = await db
    .select()
    .from(runs)
    .where(and(eq(runs.kind, "pitr"), eq(runs.status, "succeeded"), eq(runs.targetId, target.id)))
    .orderBy(desc(runs.id))
    .limit(50);
  const instances: RecoveredInstanceView[] = [];
  for (const run of rows) {
    const data = (run.result as { data?: PitrRunData } | null)?.data;
    if (data?.mode !== "new-instance" || typeof data.dataDir !== "string" || !path.isAbsolute(data.dataDir)) continue;
    if (!existsSync(path.join(path.dirname(data.dataDir), PITR_INSTANCE_MARKER))) continue;
    const running = await new ManagedCluster({ dataDir: data.dataDir, control: { method: "pg_ctl" } }).isRunning().catch(() => false);
    instances.push({
      runId: run.id,
      recoveredTo: String(run.params.recovery_target ?? ""),
      finishedAt: run.finishedAt?.toISOString() ?? null,
      running,
      data,
    });
  }
  return instances;
}
