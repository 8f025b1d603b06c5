import { desc, eq } from "drizzle-orm";
import type { Db } from "@/lib/db/client";
import { backupArtifacts, type BackupArtifact } from "@/lib/db/schema";

export async function listArtifacts(db: Db, targetId: number): Promise<BackupArtifact[]> {
  return db.select().from(backupArtifacts).where(eq(backupArtifacts.targetId, targetId)).orderBy(desc(backupArtifacts.finishedAt), backupArtifacts.kind);
}
