import type { Db } from "@/lib/db/client";
import { backupArtifacts } from "@/lib/db/schema";
import type { Manifest } from "@/lib/engine/repository/manifest";

/** Index one artifact of the repository in the catalog (idempotent: keyed by target and file). */
export async function recordArtifact(
  db: Db,
  input: { targetId: number; runId?: number | null; manifest: Manifest; manifestFile: string; status?: "available" | "damaged" },
): Promise<void> {
  const { manifest } = input;
  const values = {
    targetId: input.targetId,
    runId: input.runId ?? null,
    kind: manifest.kind,
    fileName: manifest.artifact,
    manifestFile: input.manifestFile,
    status: input.status ?? "available",
    startedAt: new Date(manifest.startedAt),
    finishedAt: new Date(manifest.finishedAt),
    sizeBytes: manifest.sizeBytes,
    sha256: manifest.files.length === 1 ? manifest.files[0]!.sha256 : null,
    serverVersion: manifest.serverVersion,
    toolVersion: Object.entries(manifest.toolVersions)
      .map(([k, v]) => `${k} ${v}`)
      .join(", "),
    compression: manifest.compression,
    encrypted: manifest.encryption !== null,
    walStartLsn: manifest.walStartLsn ?? null,
    walStopLsn: manifest.walStopLsn ?? null,
    timeline: manifest.timeline ?? null,
    verifiedAt: manifest.verification ? new Date(manifest.verification.at) : null,
    verifyStatus: manifest.verification ? (manifest.verification.ok ? "ok" : "failed") : null,
    manifest: manifest as unknown as Record<string, unknown>,
  };
  const { runId: _runId, ...onUpdate } = values;
  await db
    .insert(backupArtifacts)
    .values(values)
    .onConflictDoUpdate({ target: [backupArtifacts.targetId, backupArtifacts.fileName], set: onUpdate });
}
