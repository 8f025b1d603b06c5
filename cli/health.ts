/**
 * npm run health [-- --target NAME] [--json]
 * The seed's backup health checks, each ok / warning / critical with what to do; the states are
 * recorded for the dashboard and /api/metrics. Exit 1 when any check is critical, so a cron job or
 * monitor can alert on it.
 */
import { Command } from "commander";
import { worstState } from "@/lib/health/checks";
import { checkTargetHealth } from "@/lib/health/gather-health";
import { sampleTargetArchiver } from "@/lib/health/sample-target";
import { resolveTarget } from "@/lib/targets/resolve-target";
import { openCliSession, runCli, warn } from "./context";

const program = new Command("health")
  .description("Backup health of a target: sizes, durations, ages, free space, archiving and RPO, measured RTOs")
  .option("--target <name>", "target (default: the one from DB_*)")
  .option("--json", "print JSON")
  .showHelpAfterError();

const MARK = { ok: "ok      ", warning: "WARNING ", critical: "CRITICAL" } as const;

runCli(async () => {
  program.parse();
  const opts = program.opts<{ target?: string; json?: boolean }>();
  const session = await openCliSession({ requireCatalog: true });
  const db = session.meta!.db;
  try {
    const target = await resolveTarget({ env: session.env, db, name: opts.target });
    // A fresh reading of the archiver when the server answers (a down server leaves the last sample to judge).
    await sampleTargetArchiver({ db, env: session.env, target, onWarning: warn }).catch((error: unknown) =>
      warn(`the archiver of ${target.name} could not be sampled: ${(error as Error).message}`),
    );
    const { checks } = await checkTargetHealth({ db, env: session.env, target });
    const worst = worstState(checks);
    if (worst === "critical")
      await session.log.write("ERROR", "health", {
        target: target.name,
        status: "FAILED",
        critical: checks
          .filter((c) => c.state === "critical")
          .map((c) => c.id)
          .join(","),
      });
    if (opts.json) console.log(JSON.stringify({ target: target.name, state: worst, checks }, null, 2));
    else {
      for (const c of checks) console.log(`${MARK[c.state]}  ${c.title}: ${c.message}`);
      console.log(`${target.name}: ${worst === "ok" ? "healthy" : worst.toUpperCase()}`);
    }
    return worst === "critical" ? 1 : 0;
  } finally {
    await session.close();
  }
});
