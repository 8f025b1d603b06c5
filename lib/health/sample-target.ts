import { recordArchiverSample } from "@/lib/catalog/record-archiver-sample";
import type { Db } from "@/lib/db/client";
import type { TEnv } from "@/lib/env";
import { sampleArchiver, type ArchiverStats } from "@/lib/engine/wal/sample-archiver";
import { identities } from "@/lib/operations/settings";
import type { ResolvedTarget } from "@/lib/targets/resolve-target";

/** Sample a target's archiver (pg_stat_archiver, the backlog, the real RPO exposure from its archive) and record it when it has a catalog row. */
export async function sampleTargetArchiver(options: {
  db: Db | undefined;
  env: TEnv;
  target: ResolvedTarget;
  onWarning?: ((message: string) => void) | undefined;
}): Promise<ArchiverStats> {
  const { db, env, target } = options;
  const stats = await sampleArchiver(target.connection, {
    rpoSeconds: env.LIFEBOAT_RPO_TARGET_MINUTES * 60,
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
  if (db && target.id !== null) await recordArchiverSample(db, target.id, stats);
  return stats;
}
