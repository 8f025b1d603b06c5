import type { Db } from "@/lib/db/client";
import { archiverSamples } from "@/lib/db/schema";
import type { ArchiverStats } from "@/lib/engine/wal/sample-archiver";

export async function recordArchiverSample(db: Db, targetId: number, stats: ArchiverStats): Promise<void> {
  await db.insert(archiverSamples).values({ targetId, ...stats });
}
