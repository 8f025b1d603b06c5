import type { ArtifactKind } from "../repository/artifact-kinds";
import type { Manifest, ManifestFileEntry } from "../repository/manifest";
import type { ServerInfo } from "../pg/server-info";
import type { Produced } from "./types";

/** The one place a manifest is assembled, for every kind. */
export function buildManifest(input: {
  kind: ArtifactKind;
  target: string;
  database: string;
  artifact: string;
  startedAt: Date;
  finishedAt: Date;
  files: ManifestFileEntry[];
  server: ServerInfo;
  produced: Produced;
  recipients: string[];
  restorePoint: string | null;
}): Manifest {
  const { produced } = input;
  return {
    format: "lifeboat-manifest",
    version: 1,
    kind: input.kind,
    target: input.target,
    artifact: input.artifact,
    database: input.database,
    startedAt: input.startedAt.toISOString(),
    finishedAt: input.finishedAt.toISOString(),
    files: input.files,
    sizeBytes: produced.sizeBytes ?? input.files.reduce((sum, f) => sum + f.size, 0),
    serverVersion: input.server.version.text,
    systemIdentifier: input.server.systemIdentifier,
    toolVersions: produced.toolVersions,
    compression: produced.compression,
    encryption: input.recipients.length ? { format: "age", recipients: input.recipients } : null,
    tableRowCounts: produced.tableRowCounts,
    tableChecksums: produced.tableChecksums,
    restorePoint: input.restorePoint,
    ...produced.extra,
    notes: produced.notes,
  };
}
