/**
 * npm run schedule -- list
 * npm run schedule -- set <id> [--cron "0 2 * * *"] [--timezone Asia/Jakarta] [--enable | --disable]
 * The schedules the workers fire (the seed's defaults are made for every target): each shown with
 * its cron in words and its next three run times. A cron string is checked by a cron parser.
 */
import { Command } from "commander";
import { eq } from "drizzle-orm";
import { appendAudit } from "@/lib/audit/append-audit";
import { schedules, targets } from "@/lib/db/schema";
import { InvalidInputError } from "@/lib/engine/errors";
import { describeCron, ensureDefaultSchedules, nextDue, nextRuns, validateCron } from "@/lib/jobs/schedules";
import { resolveTarget } from "@/lib/targets/resolve-target";
import { openCliSession, runCli } from "./context";

const program = new Command("schedule").description("Show and change the schedules").showHelpAfterError();

program
  .command("list")
  .option("--json", "print JSON")
  .action(async (opts: { json?: boolean }) => {
    const session = await openCliSession({ requireCatalog: true });
    try {
      const db = session.meta!.db;
      await resolveTarget({ env: session.env, db });
      for (const target of await db.select({ id: targets.id }).from(targets))
        await ensureDefaultSchedules(db, target.id, session.env.LIFEBOAT_SCHEDULE_TIMEZONE);
      const rows = await db
        .select({ schedule: schedules, target: targets.name })
        .from(schedules)
        .innerJoin(targets, eq(targets.id, schedules.targetId))
        .orderBy(schedules.id);
      const now = new Date();
      const described = rows.map(({ schedule, target }) => {
        let words: string;
        let next: string[];
        try {
          words = describeCron(schedule.cron);
          next = nextRuns(schedule.cron, schedule.timezone, now).map((d) => d.toISOString());
        } catch (error) {
          words = `invalid: ${(error as Error).message}`;
          next = [];
        }
        return {
          id: schedule.id,
          target,
          kind: schedule.kind,
          cron: schedule.cron,
          timezone: schedule.timezone,
          enabled: schedule.enabled,
          words,
          next,
          due: schedule.enabled && next.length > 0 ? nextDue(schedule).toISOString() : null,
        };
      });
      if (opts.json) console.log(JSON.stringify(described, null, 2));
      else {
        for (const s of described) {
          console.log(`#${s.id}  ${s.target}  ${s.kind.padEnd(8)} ${s.cron.padEnd(12)} ${s.timezone}  ${s.enabled ? "" : "(disabled) "}${s.words}`);
          console.log(`      next: ${s.next.join(", ")}`);
        }
      }
    } finally {
      await session.close();
    }
  });

program
  .command("set")
  .argument("<id>", "the schedule's id (npm run schedule -- list)")
  .option("--cron <expression>", "five fields: minute hour day-of-month month day-of-week")
  .option("--timezone <zone>", "an IANA time zone, e.g. UTC or Asia/Jakarta")
  .option("--enable", "fire it")
  .option("--disable", "stop firing it")
  .action(async (idText: string, opts: { cron?: string; timezone?: string; enable?: boolean; disable?: boolean }) => {
    const id = Number(idText);
    if (!Number.isInteger(id)) throw new InvalidInputError("the schedule id must be a whole number");
    if (opts.enable && opts.disable) throw new InvalidInputError("choose --enable or --disable");
    const session = await openCliSession({ requireCatalog: true });
    try {
      const db = session.meta!.db;
      const [current] = await db.select().from(schedules).where(eq(schedules.id, id));
      if (!current) throw new InvalidInputError(`there is no schedule #${id} (npm run schedule -- list)`);
      const cron = opts.cron ?? current.cron;
      const timezone = opts.timezone ?? current.timezone;
      validateCron(cron, timezone);
      const enabled = opts.enable ? true : opts.disable ? false : current.enabled;
      // A changed schedule counts from now: it does not fire at once for times it used to skip.
      await db.update(schedules).set({ cron, timezone, enabled, updatedAt: new Date(), lastFiredAt: new Date() }).where(eq(schedules.id, id));
      await appendAudit(db, {
        action: "schedules.manage",
        outcome: "succeeded",
        actorEmail: session.actor.label,
        subject: String(id),
        details: { cron, timezone, enabled },
      });
      console.log(`#${id} ${current.kind}: ${cron} (${timezone}) — ${describeCron(cron)}${enabled ? "" : " (disabled)"}`);
      console.log(
        `next: ${nextRuns(cron, timezone, new Date())
          .map((d) => d.toISOString())
          .join(", ")}`,
      );
    } finally {
      await session.close();
    }
  });

runCli(async () => {
  await program.parseAsync();
  return 0;
});
