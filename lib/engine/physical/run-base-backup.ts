import { readFile, rename, rm } from "node:fs/promises";
import path from "node:path";
import type { BackupLog } from "../log/backup-log";
import type { PgConnection } from "../pg/connection";
import { preflightClientTool } from "../pg/preflight";
import { runPgTool } from "../pg/run-pg-tool";
import { withClient } from "../pg/server-info";
import { ensureDir, ensureTargetDir, fsyncPath, removeStaleTemps, tempPath } from "../repository/files";
import { describeFile, writeManifest, type Manifest } from "../repository/manifest";
import { backupTimestamp } from "../repository/paths";
import { acquireTargetLock } from "../repository/target-lock";
import { folderSize } from "../repository/walk";

export type RunBaseBackupOptions = {
  target: { name: string; connection: PgConnection };
  backupRoot: string;
  pgBinDir?: string | undefined;
  log: BackupLog;
  onPhase?: ((phase: string) => void) | undefined;
  signal?: AbortSignal | undefined;
  now?: (() => Date) | undefined;
  /** Already holding the target's lock (inside a larger backup set). */
  lockHeld?: boolean | undefined;
};

export type BaseBackupResult = { artifact: string; manifestFile: string; manifest: Manifest; durationMs: number };

/** Fields of a backup_label file ("START WAL LOCATION: 0/2000028 (file 000000010000000000000002)"). */
export function parseBackupLabel(text: string): { startLsn: string; timeline: number; startTime: string } {
  const startLsn = /^START WAL LOCATION: ([0-9A-F]+\/[0-9A-F]+)/m.exec(text)?.[1];
  const timeline = /^START TIMELINE: (\d+)/m.exec(text)?.[1];
  const startTime = /^START TIME: (.+)$/m.exec(text)?.[1];
  if (!startLsn || !timeline || !startTime) throw new Error("backup_label is incomplete");
  return { startLsn, timeline: Number(timeline), startTime };
}

/**
 * A physical base backup for PITR: pg_basebackup (plain format, WAL streamed in, SHA-256
 * manifest, fast checkpoint) into a hidden temporary folder, checked with pg_verifybackup, then
 * renamed to base/<time>/ and described by base/<time>.manifest.json with its WAL range and
 * timeline.
 */
export async function runBaseBackup(options: RunBaseBackupOptions): Promise<BaseBackupResult> {
  const { target, log } = options;
  const started = (options.now ?? (() => new Date()))();
  const timestamp = backupTimestamp(started);
  const targetDir = await ensureTargetDir(options.backupRoot, target.name);
  const lock = options.lockHeld ? undefined : await acquireTargetLock(targetDir, target.name, "base backup");
  const baseDir = await ensureDir(path.join(targetDir, "base"));
  const artifact = `base/${timestamp}`;
  const temp = tempPath(baseDir, timestamp);
  try {
    await removeStaleTemps(baseDir);
    options.onPhase?.("preflight");
    const { binary, server } = await preflightClientTool("pg_basebackup", target.connection, { pgBinDir: options.pgBinDir });
    const segmentSize = await withClient(target.connection, async (c) => {
      const { rows } = await c.query<{ size: string }>(
        "select setting::bigint * (case unit when 'B' then 1 when 'kB' then 1024 when 'MB' then 1048576 else 1 end) as size from pg_settings where name = 'wal_segment_size'",
      );
      return Number(rows[0]?.size ?? 16 * 1024 * 1024);
    });

    options.onPhase?.("copying the data directory");
    await runPgTool({
      tool: "pg_basebackup",
      args: [
        `--pgdata=${temp}`,
        "--format=plain",
        "--wal-method=stream",
        "--checkpoint=fast",
        "--manifest-checksums=SHA256",
        "--no-password",
        `--label=lifeboat ${timestamp}`,
      ],
      connection: target.connection,
      pgBinDir: options.pgBinDir,
      signal: options.signal,
    });

    options.onPhase?.("verifying");
    const verifier = await runPgTool({ tool: "pg_verifybackup", args: [temp], pgBinDir: options.pgBinDir, signal: options.signal });
    const label = parseBackupLabel(await readFile(path.join(temp, "backup_label"), "utf8"));
    const pgManifest = JSON.parse(await readFile(path.join(temp, "backup_manifest"), "utf8")) as {
      "WAL-Ranges"?: { Timeline: number; "Start-LSN": string; "End-LSN": string }[];
    };
    const range = pgManifest["WAL-Ranges"]?.at(-1);
    if (!range) throw new Error("backup_manifest has no WAL range");
    const size = await folderSize(temp);

    options.onPhase?.("renaming into place");
    await rename(temp, path.join(baseDir, timestamp));
    await fsyncPath(baseDir);
    const finished = new Date();
    const manifest: Manifest = {
      format: "lifeboat-manifest",
      version: 1,
      kind: "base",
      target: target.name,
      artifact,
      database: target.connection.database,
      startedAt: started.toISOString(),
      finishedAt: finished.toISOString(),
      // pg_verifybackup checks every file against backup_manifest; this pins backup_manifest itself.
      files: [await describeFile(targetDir, `${artifact}/backup_manifest`)],
      sizeBytes: size,
      serverVersion: server.version.text,
      systemIdentifier: server.systemIdentifier,
      toolVersions: { pg_basebackup: binary.version.text },
      compression: "none",
      encryption: null,
      walStartLsn: label.startLsn,
      walStopLsn: range["End-LSN"],
      timeline: range.Timeline,
      walSegmentSize: segmentSize,
      notes: [`pg_verifybackup: ${verifier.stdout.trim() || "ok"}`],
    };
    const manifestFile = await writeManifest(targetDir, manifest);
    const durationMs = finished.getTime() - started.getTime();
    await log.succeeded("backup", {
      target: target.name,
      kind: "base",
      file: artifact,
      bytes: size,
      duration_ms: durationMs,
      wal_start: label.startLsn,
      wal_stop: range["End-LSN"],
      timeline: range.Timeline,
    });
    return { artifact, manifestFile, manifest, durationMs };
  } catch (error) {
    await rm(temp, { recursive: true, force: true });
    await log.failed("backup", { target: target.name, kind: "base", file: artifact, error: (error as Error).message });
    throw error;
  } finally {
    await lock?.release();
  }
}
