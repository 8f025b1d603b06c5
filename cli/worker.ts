/**
 * npm run worker [-- --concurrency 2]
 * Runs queued operations (from schedules, the dashboard, npm run enqueue), fires the schedules
 * (the seed's defaults are created for every target that has none), samples archiver health every
 * minute. Any number of workers on any number of hosts share the queue; one target's operations
 * never run at once. Stops cleanly on SIGINT/SIGTERM (running operations end as interrupted).
 */
import { Command } from "commander";
import { targets } from "@/lib/db/schema";
import { OPERATIONS_QUEUE, openQueue, workerLabel } from "@/lib/jobs/queue";
import { ensureDefaultSchedules } from "@/lib/jobs/schedules";
import { startWorker } from "@/lib/jobs/worker";
import { resolveTarget } from "@/lib/targets/resolve-target";
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
  await resolveTarget({ env: session.env, db: meta.db }); // registers the default target from DB_*
  for (const target of await meta.db.select({ id: targets.id }).from(targets))
    await ensureDefaultSchedules(meta.db, target.id, session.env.LIFEBOAT_SCHEDULE_TIMEZONE);
  const label = workerLabel("worker");
  const worker = await startWorker({
    services: { ...session, meta },
    boss,
    label,
    via: "worker",
    queues: [OPERATIONS_QUEUE],
    concurrency: Math.max(1, Number(opts.concurrency) || 2),
    onEvent: (message) => warn(message),
  });
  warn(`${label} ready (queue ${OPERATIONS_QUEUE})`);
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
