import { readFile, rm } from "node:fs/promises";
import path from "node:path";
import type { PgConnection } from "../pg/connection";
import { preflightClientTool } from "../pg/preflight";
import { runPgTool } from "../pg/run-pg-tool";
import { withClient, type ServerInfo } from "../pg/server-info";
import type { BackupLog } from "../log/backup-log";
import { commitDirectory, commitFile, ensureTargetDir, removeStaleTemps, tempPath } from "../repository/files";
import { describeFile, describeFolder, writeManifest, type Manifest } from "../repository/manifest";
import { artifactFileName, backupTimestamp } from "../repository/paths";
import { writeRestoreKit } from "../repository/restore-kit";
import { acquireTargetLock } from "../repository/target-lock";
import { openArtifactSink } from "./artifact-sink";
import { backupEnvironment } from "./backup-environment";
import { countRows, listTables } from "./catalog-queries";
import { exportJson } from "./export-json";
import { parsePrismaNaming } from "./prisma-naming";
import { withExportedSnapshot } from "./snapshot";

export const LOGICAL_KINDS = ["full", "schema", "json", "env"] as const;
export type LogicalKind = (typeof LOGICAL_KINDS)[number];

export type BackupProgress = { kind: LogicalKind; phase: string; bytes?: number; rows?: number };

export type RunLogicalBackupOptions = {
  target: { name: string; connection: PgConnection; prismaSchemaPath?: string | null | undefined };
  backupRoot: string;
  kinds: readonly LogicalKind[];
  pgBinDir?: string | undefined;
  /** pg_dump -Z level for the custom-format dump. */
  compressionLevel: number;
  /** Above 1: the full dump uses the directory format with this many parallel jobs. */
  dumpJobs?: number | undefined;
  /** age recipients; every artifact is encrypted to them when encryptAll, env backups always. */
  recipients: string[];
  encryptAll: boolean;
  environment?: { files: string[]; baseDir: string; rolePasswords: boolean } | undefined;
  log: BackupLog;
  onProgress?: ((progress: BackupProgress) => void) | undefined;
  /** Called once the target's lock is held (e.g. to fail run records a dead process left running). */
  onLocked?: (() => Promise<void>) | undefined;
  signal?: AbortSignal | undefined;
  now?: (() => Date) | undefined;
};

/** One artifact of a backup set (base backups join the set in the CLI). */
export type ArtifactResult =
  | { kind: LogicalKind | "base"; ok: true; file: string; manifestFile: string; manifest: Manifest; durationMs: number }
  | { kind: LogicalKind | "base"; ok: false; error: string; stderr?: string | undefined; durationMs: number };

export type RunLogicalBackupResult = {
  timestamp: string;
  targetDir: string;
  restorePoint: string | null;
  artifacts: ArtifactResult[];
};

type Produced = {
  compression: string;
  toolVersions: Record<string, string>;
  tableRowCounts?: Record<string, number> | undefined;
  notes?: string[] | undefined;
};

/**
 * One backup set of a target: any of the full dump, the schema, the JSON export and the
 * environment backup, all from one snapshot. Each artifact is written under a hidden temporary
 * name, fsynced, renamed into place, then described by its manifest; a failed artifact leaves
 * nothing behind and does not stop the others. One backup per target at a time.
 */
export async function runLogicalBackup(options: RunLogicalBackupOptions): Promise<RunLogicalBackupResult> {
  const { target, log } = options;
  const startedAll = (options.now ?? (() => new Date()))();
  const timestamp = backupTimestamp(startedAll);
  const targetDir = await ensureTargetDir(options.backupRoot, target.name);
  const lock = await acquireTargetLock(targetDir, target.name, "backup");
  try {
    await options.onLocked?.();
    const stale = await removeStaleTemps(targetDir);
    if (stale.length)
      await log.write("WARN", "backup", { target: target.name, message: `removed ${stale.length} partial file(s) left by an interrupted backup` });

    const artifacts: ArtifactResult[] = [];
    let server: ServerInfo;
    let pgDumpVersion: string;
    try {
      const preflight = await preflightClientTool("pg_dump", target.connection, { pgBinDir: options.pgBinDir });
      server = preflight.server;
      pgDumpVersion = preflight.binary.version.text;
    } catch (error) {
      const message = (error as Error).message;
      for (const kind of options.kinds) {
        artifacts.push({ kind, ok: false, error: message, durationMs: 0 });
        await log.failed("backup", { target: target.name, kind, error: message });
      }
      return { timestamp, targetDir, restorePoint: null, artifacts };
    }

    const restorePoint = await createRestorePoint(target.connection, `lifeboat_${target.name}_${timestamp}`);
    const encryptionFor = (kind: LogicalKind) => (kind === "env" || options.encryptAll ? options.recipients : []);

    const parallel = (options.dumpJobs ?? 1) > 1;
    const produce = async (kind: LogicalKind, fn: (temp: string, recipients: string[]) => Promise<Produced>) => {
      const started = Date.now();
      const recipients = encryptionFor(kind);
      const directory = kind === "full" && parallel;
      const fileName = artifactFileName(kind, timestamp, recipients.length > 0, directory);
      const final = path.join(targetDir, fileName);
      const temp = tempPath(targetDir, fileName);
      let committed = false;
      try {
        if (directory && recipients.length > 0) {
          throw new Error("A parallel (directory-format) dump cannot be encrypted: set LIFEBOAT_DUMP_JOBS=1, or LIFEBOAT_ENCRYPT_BACKUPS=false.");
        }
        if (kind === "env" && recipients.length === 0) {
          throw new Error("Environment backups are always encrypted: set LIFEBOAT_AGE_RECIPIENTS to an age public key (age1…).");
        }
        options.onProgress?.({ kind, phase: "writing" });
        const produced = await fn(temp, recipients);
        options.onProgress?.({ kind, phase: "syncing" });
        if (directory) await commitDirectory(temp, final);
        else await commitFile(temp, final);
        committed = true;
        const files = directory ? await describeFolder(targetDir, fileName) : [await describeFile(targetDir, fileName)];
        const sizeBytes = files.reduce((sum, f) => sum + f.size, 0);
        const manifest: Manifest = {
          format: "lifeboat-manifest",
          version: 1,
          kind,
          target: target.name,
          artifact: fileName,
          database: target.connection.database,
          startedAt: new Date(started).toISOString(),
          finishedAt: new Date().toISOString(),
          files,
          sizeBytes,
          serverVersion: server.version.text,
          systemIdentifier: server.systemIdentifier,
          toolVersions: produced.toolVersions,
          compression: produced.compression,
          encryption: recipients.length ? { format: "age", recipients } : null,
          tableRowCounts: produced.tableRowCounts,
          restorePoint,
          notes: produced.notes,
        };
        const manifestFile = await writeManifest(targetDir, manifest);
        const durationMs = Date.now() - started;
        artifacts.push({ kind, ok: true, file: fileName, manifestFile, manifest, durationMs });
        await log.succeeded("backup", { target: target.name, kind, file: fileName, bytes: sizeBytes, duration_ms: durationMs });
      } catch (error) {
        await rm(temp, { force: true, recursive: true });
        if (committed) await rm(final, { force: true });
        const e = error as Error & { stderr?: string };
        artifacts.push({ kind, ok: false, error: e.message, stderr: e.stderr, durationMs: Date.now() - started });
        await log.failed("backup", { target: target.name, kind, file: fileName, error: e.message });
      }
    };

    const snapshotKinds = options.kinds.filter((k) => k !== "env");
    if (snapshotKinds.length) {
      try {
        await withExportedSnapshot(target.connection, async (snapshot) => {
          const tables = await listTables(snapshot.client);
          options.onProgress?.({ kind: snapshotKinds[0]!, phase: "counting rows" });
          const counts = await countRows(snapshot.client, tables);
          for (const kind of snapshotKinds) {
            if (options.signal?.aborted) throw new Error("the backup was cancelled");
            if (kind === "full" || kind === "schema") {
              await produce(kind, async (temp, recipients) => {
                const args =
                  kind === "full"
                    ? parallel
                      ? ["--format=directory", `--jobs=${options.dumpJobs}`, `--compress=${options.compressionLevel}`, `--snapshot=${snapshot.id}`]
                      : ["--format=custom", `--compress=${options.compressionLevel}`, `--snapshot=${snapshot.id}`]
                    : ["--schema-only", "--format=plain", `--snapshot=${snapshot.id}`];
                const onProgress = (p: { bytes: number }) => options.onProgress?.({ kind, phase: "dumping", bytes: p.bytes });
                if (recipients.length) {
                  await runPgTool({
                    tool: "pg_dump",
                    args,
                    connection: target.connection,
                    pgBinDir: options.pgBinDir,
                    signal: options.signal,
                    onProgress,
                    stdoutConsumer: async (stdout) => {
                      const sink = await openArtifactSink(temp, { recipients });
                      stdout.pipe(sink.input);
                      await sink.done;
                    },
                  });
                } else {
                  await runPgTool({
                    tool: "pg_dump",
                    args: [...args, `--file=${temp}`],
                    connection: target.connection,
                    pgBinDir: options.pgBinDir,
                    signal: options.signal,
                    watchFile: kind === "full" && parallel ? undefined : temp,
                    onProgress,
                  });
                }
                return {
                  compression: kind === "full" ? (options.compressionLevel === 0 ? "none" : `gzip:${options.compressionLevel} (pg_dump)`) : "none",
                  toolVersions: { pg_dump: pgDumpVersion },
                  tableRowCounts: counts,
                };
              });
            } else if (kind === "json") {
              await produce(kind, async (temp, recipients) => {
                const naming = target.prismaSchemaPath ? parsePrismaNaming(await readFile(target.prismaSchemaPath, "utf8")) : undefined;
                const sink = await openArtifactSink(temp, { gzip: true, recipients });
                let rowCounts: Record<string, number>;
                try {
                  rowCounts = await exportJson({
                    client: snapshot.client,
                    tables,
                    naming,
                    header: {
                      target: target.name,
                      database: target.connection.database,
                      serverVersion: server.version.text,
                      exportedAt: new Date().toISOString(),
                    },
                    output: sink.input,
                    onRows: (rows) => options.onProgress?.({ kind, phase: "exporting", rows }),
                  });
                } catch (error) {
                  sink.input.destroy(error as Error);
                  await sink.done.catch(() => {});
                  throw error;
                }
                sink.input.end();
                await sink.done;
                return {
                  compression: "gzip:6",
                  toolVersions: { lifeboat: "json-export/1" },
                  tableRowCounts: rowCounts,
                  notes: naming ? [`names from ${path.basename(target.prismaSchemaPath!)}`] : undefined,
                };
              });
            }
          }
        });
      } catch (error) {
        // The snapshot itself failed (connection lost, cancelled): every kind not yet produced failed.
        const message = (error as Error).message;
        for (const kind of snapshotKinds) {
          if (artifacts.some((a) => a.kind === kind)) continue;
          artifacts.push({ kind, ok: false, error: message, durationMs: 0 });
          await log.failed("backup", { target: target.name, kind, error: message });
        }
      }
    }

    if (options.kinds.includes("env")) {
      await produce("env", async (temp, recipients) => {
        const env = options.environment ?? { files: [], baseDir: process.cwd(), rolePasswords: false };
        const result = await backupEnvironment({
          connection: target.connection,
          pgBinDir: options.pgBinDir,
          files: env.files,
          baseDir: env.baseDir,
          rolePasswords: env.rolePasswords,
          stagingDir: tempPath(targetDir, "env-staging"),
          output: temp,
          recipients,
          signal: options.signal,
        });
        return { compression: "none", toolVersions: result.toolVersions, notes: result.notes };
      });
    }

    await writeRestoreKit(targetDir, target.name).catch(() => {});
    return { timestamp, targetDir, restorePoint, artifacts };
  } finally {
    await lock.release();
  }
}

/**
 * A named restore point marks "the moment of this backup" for a later PITR. It needs EXECUTE on
 * pg_create_restore_point; restore points are cluster-wide, so that grant belongs in the
 * `postgres` database (granted in the app's database it would land in every dump of it and break
 * restores by a non-superuser). Tried there first, then in the target's database.
 */
async function createRestorePoint(connection: PgConnection, name: string): Promise<string | null> {
  for (const database of ["postgres", connection.database]) {
    try {
      await withClient({ ...connection, database }, (client) => client.query("select pg_create_restore_point($1)", [name]));
      return name;
    } catch {
      // no privilege here (or no such database): try the next place
    }
  }
  return null;
}
