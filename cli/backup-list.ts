/**
 * npm run backup:list [-- --json] [--target NAME] [--rescan]
 * A target's backups as its repository holds them (the same with the metadata database down),
 * with the catalog's knowledge when it is up; --rescan rebuilds the catalog from the repository.
 */
import { Command } from "commander";
import { listBackups } from "@/lib/catalog/list-backups";
import { rescanRepository } from "@/lib/catalog/rescan-repository";
import { formatBytes } from "@/lib/format";
import { resolveTarget } from "@/lib/targets/resolve-target";
import { openCliSession, runCli, warn } from "./context";
import { seconds } from "./format";

const program = new Command("backup:list")
  .description("List a target's backups")
  .option("--target <name>", "target (default: the one from DB_*)")
  .option("--json", "print JSON")
  .option("--rescan", "rebuild the catalog from the repository's manifests first (checks every artifact)")
  .showHelpAfterError();

runCli(async () => {
  program.parse();
  const opts = program.opts<{ target?: string; json?: boolean; rescan?: boolean }>();
  const session = await openCliSession();
  try {
    const target = await resolveTarget({ env: session.env, db: session.meta?.db, name: opts.target });
    const catalog = session.meta && target.id !== null ? { db: session.meta.db, targetId: target.id } : undefined;
    if (opts.rescan) {
      if (!catalog) warn("--rescan needs the metadata database; listing from the repository only");
      else {
        const result = await rescanRepository(catalog.db, catalog.targetId, target.repository);
        warn(`rescanned ${target.repository.description}: ${result.indexed} indexed, ${result.missing} missing`);
        for (const damaged of result.damaged) warn(`DAMAGED: ${damaged}`);
      }
    }
    const { rows, unreadable } = await listBackups(target.repository, catalog);
    for (const u of unreadable) warn(`refused ${u.file}: ${u.reason}`);
    if (opts.json) {
      console.log(JSON.stringify(rows, null, 2));
      return 0;
    }
    if (rows.length === 0) {
      console.log(`No backups of ${target.name} yet (npm run backup).`);
      return 0;
    }
    console.log(["KIND", "TIME (UTC)", "SIZE", "DURATION", "VERIFIED", "STATUS", "FILE"].join("\t"));
    for (const r of rows) {
      console.log(
        [r.kind, r.time.replace("T", " ").replace(/\.\d+Z$/, "Z"), formatBytes(r.sizeBytes), seconds(r.durationMs), r.verified, r.status, r.file].join("\t"),
      );
    }
    return 0;
  } finally {
    await session.close();
  }
});
