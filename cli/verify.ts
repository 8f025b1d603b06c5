/**
 * npm run verify [-- <full dump>] [--target NAME] [--no-pitr]
 * The seed's monthly verification: restore drills on throwaway clusters, each compared with what
 * the backup recorded, each timed as a measured RTO. Exit 1 when a drill fails.
 */
import { Command } from "commander";
import { verifyOperation } from "@/lib/operations/verify";
import { openCliSession, runCli, runFromCli } from "./context";
import { seconds } from "./format";

const program = new Command("verify")
  .description("Restore the newest full dump (or the one named) on a throwaway cluster and compare every table; recover to a random moment of the window")
  .argument("[backup]", "full dump file name (default: the newest)")
  .option("--target <name>", "target whose backups to drill (default: the one from DB_*)")
  .option("--no-pitr", "skip the point-in-time recovery drill")
  .showHelpAfterError();

runCli(async () => {
  program.parse();
  const opts = program.opts<{ target?: string; pitr: boolean }>();
  const [file] = program.args;
  const session = await openCliSession();
  try {
    const outcome = await runFromCli(session, verifyOperation, { target: opts.target, file, pitr: opts.pitr ? undefined : false });
    const result = outcome.result;
    if (result) {
      const { logical, pitr } = result;
      const badTables = logical.tables.filter((t) => !t.ok);
      console.log(
        `${badTables.length ? "FAILED" : "OK    "}  full restore of ${logical.file}: ${logical.tables.length - badTables.length}/${logical.tables.length} tables match (rows and checksum)  RTO ${seconds(logical.durationMs)}`,
      );
      for (const t of badTables)
        console.log(
          `        ${t.table}: ${t.rows ?? "missing"} rows (expected ${t.expectedRows ?? "none"})${t.expectedRows === t.rows ? ", content differs" : ""}`,
        );
      if (logical.partial)
        console.log(
          `${logical.partial.ok ? "OK    " : "FAILED"}  JSON restore of ${logical.partial.file}: ${logical.partial.problem ?? `${logical.partial.tables} tables`}  RTO ${seconds(logical.partial.durationMs)}`,
        );
      if (pitr)
        console.log(
          `${pitr.ok ? "OK    " : "FAILED"}  PITR from ${pitr.base} to ${pitr.target}: ${pitr.problem ?? `started, ${pitr.tables} tables readable, last replayed ${pitr.lastReplayed ?? "nothing"}`}  RTO ${seconds(pitr.durationMs)}`,
        );
      else console.log(`SKIPPED PITR drill: ${result.pitrSkipped}`);
    }
    return outcome.exitCode;
  } finally {
    await session.close();
  }
});
