import { createHash, timingSafeEqual } from "node:crypto";
import { and, desc, eq, isNotNull, sql } from "drizzle-orm";
import { Counter, Gauge, Registry } from "prom-client";
import type { Db } from "@/lib/db/client";
import { archiverSamples, backupArtifacts, healthStates, runs, targets } from "@/lib/db/schema";

export type MetricsAccess = "ok" | "denied" | "disabled";

/** Whether an Authorization header carries the metrics token (constant time; no token configured: metrics are off). */
export function metricsAccess(authorization: string | null, token: string | undefined): MetricsAccess {
  if (!token) return "disabled";
  const match = /^Bearer\s+(.+)$/i.exec(authorization ?? "");
  if (!match) return "denied";
  const digest = (value: string) => createHash("sha256").update(value).digest();
  return timingSafeEqual(digest(match[1]!.trim()), digest(token)) ? "ok" : "denied";
}

const STATE_VALUE: Record<string, number> = { ok: 0, warning: 1, critical: 2 };

/**
 * Lifeboat's state in the Prometheus text format, read from the catalog on each scrape (a fresh
 * registry each time: the metadata database is the source, not this process's memory, so any
 * number of dashboards answer alike).
 */
export async function renderMetrics(db: Db): Promise<{ contentType: string; body: string }> {
  const registry = new Registry();
  const gauge = (name: string, help: string, labelNames: string[]) => new Gauge({ name, help, labelNames, registers: [registry] });
  const lastSuccess = gauge("lifeboat_backup_last_success_timestamp_seconds", "When the newest backup of each kind finished (Unix time)", ["target", "kind"]);
  const lastSize = gauge("lifeboat_backup_last_size_bytes", "Size of the newest backup of each kind", ["target", "kind"]);
  const lastDuration = gauge("lifeboat_backup_last_duration_seconds", "How long the newest backup of each kind took", ["target", "kind"]);
  const runCount = new Counter({
    name: "lifeboat_runs_total",
    help: "Runs recorded, by kind and final status",
    labelNames: ["target", "kind", "status"],
    registers: [registry],
  });
  const runSeconds = gauge("lifeboat_run_last_duration_seconds", "Duration of the last finished run of each kind", ["target", "kind", "status"]);
  const queued = gauge("lifeboat_queue_depth", "Operations queued and not started, per target", ["target"]);
  const running = gauge("lifeboat_runs_running", "Operations running now, per target", ["target"]);
  const archived = gauge("lifeboat_archiver_archived_count", "pg_stat_archiver.archived_count at the last sample", ["target"]);
  const failed = gauge("lifeboat_archiver_failed_count", "pg_stat_archiver.failed_count at the last sample", ["target"]);
  const ready = gauge("lifeboat_archiver_ready_segments", "WAL segments waiting to be archived at the last sample", ["target"]);
  const exposure = gauge("lifeboat_rpo_exposure_seconds", "Seconds of commits not archived yet (what a disaster now would lose)", ["target"]);
  const sampled = gauge("lifeboat_archiver_last_sample_timestamp_seconds", "When the archiver was last sampled (Unix time)", ["target"]);
  const healthState = gauge("lifeboat_health_state", "Each health check: 0 ok, 1 warning, 2 critical", ["target", "check"]);
  const rto = gauge("lifeboat_measured_rto_seconds", "Restore time measured by the last successful drill", ["target", "restore"]);

  const names = new Map((await db.select({ id: targets.id, name: targets.name }).from(targets)).map((t) => [t.id, t.name]));
  const nameOf = (id: number | null) => (id === null ? "unknown" : (names.get(id) ?? `id-${id}`));

  const newest = await db
    .selectDistinctOn([backupArtifacts.targetId, backupArtifacts.kind])
    .from(backupArtifacts)
    .where(eq(backupArtifacts.status, "available"))
    .orderBy(backupArtifacts.targetId, backupArtifacts.kind, desc(backupArtifacts.finishedAt));
  for (const a of newest) {
    const labels = { target: nameOf(a.targetId), kind: a.kind };
    lastSuccess.set(labels, a.finishedAt.getTime() / 1000);
    lastSize.set(labels, a.sizeBytes);
    lastDuration.set(labels, (a.finishedAt.getTime() - a.startedAt.getTime()) / 1000);
  }

  const counts = await db
    .select({ targetId: runs.targetId, kind: runs.kind, status: runs.status, n: sql<number>`count(*)::int` })
    .from(runs)
    .groupBy(runs.targetId, runs.kind, runs.status);
  for (const c of counts) {
    const target = nameOf(c.targetId);
    if (c.status === "queued") queued.inc({ target }, c.n);
    else if (c.status === "running") running.inc({ target }, c.n);
    else runCount.inc({ target, kind: c.kind, status: c.status }, c.n);
  }
  for (const target of names.values()) {
    queued.inc({ target }, 0);
    running.inc({ target }, 0);
  }

  const lastRuns = await db
    .selectDistinctOn([runs.targetId, runs.kind])
    .from(runs)
    .where(and(isNotNull(runs.finishedAt), isNotNull(runs.durationMs)))
    .orderBy(runs.targetId, runs.kind, desc(runs.finishedAt));
  for (const r of lastRuns) runSeconds.set({ target: nameOf(r.targetId), kind: r.kind, status: r.status }, (r.durationMs ?? 0) / 1000);

  const drills = await db
    .selectDistinctOn([runs.targetId])
    .from(runs)
    .where(and(eq(runs.kind, "verify"), eq(runs.status, "succeeded")))
    .orderBy(runs.targetId, desc(runs.finishedAt));
  for (const d of drills) {
    for (const [restore, field] of [
      ["full", "rto_full_ms"],
      ["partial", "rto_partial_ms"],
      ["pitr", "rto_pitr_ms"],
    ] as const) {
      const ms = d.result?.[field];
      if (typeof ms === "number") rto.set({ target: nameOf(d.targetId), restore }, ms / 1000);
    }
  }

  const samples = await db
    .selectDistinctOn([archiverSamples.targetId])
    .from(archiverSamples)
    .orderBy(archiverSamples.targetId, desc(archiverSamples.sampledAt));
  for (const s of samples) {
    const labels = { target: nameOf(s.targetId) };
    archived.set(labels, s.archivedCount);
    failed.set(labels, s.failedCount);
    sampled.set(labels, s.sampledAt.getTime() / 1000);
    if (s.readyCount !== null) ready.set(labels, s.readyCount);
    if (s.rpoExposureSeconds !== null) exposure.set(labels, s.rpoExposureSeconds);
  }

  for (const h of await db.select().from(healthStates)) healthState.set({ target: nameOf(h.targetId), check: h.checkId }, STATE_VALUE[h.state] ?? 2);

  return { contentType: registry.contentType, body: await registry.metrics() };
}
