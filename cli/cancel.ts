/**
 * npm run cancel -- <run id>
 * Cancel a queued or running operation: a queued one never starts; a running one is stopped by the
 * worker running it (its tools end, partial output is removed) and its run says "canceled".
 */
import { Command } from "commander";
import { InvalidInputError } from "@/lib/engine/errors";
import { openQueue, requestCancel } from "@/lib/jobs/queue";
import { appendAudit } from "@/lib/audit/append-audit";
import { openCliSession, runCli } from "./context";

const program = new Command("cancel").argument("<run>", "the run's id (npm run backup:list, the dashboard)").showHelpAfterError();

runCli(async () => {
  program.parse();
  const runId = Number(program.args[0]);
  if (!Number.isInteger(runId) || runId <= 0) throw new InvalidInputError("the run id must be a positive whole number");
  const session = await openCliSession({ requireCatalog: true });
  const boss = await openQueue(session.env.DATABASE_URL, { application: "lifeboat cancel" });
  try {
    const result = await requestCancel(session.meta!.db, boss, runId);
    await appendAudit(session.meta!.db, {
      action: "runs.cancel",
      outcome: "succeeded",
      actorEmail: session.actor.label,
      subject: String(runId),
      details: { result },
    });
    console.log(
      result === "canceled"
        ? `run ${runId} was still queued: cancelled, it will not start`
        : result === "requested"
          ? `run ${runId}: cancel requested; the worker running it stops it`
          : `run ${runId} has already finished`,
    );
    return 0;
  } finally {
    await boss.stop({ graceful: false }).catch(() => undefined);
    await session.close();
  }
});
