import { LifeboatError, toLifeboatError, throwIfAborted } from "../errors";
import { summarizeTables, type TableSummary } from "../logical/catalog-queries";
import { withLockedSnapshot, type Snapshot } from "../logical/snapshot";
import { writeEnvironment } from "../logical/write-environment";
import { writeJsonExport } from "../logical/write-json-export";
import { writeFullDump, writeSchemaDump } from "../logical/write-dump";
import { writeBaseBackup } from "../physical/write-base-backup";
import { findPgBinary, type PgToolName } from "../pg/find-pg-binary";
import { preflightClientTool } from "../pg/preflight";
import { withClusterFunction, type ServerInfo } from "../pg/server-info";
import { artifactFileName, type ArtifactKind } from "../repository/artifact-kinds";
import type { Repository } from "../repository/repository";
import { buildManifest } from "./build-manifest";
import type { ArtifactResult, ArtifactWriter, BackupProgress, BackupSettings, BackupTarget } from "./types";

const WRITERS: Record<ArtifactKind, ArtifactWriter> = {
  full: writeFullDump,
  schema: writeSchemaDump,
  json: writeJsonExport,
  env: writeEnvironment,
  base: writeBaseBackup,
};

/** Kinds that read the set's locked snapshot. */
const SNAPSHOT_KINDS: readonly ArtifactKind[] = ["full", "schema", "json"];

export type RunBackupSetOptions = {
  target: BackupTarget;
  repository: Repository;
  kinds: readonly ArtifactKind[];
  settings: BackupSettings;
  signal?: AbortSignal | undefined;
  onProgress?: ((progress: BackupProgress) => void) | undefined;
  now?: (() => Date) | undefined;
};

export type BackupSetResult = {
  timestamp: string;
  restorePoint: string | null;
  artifacts: ArtifactResult[];
  /** Things worth a line in the log (partial files removed, notes). */
  warnings: string[];
};

/**
 * One backup set of a target: any of the full dump, the schema, the JSON export, the environment
 * backup and a base backup, under one timestamp. The logical kinds share one snapshot taken after
 * every table is locked. Each artifact is staged under a hidden name, committed, then described by
 * its manifest (written last); a failed artifact leaves nothing behind and does not stop the others.
 * The caller holds the target's lock.
 */
export async function runBackupSet(options: RunBackupSetOptions): Promise<BackupSetResult> {
  const { target, repository, settings } = options;
  const warnings: string[] = [];
  await repository.prepare();
  const stale = await repository.removeStaleTemps();
  if (stale.length) warnings.push(`removed ${stale.length} partial file(s) left by an interrupted backup`);
  const timestamp = await repository.uniqueTimestamp((options.now ?? (() => new Date()))());
  const kinds = ARTIFACT_ORDER.filter((k) => options.kinds.includes(k));
  const artifacts: ArtifactResult[] = [];
  const failAll = (pending: readonly ArtifactKind[], error: unknown) => {
    const e = toLifeboatError(error);
    for (const kind of pending) {
      if (!artifacts.some((a) => a.kind === kind)) artifacts.push({ kind, ok: false, error: e.message, code: e.code, stderr: e.details.stderr, durationMs: 0 });
    }
  };

  if (kinds.length === 0) return { timestamp, restorePoint: null, artifacts, warnings };
  let server!: ServerInfo;
  const toolVersions: Record<string, string> = {};
  try {
    for (const tool of toolsFor(kinds)) {
      const checked = await preflightClientTool(tool, target.connection, { pgBinDir: settings.pgBinDir });
      server = checked.server;
      toolVersions[tool] = checked.binary.version.text;
    }
    if (kinds.includes("env")) toolVersions.pg_dumpall = (await findPgBinary("pg_dumpall", { pgBinDir: settings.pgBinDir })).version.text;
  } catch (error) {
    failAll(kinds, error);
    return { timestamp, restorePoint: null, artifacts, warnings };
  }

  // A named restore point marks the moment of this set for a later PITR: taken right after the
  // snapshot (the logical kinds' moment) or, without one, before the other kinds.
  let restorePoint: string | null = null;
  const markMoment = async () => {
    restorePoint ??= await createRestorePoint(target, `lifeboat_${target.name}_${timestamp}`);
  };
  const produce = async (kind: ArtifactKind, snapshot?: Snapshot, summary?: Promise<TableSummary>) => {
    throwIfAborted(options.signal);
    const started = new Date();
    const recipients = kind === "env" || settings.encryptAll ? settings.recipients : [];
    const directory = (kind === "full" && settings.dumpJobs > 1) || kind === "base";
    const zstd = kind === "full" && !directory && settings.dumpCompression === "zstd";
    const fileName = artifactFileName(kind, timestamp, { encrypted: recipients.length > 0, directory, zstd });
    const staged = await repository.stage(fileName, { directory });
    try {
      if (kind === "full" && directory && recipients.length > 0) {
        throw new LifeboatError(
          "INVALID_SETTINGS",
          "A parallel (directory-format) dump cannot be encrypted: set LIFEBOAT_DUMP_JOBS=1, or LIFEBOAT_ENCRYPT_BACKUPS=false.",
        );
      }
      const produced = await WRITERS[kind]({
        target,
        settings,
        repository,
        staged,
        timestamp,
        recipients,
        server,
        snapshot,
        toolVersions,
        signal: options.signal,
        progress: (phase, amounts) => options.onProgress?.({ kind, phase, ...amounts }),
      });
      // The snapshot's row counts (and, for the full dump, content checksums) go into its manifest;
      // the JSON export counts what it wrote itself.
      if (summary && (kind === "full" || kind === "schema")) {
        options.onProgress?.({ kind, phase: "counting rows" });
        const tables = await summary;
        produced.tableRowCounts ??= tables.rows;
        if (kind === "full") produced.tableChecksums ??= tables.checksums;
      }
      options.onProgress?.({ kind, phase: "syncing" });
      const committed = await staged.commit();
      const files = produced.describe ? produced.describe(committed) : committed;
      const manifest = buildManifest({
        kind,
        target: target.name,
        database: target.connection.database,
        artifact: fileName,
        startedAt: started,
        finishedAt: new Date(),
        files,
        server,
        produced,
        recipients,
        restorePoint,
      });
      const manifestFile = await repository.writeManifest(manifest);
      artifacts.push({ kind, ok: true, file: fileName, manifestFile, manifest, durationMs: Date.now() - started.getTime() });
    } catch (error) {
      await staged.discard();
      const e = toLifeboatError(error);
      artifacts.push({ kind, ok: false, file: fileName, error: e.message, code: e.code, stderr: e.details.stderr, durationMs: Date.now() - started.getTime() });
      // A cancelled set stops here; any other failure leaves the remaining kinds to try.
      throwIfAborted(options.signal);
    }
  };

  try {
    const snapshotKinds = kinds.filter((k) => SNAPSHOT_KINDS.includes(k));
    if (snapshotKinds.length) {
      try {
        await withLockedSnapshot(
          target.connection,
          {
            lockTimeoutSeconds: settings.lockTimeoutSeconds,
            signal: options.signal,
            onWaiting: (message) => options.onProgress?.({ kind: snapshotKinds[0]!, phase: message }),
          },
          async (snapshot) => {
            await markMoment();
            options.onProgress?.({ kind: snapshotKinds[0]!, phase: "snapshot locked" });
            // Row counts and content checksums are read on the snapshot's own connection while
            // pg_dump reads the same snapshot on its own: the two scans overlap instead of adding up.
            const summary = snapshotKinds.some((k) => k === "full" || k === "schema") ? summarizeTables(snapshot.client, snapshot.tables) : undefined;
            summary?.catch(() => undefined); // awaited by each kind that needs it; a failure fails those kinds
            for (const kind of snapshotKinds) await produce(kind, snapshot, summary);
          },
        );
      } catch (error) {
        throwIfAborted(options.signal);
        // The snapshot itself failed (connection lost, lock timeout): every kind not yet produced failed.
        failAll(snapshotKinds, error);
      }
    }
    const others = kinds.filter((k) => !SNAPSHOT_KINDS.includes(k));
    if (others.length) await markMoment();
    for (const kind of others) await produce(kind);
  } catch (error) {
    // Cancelled (or Lifeboat stopped): the set leaves nothing behind, not even the kinds it finished.
    for (const artifact of artifacts) if (artifact.ok) await repository.discard(artifact.file);
    failAll(kinds, error);
    throw error;
  } finally {
    await repository.writeRestoreKit().catch((error: unknown) => warnings.push(`RESTORE.md not updated: ${(error as Error).message}`));
  }
  return { timestamp, restorePoint, artifacts, warnings };
}

const ARTIFACT_ORDER: readonly ArtifactKind[] = ["full", "schema", "json", "env", "base"];

function toolsFor(kinds: readonly ArtifactKind[]): PgToolName[] {
  const tools = new Set<PgToolName>();
  if (kinds.some((k) => k === "full" || k === "schema" || k === "env")) tools.add("pg_dump");
  if (kinds.includes("json")) tools.add("pg_dump"); // the server version check
  if (kinds.includes("base")) tools.add("pg_basebackup");
  return [...tools];
}

/**
 * A named restore point marks "the moment of this backup" for a later PITR. It needs EXECUTE on
 * pg_create_restore_point; restore points are cluster-wide, so that grant belongs in the
 * `postgres` database (granted in the app's database it would land in every dump of it and break
 * restores by a non-superuser). Tried there first, then in the target's database.
 */
async function createRestorePoint(target: BackupTarget, name: string): Promise<string | null> {
  return withClusterFunction(target.connection, (client) => client.query("select pg_create_restore_point($1)", [name])).then(
    () => name,
    () => null, // no privilege: the set has no named moment, and its manifest says so (restorePoint null)
  );
}
