import { hostname } from "node:os";
import { open, readFile, rm } from "node:fs/promises";
import path from "node:path";

export class TargetBusyError extends Error {
  readonly code = "TARGET_BUSY";
  constructor(target: string, holder: string) {
    super(`Another backup or restore of ${target} is running (${holder}); wait for it to finish and try again.`);
    this.name = "TargetBusyError";
  }
}

export type TargetLock = { release: () => Promise<void> };

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * One backup or restore per target at a time, across processes, without the metadata database
 * (a disaster-recovery restore must work while it is down). The lock is a file created with
 * O_EXCL holding host and pid; a lock left by a dead process on this host is taken over.
 */
export async function acquireTargetLock(targetDir: string, target: string, operation: string): Promise<TargetLock> {
  const file = path.join(targetDir, ".lock");
  const me = JSON.stringify({ host: hostname(), pid: process.pid, operation, since: new Date().toISOString() });
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const handle = await open(file, "wx", 0o600);
      await handle.writeFile(me);
      await handle.sync();
      await handle.close();
      return { release: () => rm(file, { force: true }) };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      const holder = await readFile(file, "utf8")
        .then((t) => JSON.parse(t) as { host?: string; pid?: number; operation?: string; since?: string })
        .catch(() => undefined);
      const stale = holder?.host === hostname() && typeof holder.pid === "number" && !isAlive(holder.pid);
      if (!stale) {
        const who = holder ? `${holder.operation ?? "operation"} by pid ${holder.pid} on ${holder.host} since ${holder.since}` : "lock file unreadable";
        throw new TargetBusyError(target, who);
      }
      await rm(file, { force: true });
    }
  }
  throw new TargetBusyError(target, "the lock could not be taken");
}
