import "server-only";
import { createReadStream } from "node:fs";
import path from "node:path";
import { createInterface } from "node:readline";
import { asc, eq } from "drizzle-orm";
import type { Db } from "@/lib/db/client";
import { backupArtifacts, runs, targets } from "@/lib/db/schema";
import type { TEnv } from "@/lib/env";
import { ZManifest, type Manifest } from "@/lib/engine/repository/manifest";
import { OPERATIONS } from "@/lib/operations";
import { resolveTarget } from "@/lib/targets/resolve-target";

/** Names of every target in the catalog, for the history's filter. */
export async function listTargetNames(db: Db): Promise<string[]> {
  const rows = await db.select({ name: targets.name }).from(targets).orderBy(asc(targets.name));
  return rows.map((r) => r.name);
}

export type BackupDetail = {
  id: number;
  target: string;
  kind: Manifest["kind"];
  fileName: string;
  status: string;
  startedAt: Date;
  finishedAt: Date;
  sizeBytes: number;
  encrypted: boolean;
  verifiedAt: Date | null;
  verifyStatus: string | null;
  /** The manifest as indexed; null when the stored copy does not parse (shown as such, never trusted). */
  manifest: Manifest | null;
  run: {
    id: number;
    status: string;
    phase: string | null;
    error: string | null;
    stderr: string | null;
    triggeredBy: string;
    startedAt: Date | null;
    finishedAt: Date | null;
    durationMs: number | null;
  } | null;
};

/** One artifact of the catalog with its manifest and the run that wrote it; null when there is no such row. */
export async function getBackupDetail(db: Db, id: number): Promise<BackupDetail | null> {
  const [row] = await db
    .select({ artifact: backupArtifacts, target: targets.name, run: runs })
    .from(backupArtifacts)
    .innerJoin(targets, eq(targets.id, backupArtifacts.targetId))
    .leftJoin(runs, eq(runs.id, backupArtifacts.runId))
    .where(eq(backupArtifacts.id, id))
    .limit(1);
  if (!row) return null;
  const { artifact, run } = row;
  const parsed = ZManifest.safeParse(artifact.manifest);
  return {
    id: artifact.id,
    target: row.target,
    kind: artifact.kind,
    fileName: artifact.fileName,
    status: artifact.status,
    startedAt: artifact.startedAt,
    finishedAt: artifact.finishedAt,
    sizeBytes: artifact.sizeBytes,
    encrypted: artifact.encrypted,
    verifiedAt: artifact.verifiedAt,
    verifyStatus: artifact.verifyStatus,
    manifest: parsed.success ? parsed.data : null,
    run: run
      ? {
          id: run.id,
          status: run.status,
          phase: run.phase,
          error: run.error,
          stderr: run.stderr,
          triggeredBy: run.triggeredBy,
          startedAt: run.startedAt,
          finishedAt: run.finishedAt,
          durationMs: run.durationMs,
        }
      : null,
  };
}

/**
 * The lines logs/backup.log holds for one run (written by runOperation, secrets already redacted).
 * Read as a stream so a large log never sits in memory; at most `limit` lines, the last ones kept.
 */
export async function runLogLines(logDir: string, runId: number, limit = 50): Promise<string[] | null> {
  const marker = new RegExp(`\\srun=${runId}(\\s|$)`);
  const lines: string[] = [];
  try {
    const input = createReadStream(path.join(logDir, "backup.log"), { encoding: "utf8" });
    const reader = createInterface({ input, crlfDelay: Infinity });
    for await (const line of reader) {
      if (!marker.test(line)) continue;
      lines.push(line);
      if (lines.length > limit) lines.shift();
    }
  } catch {
    return null; // no log on this host (the worker may run elsewhere)
  }
  return lines;
}

export type RestorePlan = {
  id: number;
  target: string;
  fileName: string;
  kind: "full" | "json";
  status: string;
  startedAt: string;
  /** The database an in-place restore overwrites, as the operation's confirmation names it. */
  confirmDatabase: string;
  /** What the operation says it overwrites ("Restoring full_backup_….dump"). */
  confirmWhat: string;
  /** Tables of the backup with their row counts (the manifest's, taken in the dump's snapshot). */
  tables: { table: string; rows: number }[];
};

/**
 * What the restore dialog shows for one artifact: the target's database (named by the restore
 * operation's own `confirmation`, so the page asks for exactly the name the server will check) and
 * the tables it holds. Null for an artifact that is not a full dump or a JSON export.
 */
export async function getRestorePlan(db: Db, env: TEnv, id: number): Promise<RestorePlan | null> {
  const detail = await getBackupDetail(db, id);
  if (!detail || (detail.kind !== "full" && detail.kind !== "json")) return null;
  const target = await resolveTarget({ env, db, name: detail.target });
  const confirmation =
    detail.kind === "full"
      ? OPERATIONS.restore.confirmation?.({ file: detail.fileName }, target)
      : OPERATIONS["restore-json"].confirmation?.({ file: detail.fileName }, target);
  const counts = detail.manifest?.tableRowCounts ?? {};
  return {
    id: detail.id,
    target: detail.target,
    fileName: detail.fileName,
    kind: detail.kind,
    status: detail.status,
    startedAt: detail.startedAt.toISOString(),
    confirmDatabase: confirmation?.database ?? target.connection.database,
    confirmWhat: confirmation?.what ?? `Restoring ${detail.fileName}`,
    tables: Object.keys(counts)
      .sort()
      .map((table) => ({ table, rows: counts[table] ?? 0 })),
  };
}
