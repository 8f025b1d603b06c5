import "server-only";
import { and, eq } from "drizzle-orm";
import { z } from "zod";
import type { Db } from "@/lib/db/client";
import { schedules, targets } from "@/lib/db/schema";
import { InvalidInputError } from "@/lib/engine/errors";
import { TARGET_NAME, TARGET_NAME_RULE } from "@/lib/engine/repository/artifact-kinds";
import { describeCron, nextRuns, validateCron } from "@/lib/jobs/schedules";

export const ZCronPreview = z.object({
  cron: z.string().max(200, "is too long"),
  timezone: z.string().min(1, "is required").max(64),
});

export const ZScheduleForm = ZCronPreview.extend({
  id: z.number().int().min(1),
  enabled: z.boolean(),
});
export type TScheduleForm = z.infer<typeof ZScheduleForm>;

export const ZRetentionForm = z.object({
  target: z.string().regex(TARGET_NAME, `must be a target name (${TARGET_NAME_RULE})`),
  days: z.coerce.number({ error: "must be a number of days" }).int("must be whole days").min(1, "must be at least 1 day").max(36500),
  keepNewest: z.coerce
    .number({ error: "must be a number" })
    .int("must be a whole number")
    .min(1, "at least 1: the last good backup is never deleted")
    .max(1000),
});
export type TRetentionForm = z.infer<typeof ZRetentionForm>;

export type CronPreview = { cron: string; timezone: string; words: string; next: string[] };

/** A cron string checked by the same parser the workers use, in words with its next three times; throws a clear InvalidInputError. */
export function previewCron(cron: string, timezone: string, now = new Date()): CronPreview {
  const trimmed = cron.trim().replace(/\s+/g, " ");
  validateCron(trimmed, timezone);
  return { cron: trimmed, timezone, words: describeCron(trimmed), next: nextRuns(trimmed, timezone, now, 3).map((d) => d.toISOString()) };
}

/** Change a schedule's cron, zone and enabled flag. It counts from now: it does not fire at once for times it used to skip (as npm run schedule -- set). */
export async function saveSchedule(db: Db, form: TScheduleForm): Promise<CronPreview & { id: number }> {
  const preview = previewCron(form.cron, form.timezone);
  const updated = await db
    .update(schedules)
    .set({ cron: preview.cron, timezone: form.timezone, enabled: form.enabled, updatedAt: new Date(), lastFiredAt: new Date() })
    .where(eq(schedules.id, form.id))
    .returning({ id: schedules.id });
  if (!updated.length) throw new InvalidInputError(`There is no schedule #${form.id}.`);
  return { ...preview, id: form.id };
}

/** The retention the weekly cleanup schedule applies to a target: days kept, and the newest good backups kept however old. */
export async function saveRetention(db: Db, form: TRetentionForm): Promise<void> {
  const [row] = await db
    .select({ schedule: schedules })
    .from(schedules)
    .innerJoin(targets, eq(targets.id, schedules.targetId))
    .where(and(eq(targets.name, form.target), eq(schedules.kind, "cleanup")))
    .orderBy(schedules.id)
    .limit(1);
  if (!row) throw new InvalidInputError(`Target ${form.target} has no cleanup schedule (the worker makes the seed's schedules when it starts).`);
  await db
    .update(schedules)
    .set({ retentionDays: form.days, input: { ...row.schedule.input, keepNewest: form.keepNewest }, updatedAt: new Date() })
    .where(eq(schedules.id, row.schedule.id));
}
