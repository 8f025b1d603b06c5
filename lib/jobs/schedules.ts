import { and, eq, isNull } from "drizzle-orm";
import { CronExpressionParser } from "cron-parser";
import cronstrue from "cronstrue";
import type PgBoss from "pg-boss";
import type { Db } from "@/lib/db/client";
import { schedules, targets, type Schedule } from "@/lib/db/schema";
import { InvalidInputError } from "@/lib/engine/errors";
import { enqueueOperation } from "./queue";

/**
 * The seed's schedule table, as data: full + schema + JSON export (and a base backup when WAL is
 * archived into the repository) daily at 02:00; cleanup Sunday 03:00; a verification drill on the
 * first of each month. WAL is continuous (archive_command, and `npm run wal:stream`).
 */
export const DEFAULT_SCHEDULES: { kind: string; cron: string; input: Record<string, unknown> }[] = [
  { kind: "backup", cron: "0 2 * * *", input: {} },
  { kind: "cleanup", cron: "0 3 * * 0", input: {} },
  { kind: "verify", cron: "0 4 1 * *", input: {} },
];

export function isValidZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/** A cron string checked by a real cron parser (5 fields), in a valid IANA zone; throws a clear InvalidInputError. */
export function validateCron(cron: string, timezone: string): void {
  if (!isValidZone(timezone)) throw new InvalidInputError(`Unknown time zone ${JSON.stringify(timezone)} (use an IANA name such as UTC or Asia/Jakarta).`);
  if (cron.trim().split(/\s+/).length !== 5)
    throw new InvalidInputError(`${JSON.stringify(cron)} is not a cron schedule: it needs five fields (minute hour day-of-month month day-of-week).`);
  try {
    CronExpressionParser.parse(cron, { tz: timezone });
  } catch (error) {
    throw new InvalidInputError(`${JSON.stringify(cron)} is not a valid cron schedule: ${(error as Error).message}`);
  }
}

/** "At 02:00 AM" — a cron string in words. */
export function describeCron(cron: string): string {
  return cronstrue.toString(cron, { use24HourTimeFormat: true });
}

/** The next `count` run times after `from`. */
export function nextRuns(cron: string, timezone: string, from: Date, count = 3): Date[] {
  const it = CronExpressionParser.parse(cron, { tz: timezone, currentDate: from });
  return Array.from({ length: count }, () => it.next().toDate());
}

/** Give a target the seed's default schedules when it has none. */
export async function ensureDefaultSchedules(db: Db, targetId: number, timezone: string): Promise<void> {
  const existing = await db.select({ kind: schedules.kind }).from(schedules).where(eq(schedules.targetId, targetId));
  const missing = DEFAULT_SCHEDULES.filter((d) => !existing.some((e) => e.kind === d.kind));
  if (missing.length === 0) return;
  // From now on: a fresh schedule does not fire for every moment before it existed.
  await db.insert(schedules).values(missing.map((d) => ({ targetId, kind: d.kind, cron: d.cron, input: d.input, timezone, lastFiredAt: new Date() })));
}

/** When a schedule fires next, counted from the last time it fired (or when it was made). */
export function nextDue(schedule: Pick<Schedule, "cron" | "timezone" | "lastFiredAt" | "createdAt">): Date {
  return nextRuns(schedule.cron, schedule.timezone, schedule.lastFiredAt ?? schedule.createdAt, 1)[0]!;
}

/**
 * Fire every enabled schedule whose next time has come (`now` is a parameter, so tests control the
 * clock). Each fires once however long the workers were away, and only once across many workers:
 * the claim is an update that succeeds for one of them.
 */
export async function runDueSchedules(db: Db, boss: PgBoss, now: Date): Promise<{ scheduleId: number; runId: number }[]> {
  const due = await db
    .select({ schedule: schedules, target: targets })
    .from(schedules)
    .innerJoin(targets, eq(targets.id, schedules.targetId))
    .where(eq(schedules.enabled, true));
  const fired: { scheduleId: number; runId: number }[] = [];
  for (const { schedule, target } of due) {
    let next: Date;
    try {
      next = nextDue(schedule);
    } catch {
      continue; // an invalid cron written around Lifeboat: never fires (the schedule page shows it)
    }
    if (next.getTime() > now.getTime()) continue;
    const claimed = await db
      .update(schedules)
      .set({ lastFiredAt: now })
      .where(and(eq(schedules.id, schedule.id), schedule.lastFiredAt ? eq(schedules.lastFiredAt, schedule.lastFiredAt) : isNull(schedules.lastFiredAt)))
      .returning({ id: schedules.id });
    if (claimed.length === 0) continue; // another worker fired it
    const { runId } = await enqueueOperation(db, boss, {
      kind: schedule.kind,
      // A cleanup schedule's retention days (the schedule page edits them) go to the operation.
      input: { ...schedule.input, ...(schedule.kind === "cleanup" && schedule.retentionDays ? { days: schedule.retentionDays } : {}), target: target.name },
      targetId: target.id,
      actor: { label: `schedule:${schedule.id}`, userId: null, via: "schedule" },
      params: { schedule: schedule.id, cron: schedule.cron },
    });
    await db.update(schedules).set({ lastRunId: runId }).where(eq(schedules.id, schedule.id));
    fired.push({ scheduleId: schedule.id, runId });
  }
  return fired;
}
