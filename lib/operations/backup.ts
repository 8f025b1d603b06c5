import { readFile } from "node:fs/promises";
import path from "node:path";
import { runBackupSet, type BackupSetResult } from "@/lib/engine/backup/run-backup-set";
import { readServerInfo } from "@/lib/engine/pg/server-info";
import type { ArtifactKind } from "@/lib/engine/repository/artifact-kinds";
import { ZBackupRequest, type TBackupRequest } from "@/lib/validations/operations";
import { copyOffsite, type OffsiteOutcome } from "./offsite";
import { backupSettings } from "./settings";
import type { OperationContext, OperationDefinition } from "./types";

/**
 * The kinds a backup writes when none are named (the seed's daily set): the full dump, the schema
 * and the JSON export; the environment backup when there is a key to encrypt it to; and a base
 * backup when this repository holds the target's WAL archive (its SYSTEM_IDENTIFIER matches), since
 * only then can a base backup be recovered from. pg_basebackup needs no data directory.
 */
export async function defaultBackupKinds(context: OperationContext): Promise<ArtifactKind[]> {
  const kinds: ArtifactKind[] = ["full", "schema", "json"];
  if (backupSettings(context.env).recipients.length) kinds.push("env");
  else context.warn("environment backup skipped: it is always encrypted, and LIFEBOAT_AGE_RECIPIENTS is not set");
  const archived = await readFile(path.join(context.repository.archiveDir, "SYSTEM_IDENTIFIER"), "utf8").then(
    (t) => t.trim(),
    () => undefined,
  );
  if (archived) {
    // This repository holds a WAL archive: say why a base backup is left out, if it is.
    const server = await readServerInfo(context.target.connection).catch((error: unknown) => {
      context.warn(`base backup skipped: the server's settings could not be read (${(error as Error).message})`);
      return undefined;
    });
    if (server && server.archiveMode === "off") context.warn("base backup skipped: archive_mode is off on the server, so it could not be recovered from");
    else if (server && server.systemIdentifier !== archived)
      context.warn(`base backup skipped: the archive belongs to another cluster (${archived}), not this server (${server.systemIdentifier})`);
    else if (server) kinds.push("base");
  }
  return kinds;
}

export const backupOperation: OperationDefinition<TBackupRequest, BackupSetResult & { kinds: ArtifactKind[]; offsite: OffsiteOutcome | undefined }> = {
  kind: "backup",
  action: "backups.run",
  permission: "backups.run",
  input: ZBackupRequest,
  lock: true,
  params: (input) => ({ kinds: input.kinds ?? "default" }),
  run: async (context, input) => {
    const kinds = input.kinds ?? (await defaultBackupKinds(context));
    const { target } = context;
    const result = await runBackupSet({
      target: {
        name: target.name,
        connection: target.connection,
        prismaSchemaPath: target.prismaSchemaPath,
        dataDir: target.dataDir,
        configDir: target.configDir,
      },
      repository: context.repository,
      kinds,
      settings: backupSettings(context.env),
      signal: context.signal,
      onProgress: (p) => context.progress(`${p.kind}: ${p.phase}`, p.bytes),
    });
    for (const warning of result.warnings) context.warn(warning);
    const offsite = await copyOffsite(
      context,
      result.artifacts.flatMap((a) => (a.ok ? [a.manifest] : [])),
    );
    return { ...result, kinds, offsite };
  },
  verdict: (result) => {
    const failed = result.artifacts.filter((a) => !a.ok);
    const written = result.artifacts.flatMap((a) => (a.ok ? [a] : []));
    // With object storage only, a backup the bucket did not receive has not been kept off-site: a failure.
    const offsiteFailed = result.offsite?.error !== undefined && !result.offsite.keepLocal;
    const errors = [
      ...failed.map((a) => (a.ok ? "" : `${a.kind}: ${a.error}`)),
      ...(written.length ? [] : ["nothing was written"]),
      ...(offsiteFailed ? [`off-site copy ${result.offsite!.error}`] : []),
    ];
    return {
      ok: errors.length === 0,
      error: errors.length ? errors.join("; ") : undefined,
      stderr: failed.flatMap((a) => (!a.ok && a.stderr ? [`${a.kind}:\n${a.stderr}`] : [])).join("\n") || undefined,
      bytes: written.reduce((sum, a) => sum + a.manifest.sizeBytes, 0),
      artifacts: written.map((a) => ({ manifest: a.manifest, manifestFile: a.manifestFile })),
      fields: {
        set: result.timestamp,
        kinds: result.kinds.join(","),
        written: written.map((a) => `${a.kind}:${a.file}:${a.manifest.sizeBytes}`).join(",") || undefined,
        failed: failed.map((a) => a.kind).join(",") || undefined,
        restore_point: result.restorePoint,
        offsite: result.offsite
          ? result.offsite.error
            ? "failed"
            : `${result.offsite.pushed.length} artifacts, ${result.offsite.walShipped} WAL files`
          : undefined,
      },
    };
  },
};
