/**
 * Stop the quickstart: first the serving quickstart process, if one runs (its dashboard and its
 * worker stop cleanly; it records itself in .lifeboat/quickstart.pid), then the demo and metadata
 * clusters. Their data and the backups stay.
 */
import { readFile, rm } from "node:fs/promises";
import path from "node:path";
import { LocalCluster } from "@/lib/engine/cluster/local-cluster";
import { isRecordedProcessAlive } from "@/lib/engine/process/spawn-child";

const root = path.resolve(import.meta.dirname, "..");
// Written by scripts/quickstart.ts while it serves.
const pidFile = path.join(root, ".lifeboat", "quickstart.pid");
const STOP_DEADLINE_MS = 60_000;

async function stopQuickstart(): Promise<void> {
  const text = await readFile(pidFile, "utf8").catch(() => undefined);
  if (text === undefined) return;
  let record: { pid: number; startTime?: string | undefined };
  try {
    record = JSON.parse(text) as { pid: number; startTime?: string | undefined };
    if (!Number.isInteger(record.pid) || record.pid <= 1) throw new Error("no pid");
  } catch {
    await rm(pidFile, { force: true });
    return;
  }
  // The start time tells a reused pid apart: only the quickstart that wrote the file is signalled.
  if (!isRecordedProcessAlive(record)) {
    await rm(pidFile, { force: true });
    return;
  }
  console.log(`[lifeboat] stopping the quickstart (pid ${record.pid}): its dashboard and worker…`);
  process.kill(record.pid, "SIGTERM");
  const deadline = Date.now() + STOP_DEADLINE_MS;
  while (isRecordedProcessAlive(record)) {
    if (Date.now() > deadline) {
      console.log(
        `[lifeboat] the quickstart (pid ${record.pid}) did not stop within ${STOP_DEADLINE_MS / 1000} s (an operation may still be finishing); stopping the clusters anyway`,
      );
      return;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  console.log("[lifeboat] quickstart stopped");
}

await stopQuickstart();
for (const name of ["demo", "meta"]) {
  const cluster = await LocalCluster.existing({ baseDir: path.join(root, ".lifeboat", name) });
  if (!cluster) continue;
  await cluster.stop();
  console.log(`[lifeboat] ${name} cluster stopped (data kept in ${cluster.dataDir})`);
}
