import { createHash } from "node:crypto";
import type pg from "pg";
import type { DbHandle } from "@/lib/db/client";
import { TargetBusyError } from "@/lib/engine/errors";
import { TargetLock } from "@/lib/engine/repository/target-lock";

/**
 * The lock an operation on a target holds, behind one interface:
 * - a PostgreSQL advisory lock on the metadata database, when it is reachable, so two workers on
 *   different hosts never run the same target's operation at once (it is released by the server
 *   if the process dies: the connection goes);
 * - the file lock in the target's repository folder, always, so a disaster-recovery restore works
 *   with the metadata database down, and a dead holder's children and half-done steps are found.
 */
export type OperationLock = {
  file: TargetLock;
  release: () => Promise<void>;
};

/** A stable 64-bit advisory-lock key for a target's name. */
export function targetLockKey(targetName: string): bigint {
  return createHash("sha256").update(`lifeboat:target:${targetName}`).digest().readBigInt64BE(0);
}

export async function acquireOperationLock(options: {
  meta: DbHandle | undefined;
  repositoryDir: string;
  target: string;
  operation: string;
  runId?: number | undefined;
}): Promise<OperationLock> {
  let client: pg.PoolClient | undefined;
  if (options.meta) {
    client = await options.meta.pool.connect();
    // pg-pool drops its own error listener on checkout: without one, a metadata database that goes
    // away mid-operation would crash the process. The file lock still holds the target.
    client.on("error", (error) => {
      process.stderr.write(
        `lifeboat: the metadata database connection holding ${options.target}'s advisory lock was lost (${error.message}); the lock file still holds the target\n`,
      );
    });
    const key = targetLockKey(options.target).toString();
    const { rows } = await client.query<{ ok: boolean }>("select pg_try_advisory_lock($1::bigint) as ok", [key]);
    if (!rows[0]?.ok) {
      client.release();
      const who = "another Lifeboat process, on this or another host";
      throw new TargetBusyError(options.target, who);
    }
  }
  let file: TargetLock;
  try {
    file = await TargetLock.acquire(options.repositoryDir, options.target, options.operation, { runId: options.runId });
  } catch (error) {
    if (client) await unlockAdvisory(client, options.target);
    throw error;
  }
  return {
    file,
    release: async () => {
      await file.release();
      if (client) await unlockAdvisory(client, options.target);
    },
  };
}

async function unlockAdvisory(client: pg.PoolClient, target: string): Promise<void> {
  try {
    await client.query("select pg_advisory_unlock($1::bigint)", [targetLockKey(target).toString()]);
    client.release();
  } catch (error) {
    // A broken connection has already dropped the lock; do not return it to the pool.
    client.release(error as Error);
  }
}
