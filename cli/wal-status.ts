/**
 * npm run wal:status [-- --json] [--target NAME]
 * Archiver statistics and backlog of a target, recorded as a sample; exit 1 when unhealthy, so a
 * cron job or monitor can alert on it.
 */
import { Command } from "commander";
import { recordArchiverSample } from "@/lib/catalog/record-archiver-sample";
import { sampleArchiver } from "@/lib/engine/wal/sample-archiver";
import { loadCliContext, runCli } from "./context";

const program = new Command("wal:status")
  .description("WAL archiving health of a target")
  .option("--target <name>", "target (default: the one from DB_*)")
  .option("--json", "print JSON")
  .showHelpAfterError();

runCli(async () => {
  program.parse();
  const opts = program.opts<{ target?: string; json?: boolean }>();
  const ctx = await loadCliContext({ target: opts.target });
  try {
    const stats = await sampleArchiver(ctx.target.connection);
    if (ctx.meta && ctx.target.row) await recordArchiverSample(ctx.meta.db, ctx.target.row.id, stats);
    if (!stats.healthy) await ctx.log.write("ERROR", "wal-status", { target: ctx.target.name, status: "FAILED", alert: stats.alert });
    if (opts.json) {
      console.log(JSON.stringify(stats, null, 2));
    } else {
      console.log(`archived:       ${stats.archivedCount} (last ${stats.lastArchivedWal ?? "none"} at ${stats.lastArchivedAt?.toISOString() ?? "-"})`);
      console.log(`failed:         ${stats.failedCount} (last ${stats.lastFailedWal ?? "none"} at ${stats.lastFailedAt?.toISOString() ?? "-"})`);
      console.log(`waiting:        ${stats.readyCount ?? "unknown (grant pg_monitor to see the backlog)"}`);
      console.log(`RPO exposure:   ${stats.rpoExposureSeconds === null ? "-" : `${stats.rpoExposureSeconds} s since the last archived segment`}`);
      console.log(stats.healthy ? "status:         healthy" : `status:         ALERT: ${stats.alert}`);
    }
    return stats.healthy ? 0 : 1;
  } finally {
    await ctx.close();
  }
});
