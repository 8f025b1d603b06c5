import { and, eq, notInArray } from "drizzle-orm";
import type { Db } from "@/lib/db/client";
import { backupArtifacts } from "@/lib/db/schema";
import type { Repository } from "@/lib/engine/repository/repository";
import { recordArtifact } from "./record-artifact";

/**
 * Rebuild a target's catalog from its repository (the source of truth). Every artifact is checked
 * against its manifest first: a damaged one is indexed as `damaged`, never as available. Catalog
 * rows whose manifest is gone are marked `missing`.
 */
export async function rescanRepository(
  db: Db,
  targetId: number,
  repository: Repository,
): Promise<{ indexed: number; damaged: string[]; missing: number; unreadable: { file: string; reason: string }[] }> {
  const { artifacts, unreadable } = await repository.list();
  const damaged: string[] = [];
  for (const { manifest, manifestFile } of artifacts) {
    const verified = await repository.verify(manifest);
    await recordArtifact(db, { targetId, manifest, manifestFile, status: verified.ok ? "available" : "damaged" });
    if (!verified.ok) damaged.push(`${manifest.artifact} (${verified.problems.join("; ")})`);
  }
  const found = artifacts.map((a) => a.manifest.artifact);
  const conditions = [eq(backupArtifacts.targetId, targetId)];
  if (found.length) conditions.push(notInArray(backupArtifacts.fileName, found));
  const missing = await db
    .update(backupArtifacts)
    .set({ status: "missing" })
    .where(and(...conditions))
    .returning({ id: backupArtifacts.id });
  return { indexed: artifacts.length, damaged, missing: missing.length, unreadable };
}
