import "server-only";
import { createReadStream } from "node:fs";
import path from "node:path";
import { createInterface } from "node:readline";
import { asc, eq } from "drizzle-orm";
import type { Db } from "@/lib/db/client";
import { backupArtifacts, runs, targets } from "@/lib/db/schema";
import { ZManifest, type Manifest } from "@/lib/engine/repository/manifest";

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
