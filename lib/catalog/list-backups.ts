import { eq } from "drizzle-orm";
import type { Db } from "@/lib/db/client";
import { backupArtifacts, type BackupArtifact } from "@/lib/db/schema";
import type { Manifest } from "@/lib/engine/repository/manifest";
import type { Repository, Verification } from "@/lib/engine/repository/repository";

export type BackupRow = {
  kind: Manifest["kind"];
  /** Start of the backup, UTC ISO. */
  time: string;
  file: string;
  sizeBytes: number;
  durationMs: number;
  /** "pg_verifybackup 2026-…", a drill's result, or "never". */
  verified: string;
  /** available (manifest present), or the catalog's missing/damaged/deleted. */
  status: string;
  encrypted: boolean;
  /** With an off-site repository: local, offsite or both. */
  location?: "local" | "offsite" | "both" | undefined;
};

/** The newest check of an artifact: a drill's (recorded beside it, or in the catalog) when later than the manifest's own. */
function verifiedText(manifest: Manifest | undefined, row: BackupArtifact | undefined, drill?: Verification): string {
  const own = drill && (!manifest?.verification || Date.parse(drill.at) > Date.parse(manifest.verification.at)) ? drill : manifest?.verification;
  if (row?.verifyStatus && row.verifiedAt && (!own || row.verifiedAt.getTime() > Date.parse(own.at)))
    return `${row.verifyStatus} ${row.verifiedAt.toISOString()}`;
  if (own) return `${own.ok ? "ok" : "failed"} (${own.tool}) ${own.at}`;
  return "never";
}

/**
 * A target's backups as the repository holds them (the source of truth), with what only the
 * catalog knows (drill results, artifacts whose files went missing) when the metadata database is
 * reachable. The list is the same with the database up or down.
 */
export async function listBackups(
  repository: Repository,
  catalog?: { db: Db; targetId: number },
): Promise<{ rows: BackupRow[]; unreadable: { file: string; reason: string }[] }> {
  const { artifacts, unreadable } = await repository.list();
  const indexed = catalog ? await catalog.db.select().from(backupArtifacts).where(eq(backupArtifacts.targetId, catalog.targetId)) : [];
  const byFile = new Map(indexed.map((r) => [r.fileName, r]));
  const drills = new Map(
    await Promise.all(artifacts.map(async ({ manifest }) => [manifest.artifact, await repository.readVerification(manifest.artifact)] as const)),
  );
  const rows: BackupRow[] = artifacts.map(({ manifest, location }) => {
    const row = byFile.get(manifest.artifact);
    return {
      kind: manifest.kind,
      time: manifest.startedAt,
      file: manifest.artifact,
      sizeBytes: manifest.sizeBytes,
      durationMs: Date.parse(manifest.finishedAt) - Date.parse(manifest.startedAt),
      verified: verifiedText(manifest, row, drills.get(manifest.artifact)),
      status: row && row.status !== "available" ? row.status : "available",
      encrypted: manifest.encryption !== null,
      location,
    };
  });
  const present = new Set(artifacts.map((a) => a.manifest.artifact));
  for (const row of indexed) {
    if (present.has(row.fileName)) continue;
    rows.push({
      kind: row.kind,
      time: row.startedAt.toISOString(),
      file: row.fileName,
      sizeBytes: row.sizeBytes,
      durationMs: row.finishedAt.getTime() - row.startedAt.getTime(),
      verified: verifiedText(undefined, row),
      status: row.status === "available" ? "missing" : row.status,
      encrypted: row.encrypted,
    });
  }
  rows.sort((a, b) => b.time.localeCompare(a.time) || a.kind.localeCompare(b.kind));
  return { rows, unreadable };
}
