import { desc, eq } from "drizzle-orm";
import type { Db } from "@/lib/db/client";
import { archiverSamples } from "@/lib/db/schema";
import type { TEnv } from "@/lib/env";
import { sampleArchiver, type ArchiverStats } from "@/lib/engine/wal/sample-archiver";
import { dataDirectoryProblem, sampleDataDirectory, type DataDirectorySample } from "@/lib/engine/wal/sample-data-directory";
import { identities } from "@/lib/operations/settings";
import type { ResolvedTarget } from "@/lib/targets/resolve-target";

/** More .ready files than this is a backlog worth an alert (as sampleArchiver judges the SQL count). */
const MAX_READY = 10;

export type TargetSample = ArchiverStats & { dataVolumeFreeBytes: number | null };

/**
 * One archiver sample of a target (pg_stat_archiver, the backlog, the real RPO exposure from its
 * archive), recorded when it has a catalog row. On its database host the backlog is counted from
 * the files (no pg_monitor needed) and the data volume's free space added. Several workers and an
 * agent may sample one target: with `freshMs`, a sample younger than that is not repeated, except
 * that a host sample (with the free space) is taken even when only a sample without it is fresh;
 * then undefined is returned.
 */
export async function sampleTargetArchiver(options: {
  db: Db | undefined;
  env: TEnv;
  target: ResolvedTarget;
  freshMs?: number | undefined;
  onWarning?: ((message: string) => void) | undefined;
}): Promise<TargetSample | undefined> {
  const { db, env, target } = options;
  const onHost = (await dataDirectoryProblem(target)) === undefined;
  if (db && target.id !== null && options.freshMs) {
    const [newest] = await db
      .select({ at: archiverSamples.sampledAt, free: archiverSamples.dataVolumeFreeBytes })
      .from(archiverSamples)
      .where(eq(archiverSamples.targetId, target.id))
      .orderBy(desc(archiverSamples.sampledAt))
      .limit(1);
    if (newest && Date.now() - newest.at.getTime() < options.freshMs && (newest.free !== null || !onHost)) return undefined;
  }
  const stats = await sampleArchiver(target.connection, {
    rpoSeconds: env.LIFEBOAT_RPO_TARGET_MINUTES * 60,
    maxReady: MAX_READY,
    archive: {
      dir: target.repository.archiveDir,
      streamDir: target.repository.streamDir,
      pgBinDir: env.PG_BIN_DIR,
      identities: await identities(env).catch((error: unknown) => {
        options.onWarning?.(`the archive cannot be decrypted: ${(error as Error).message}`);
        return [];
      }),
    },
  });
  const host = onHost && target.dataDir ? await sampleDataDirectory(target.dataDir).catch(() => undefined) : undefined;
  const sample = withHostSample(stats, host);
  if (db && target.id !== null) await db.insert(archiverSamples).values({ targetId: target.id, ...sample });
  return sample;
}

function withHostSample(stats: ArchiverStats, host: DataDirectorySample | undefined): TargetSample {
  if (!host) return { ...stats, dataVolumeFreeBytes: null };
  // The role may not list archive_status (no pg_monitor): the files say what SQL could not.
  const backlog = stats.readyCount === null && host.readyCount > MAX_READY ? `${host.readyCount} WAL segments are waiting to be archived` : undefined;
  return {
    ...stats,
    readyCount: host.readyCount,
    dataVolumeFreeBytes: host.dataVolumeFreeBytes,
    healthy: stats.healthy && !backlog,
    alert: backlog ? [stats.alert, backlog].filter(Boolean).join("; ") : stats.alert,
  };
}
