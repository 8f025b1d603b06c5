/**
 * npm run worker [-- --concurrency 2]
 * Runs queued operations (from schedules, the dashboard, npm run enqueue), fires the schedules
 * (the seed's defaults are created for every target that has none), samples archiver health every
 * minute and expires host jobs nobody picked up. Any number of workers on any number of hosts
 * share the queue; one target's operations never run at once. A worker that can read a target's
 * data directory (it runs on the database host) also works that target's host queue, so an
 * in-place PITR needs no separate agent there. Stops cleanly on SIGINT/SIGTERM (running operations
 * end as interrupted).
 */
import { Command } from "commander";
import { openQueue, workerLabel } from "@/lib/jobs/queue";
import { startStandardWorker } from "@/lib/jobs/worker";
import { openCliSession, runCli, warn } from "./context";

const program = new Command("worker")
  .description("Run queued and scheduled operations")
  .option("--concurrency <n>", "operations at once (on different targets)", "2")
  .showHelpAfterError();

runCli(async () => {
  program.parse();
  const opts = program.opts<{ concurrency: string }>();
  const session = await openCliSession({ requireCatalog: true });
  const meta = session.meta!;
  const boss = await openQueue(session.env.DATABASE_URL, { application: "lifeboat worker" });
  const label = workerLabel("worker");
  const worker = await startStandardWorker({
    services: { ...session, meta },
    boss,
    label,
    timezone: session.env.LIFEBOAT_SCHEDULE_TIMEZONE,
    concurrency: Math.max(1, Number(opts.concurrency) || 2),
    onEvent: (message) => warn(message),
  });
  warn(
    `${label} ready (queues ${worker.queues.join(", ")})${worker.hostTargets.length ? `; on the database host of ${worker.hostTargets.join(", ")} (data directory readable here)` : ""}`,
  );
  await new Promise<void>((resolve) => {
    const stop = (signal: NodeJS.Signals) => {
      warn(`${signal}: stopping the worker`);
      resolve();
    };
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
  });
  await worker.stop();
  await boss.stop({ graceful: true, timeout: 10_000 }).catch(() => undefined);
  await session.close();
  return 0;
});
