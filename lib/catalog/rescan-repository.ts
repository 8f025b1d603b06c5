import { readdir } from "node:fs/promises";
import path from "node:path";
import { and, eq, notInArray } from "drizzle-orm";
import type { Db } from "@/lib/db/client";
import { backupArtifacts } from "@/lib/db/schema";
import { readManifest } from "@/lib/engine/repository/manifest";
import { recordArtifact } from "./record-artifact";

/**
 * Rebuild a target's catalog from the manifests in its repository folder (the repository is the
 * source of truth). Catalog rows whose manifest is gone are marked `missing`.
 */
export async function rescanRepository(db: Db, targetId: number, targetDir: string): Promise<{ indexed: number; missing: number; unreadable: string[] }> {
  const names = await readdir(targetDir).catch(() => [] as string[]);
  const baseNames = (await readdir(path.join(targetDir, "base")).catch(() => [] as string[])).map((n) => `base/${n}`);
  const manifests = [...names, ...baseNames].filter((n) => n.endsWith(".manifest.json") && !path.basename(n).startsWith("."));
  const found: string[] = [];
  const unreadable: string[] = [];
  for (const manifestFile of manifests) {
    const artifact = manifestFile.slice(0, -".manifest.json".length);
    try {
      const manifest = await readManifest(targetDir, artifact);
      await recordArtifact(db, { targetId, manifest, manifestFile });
      found.push(artifact);
    } catch {
      unreadable.push(manifestFile);
    }
  }
  const conditions = [eq(backupArtifacts.targetId, targetId)];
  if (found.length) conditions.push(notInArray(backupArtifacts.fileName, found));
  const missing = await db
    .update(backupArtifacts)
    .set({ status: "missing" })
    .where(and(...conditions))
    .returning({ id: backupArtifacts.id });
  return { indexed: found.length, missing: missing.length, unreadable };
}
