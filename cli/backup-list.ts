/**
 * npm run backup:list [-- --json] [--target NAME] [--rescan] [--repository local|offsite]
 * A target's backups as its repository holds them (the same with the metadata database down),
 * with the catalog's knowledge when it is up; --rescan rebuilds the catalog from the repository
 * (with an off-site copy, from the bucket too: a new host with an empty metadata database).
 */
import { Command, Option } from "commander";
import { MirroredRepository } from "@/lib/engine/offsite/offsite-repository";
import { listBackups } from "@/lib/catalog/list-backups";
import { rescanRepository } from "@/lib/catalog/rescan-repository";
import { formatBytes } from "@/lib/format";
import { InvalidInputError } from "@/lib/engine/errors";
import { resolveTarget } from "@/lib/targets/resolve-target";
import { openCliSession, runCli, warn } from "./context";
import { seconds } from "./format";

const program = new Command("backup:list")
  .description("List a target's backups")
  .option("--target <name>", "target (default: the one from DB_*)")
  .option("--json", "print JSON")
  .option("--rescan", "rebuild the catalog from the repository's manifests first (checks every artifact)")
  .addOption(new Option("--repository <which>", "with an off-site copy: list only the local folder or only the bucket").choices(["local", "offsite"]))
  .showHelpAfterError();

runCli(async () => {
  program.parse();
  const opts = program.opts<{ target?: string; json?: boolean; rescan?: boolean; repository?: "local" | "offsite" }>();
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
    let repository = target.repository;
    if (opts.repository) {
      if (!(repository instanceof MirroredRepository))
        throw new InvalidInputError("--repository needs an off-site repository: set LIFEBOAT_S3_BUCKET (README: Off-site copies).");
      repository = repository.listing(opts.repository);
    }
    // One side alone: the catalog's rows of the other side are not "missing".
    const { rows, unreadable } = await listBackups(repository, opts.repository ? undefined : catalog);
    for (const u of unreadable) warn(`refused ${u.file}: ${u.reason}`);
    if (opts.json) {
      console.log(JSON.stringify(rows, null, 2));
      return 0;
    }
    if (rows.length === 0) {
      console.log(`No backups of ${target.name} yet (npm run backup).`);
      return 0;
    }
    const mirrored = repository instanceof MirroredRepository;
    console.log(["KIND", "TIME (UTC)", "SIZE", "DURATION", "VERIFIED", "STATUS", ...(mirrored ? ["WHERE"] : []), "FILE"].join("\t"));
    for (const r of rows) {
      console.log(
        [
          r.kind,
          r.time.replace("T", " ").replace(/\.\d+Z$/, "Z"),
          formatBytes(r.sizeBytes),
          seconds(r.durationMs),
          r.verified,
          r.status,
          ...(mirrored ? [r.location ?? "-"] : []),
          r.file,
        ].join("\t"),
      );
    }
    return 0;
  } finally {
    await session.close();
  }
});
