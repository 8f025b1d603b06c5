import type pg from "pg";
import { MirroredRepository } from "@/lib/engine/offsite/offsite-repository";
import type { ResolvedTarget } from "@/lib/targets/resolve-target";

/**
 * One round of off-site WAL shipping for a target, by whichever worker gets there first: a
 * session advisory lock on the metadata database (per target) keeps two workers on two hosts from
 * shipping the same files at once. Returns undefined when another worker holds it or the target
 * has no off-site copy.
 */
export async function shipWalRound(pool: pg.Pool, target: ResolvedTarget, signal?: AbortSignal): Promise<{ shipped: number; pending: number } | undefined> {
  const repository = target.repository;
  if (!(repository instanceof MirroredRepository)) return undefined;
  const client = await pool.connect();
  try {
    const key = `lifeboat-wal-ship:${target.name}`;
    const { rows } = await client.query<{ ok: boolean }>("select pg_try_advisory_lock(hashtext($1)) as ok", [key]);
    if (!rows[0]?.ok) return undefined;
    try {
      const result = await repository.offsite.shipWal(repository.archiveDir, { signal });
      return { shipped: result.shipped.length, pending: result.pending };
    } finally {
      await client.query("select pg_advisory_unlock(hashtext($1))", [key]);
    }
  } finally {
    client.release();
  }
}
