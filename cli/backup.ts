/**
 * npm run backup [-- --target NAME] [--kinds full,schema,json,env,base]
 * One backup set of a target; one summary line per artifact; exit 1 if any artifact failed.
 */
import path from "node:path";
import { Command, InvalidArgumentError } from "commander";
import { ARTIFACT_KINDS, type ArtifactKind } from "@/lib/engine/repository/artifact-kinds";
import { formatBytes } from "@/lib/format";
import { backupOperation } from "@/lib/operations/backup";
import { openCliSession, runCli, runFromCli } from "./context";
import { seconds } from "./format";

function parseKinds(value: string): ArtifactKind[] {
  const kinds = value
    .split(",")
    .map((k) => k.trim())
    .filter(Boolean);
  const unknown = kinds.filter((k) => !(ARTIFACT_KINDS as readonly string[]).includes(k));
  if (unknown.length || kinds.length === 0) throw new InvalidArgumentError(`expected some of ${ARTIFACT_KINDS.join(",")}`);
  return [...new Set(kinds)] as ArtifactKind[];
}

const program = new Command("backup")
  .description("Back up a target: full dump, schema, JSON export, environment backup, and a base backup when its WAL is archived here")
  .option("--target <name>", "target to back up (default: the one from DB_*)")
  .option("--kinds <list>", `artifacts to write, comma separated (${ARTIFACT_KINDS.join(",")})`, parseKinds)
  .showHelpAfterError();

runCli(async () => {
  program.parse();
  const opts = program.opts<{ target?: string; kinds?: ArtifactKind[] }>();
  const session = await openCliSession();
  try {
    const outcome = await runFromCli(session, backupOperation, { target: opts.target, kinds: opts.kinds });
    const result = outcome.result;
    if (result) {
      for (const artifact of result.artifacts) {
        if (artifact.ok)
          console.log(`OK      ${artifact.kind.padEnd(6)} ${artifact.file}  ${formatBytes(artifact.manifest.sizeBytes)}  ${seconds(artifact.durationMs)}`);
        else console.log(`FAILED  ${artifact.kind.padEnd(6)} ${artifact.error}`);
      }
      if (result.restorePoint) console.log(`restore point: ${result.restorePoint}`);
      const failed = result.artifacts.filter((a) => !a.ok).length;
      const folder = path.relative(process.cwd(), session.env.BACKUP_DIR) || ".";
      console.log(`backup set ${result.timestamp} of ${outcome.target} in ${folder}/: ${result.artifacts.length - failed} written, ${failed} failed`);
    }
    return outcome.exitCode;
  } finally {
    await session.close();
  }
});
