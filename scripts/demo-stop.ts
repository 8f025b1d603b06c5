/** Stop the quickstart's demo and metadata clusters; their data and the backups stay. */
import path from "node:path";
import { LocalCluster } from "@/lib/engine/cluster/local-cluster";

const root = path.resolve(import.meta.dirname, "..");

for (const name of ["demo", "meta"]) {
  const cluster = await LocalCluster.existing({ baseDir: path.join(root, ".lifeboat", name) });
  if (!cluster) continue;
  await cluster.stop();
  console.log(`[lifeboat] ${name} cluster stopped (data kept in ${cluster.dataDir})`);
}
