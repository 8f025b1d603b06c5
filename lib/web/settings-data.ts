import "server-only";
import { eq } from "drizzle-orm";
import type { Db } from "@/lib/db/client";
import { schedules, targets } from "@/lib/db/schema";
import { DEFAULT_KEEP_NEWEST, DEFAULT_RETENTION_DAYS } from "@/lib/engine/retention/plan-retention";
import type { TEnv } from "@/lib/env";
import { describeCron, ensureDefaultSchedules, nextRuns } from "@/lib/jobs/schedules";
import { listWebhooks } from "@/lib/notify/webhooks";
import { listTargets, resolveTarget } from "@/lib/targets/resolve-target";
import { passwordVariableFor } from "@/lib/targets/target-secrets";

/** A target as the settings page shows it: the address and where its password comes from, never the password. */
export type SettingsTarget = {
  name: string;
  host: string;
  port: number;
  database: string;
  user: string;
  isDefault: boolean;
  /** "stored sealed", "from LIFEBOAT_TARGET_X_PASSWORD", "none". */
  password: string;
  passwordMode: "sealed" | "env" | "none";
  /** Its cluster runs on this host (data directory set with npm run target). */
  managed: boolean;
  /** The variable an "environment" password would be read from. */
  passwordVariable: string;
};

export type SettingsSchedule = {
  id: number;
  target: string;
  kind: string;
  cron: string;
  timezone: string;
  enabled: boolean;
  words: string;
  /** ISO instants; empty when the cron string is invalid. */
  next: string[];
  invalid: boolean;
};

export type SettingsRetention = { target: string; scheduleId: number | null; days: number; keepNewest: number; cron: string | null };

export type SettingsWebhook = {
  id: number;
  url: string;
  format: string;
  events: string[];
  enabled: boolean;
  lastDelivery: { status: string; at: string; attempts: number; error: string | null } | null;
};

export type SettingsData = {
  targets: SettingsTarget[];
  schedules: SettingsSchedule[];
  retention: SettingsRetention[];
  webhooks: SettingsWebhook[];
  webhooksError: string | null;
  secretsKeySet: boolean;
  defaultTimezone: string;
};

export function describeSchedule(cron: string, timezone: string, from: Date): { words: string; next: string[]; invalid: boolean } {
  try {
    return { words: describeCron(cron), next: nextRuns(cron, timezone, from, 3).map((d) => d.toISOString()), invalid: false };
  } catch (error) {
    return { words: `invalid: ${(error as Error).message}`, next: [], invalid: true };
  }
}

/** What /settings shows: targets, schedules (each target gets the seed's defaults, as npm run schedule -- list does), retention, webhooks. */
export async function loadSettings(db: Db, env: TEnv, now = new Date()): Promise<SettingsData> {
  await resolveTarget({ env, db }); // registers the default target from DB_*
  const rows = await listTargets(db);
  rows.sort((a, b) => Number(b.name === env.DB_TARGET_NAME) - Number(a.name === env.DB_TARGET_NAME) || a.name.localeCompare(b.name));
  for (const row of rows) await ensureDefaultSchedules(db, row.id, env.LIFEBOAT_SCHEDULE_TIMEZONE);

  const list: SettingsTarget[] = rows.map((t) => {
    const isDefault = t.name === env.DB_TARGET_NAME;
    const ref = isDefault ? (env.DB_PASSWORD ? "env:DB_PASSWORD" : null) : t.passwordRef;
    const passwordMode = !ref ? "none" : ref.startsWith("enc:") ? "sealed" : "env";
    return {
      name: t.name,
      // The default target is configured by DB_* (.env): shown as the environment has it.
      host: isDefault ? env.DB_HOST : t.host,
      port: isDefault ? env.DB_PORT : t.port,
      database: isDefault ? env.DB_NAME : t.database,
      user: isDefault ? env.DB_USER : t.username,
      isDefault,
      password: passwordMode === "none" ? "none" : passwordMode === "sealed" ? "stored sealed" : `from ${ref!.replace(/^env:/, "")}`,
      passwordMode,
      managed: isDefault ? Boolean(env.DB_DATA_DIR) : t.dataDir !== null,
      passwordVariable: passwordVariableFor(t.name),
    };
  });

  const scheduleRows = await db
    .select({ schedule: schedules, target: targets.name })
    .from(schedules)
    .innerJoin(targets, eq(targets.id, schedules.targetId))
    .orderBy(targets.name, schedules.id);
  const order = new Map(list.map((t, i) => [t.name, i]));
  scheduleRows.sort((a, b) => (order.get(a.target) ?? 0) - (order.get(b.target) ?? 0) || a.schedule.id - b.schedule.id);

  const retention: SettingsRetention[] = list.map((t) => {
    const cleanup = scheduleRows.find((r) => r.target === t.name && r.schedule.kind === "cleanup")?.schedule;
    const keep = Number(cleanup?.input.keepNewest);
    return {
      target: t.name,
      scheduleId: cleanup?.id ?? null,
      days: cleanup?.retentionDays ?? DEFAULT_RETENTION_DAYS,
      keepNewest: Number.isInteger(keep) && keep >= 1 ? keep : DEFAULT_KEEP_NEWEST,
      cron: cleanup?.cron ?? null,
    };
  });

  let webhooks: SettingsWebhook[] = [];
  let webhooksError: string | null = null;
  try {
    webhooks = (await listWebhooks(db, env.LIFEBOAT_SECRETS_KEY)).map((w) => ({
      ...w,
      lastDelivery: w.lastDelivery ? { ...w.lastDelivery, at: w.lastDelivery.at.toISOString() } : null,
    }));
  } catch (error) {
    webhooksError = (error as Error).message;
  }

  return {
    targets: list,
    schedules: scheduleRows.map(({ schedule, target }) => ({
      id: schedule.id,
      target,
      kind: schedule.kind,
      cron: schedule.cron,
      timezone: schedule.timezone,
      enabled: schedule.enabled,
      ...describeSchedule(schedule.cron, schedule.timezone, now),
    })),
    retention,
    webhooks,
    webhooksError,
    secretsKeySet: Boolean(env.LIFEBOAT_SECRETS_KEY),
    defaultTimezone: env.LIFEBOAT_SCHEDULE_TIMEZONE,
  };
}
