/**
 * npm run wal:status [-- --json] [--target NAME]
 * Archiver statistics and backlog of a target, recorded as a sample; exit 1 when unhealthy, so a
 * cron job or monitor can alert on it. A read-only check: no run record, one log line on alert.
 */
import { Command } from "commander";
import { MirroredRepository } from "@/lib/engine/offsite/offsite-repository";
import { formatBytes } from "@/lib/format";
import { sampleTargetArchiver } from "@/lib/health/sample-target";
import { resolveTarget } from "@/lib/targets/resolve-target";
import { openCliSession, runCli, warn } from "./context";

const program = new Command("wal:status")
  .description("WAL archiving health of a target")
  .option("--target <name>", "target (default: the one from DB_*)")
  .option("--json", "print JSON")
  .showHelpAfterError();

runCli(async () => {
  program.parse();
  const opts = program.opts<{ target?: string; json?: boolean }>();
  const session = await openCliSession();
  try {
    const target = await resolveTarget({ env: session.env, db: session.meta?.db, name: opts.target });
    // The same sampler (and record) as the worker's: on the database host the backlog is read from the files too.
    const stats = (await sampleTargetArchiver({ db: session.meta?.db, env: session.env, target, onWarning: warn }))!;
    // With an off-site copy: how far the bucket's WAL is behind the local archive (part of the RPO exposure if the host is lost).
    const repository = target.repository;
    const offsite =
      repository instanceof MirroredRepository
        ? await repository.offsite.walLag(repository.archiveDir).catch((error: unknown) => ({ error: (error as Error).message }))
        : undefined;
    if (!stats.healthy) await session.log.write("ERROR", "wal-status", { target: target.name, status: "FAILED", alert: stats.alert });
    if (opts.json) {
      console.log(JSON.stringify({ ...stats, offsite }, null, 2));
    } else {
      console.log(`archived:       ${stats.archivedCount} (last ${stats.lastArchivedWal ?? "none"} at ${stats.lastArchivedAt?.toISOString() ?? "-"})`);
      console.log(`failed:         ${stats.failedCount} (last ${stats.lastFailedWal ?? "none"} at ${stats.lastFailedAt?.toISOString() ?? "-"})`);
      console.log(`waiting:        ${stats.readyCount ?? "unknown (grant pg_monitor to see the backlog)"}`);
      const exposure =
        stats.rpoExposureSeconds === null
          ? "unknown"
          : stats.unarchivedBytes === 0
            ? "0 s (every commit is archived)"
            : stats.unarchivedBytes === null
              ? `${stats.rpoExposureSeconds} s since the last archived segment`
              : `${stats.rpoExposureSeconds} s of commits not archived yet (${formatBytes(stats.unarchivedBytes)} of WAL; last archived commit ${stats.lastArchivedCommitAt?.toISOString() ?? "-"})`;
      console.log(`RPO exposure:   ${exposure}`);
      if (offsite)
        console.log(
          "error" in offsite
            ? `off-site lag:   unknown (${offsite.error})`
            : `off-site lag:   ${offsite.pendingFiles === 0 ? "0 s (every archived file is in the bucket)" : `${offsite.lagSeconds} s (${offsite.pendingFiles} archived files not in the bucket yet)`}; newest there ${offsite.newestShipped ?? "none"}`,
        );
      console.log(stats.healthy ? "status:         healthy" : `status:         ALERT: ${stats.alert}`);
    }
    return stats.healthy ? 0 : 1;
  } finally {
    await session.close();
  }
});
