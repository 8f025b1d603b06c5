"use server";

import { revalidatePath } from "next/cache";
import { z } from "zod";
import { LifeboatError } from "@/lib/engine/errors";
import { notifyWebhook } from "@/lib/notify/notify";
import { removeWebhook, saveWebhook, ZWebhookRequest } from "@/lib/notify/webhooks";
import { ZCleanupRequest } from "@/lib/validations/operations";
import { defineAction } from "@/lib/web/action";
import { enqueueAs } from "@/lib/web/operations";
import { previewCron, saveRetention, saveSchedule, ZCronPreview, ZRetentionForm, ZScheduleForm } from "@/lib/web/settings-schedules";
import { removeTarget, saveTargetForm, testTargetForm, ZTargetForm, ZTargetName } from "@/lib/web/settings-targets";

// Every change on /settings: session, permission (DESIGN.md: admin), schema, audit (denials too), in lib/web/action.ts.

export const testTargetAction = defineAction({
  action: "targets.test",
  permission: "targets.manage",
  input: ZTargetForm,
  subject: (input) => input.name,
  run: ({ db, env }, input) => testTargetForm(db, env, input),
});

export const saveTargetAction = defineAction({
  action: "targets.save",
  permission: "targets.manage",
  input: ZTargetForm,
  subject: (input) => input.name,
  run: async ({ db, env }, input) => {
    const saved = await saveTargetForm(db, env, input);
    revalidatePath("/", "layout");
    return saved;
  },
});

export const removeTargetAction = defineAction({
  action: "targets.remove",
  permission: "targets.manage",
  input: ZTargetName,
  subject: (input) => input.name,
  run: async ({ db, env }, input) => {
    await removeTarget(db, env, input.name);
    revalidatePath("/", "layout");
    return { removed: input.name };
  },
});

/** A cron string in words with its next three times, as the form is typed (reading, not a change: not audited). */
export const previewCronAction = defineAction({
  action: "schedules.preview",
  permission: "health.read",
  input: ZCronPreview,
  auditsItself: true,
  run: async (_context, input) => previewCron(input.cron, input.timezone),
});

export const saveScheduleAction = defineAction({
  action: "schedules.manage",
  permission: "schedules.manage",
  input: ZScheduleForm,
  subject: (input) => `schedule ${input.id}: ${input.cron} (${input.timezone})${input.enabled ? "" : " disabled"}`,
  run: async ({ db }, input) => {
    const saved = await saveSchedule(db, input);
    revalidatePath("/settings");
    return saved;
  },
});

export const saveRetentionAction = defineAction({
  action: "retention.manage",
  permission: "retention.manage",
  input: ZRetentionForm,
  subject: (input) => `${input.target}: ${input.days} days, keep ${input.keepNewest}`,
  run: async ({ db }, input) => {
    await saveRetention(db, input);
    revalidatePath("/settings");
    return { ok: true };
  },
});

/** Queue the cleanup operation as a dry run: the worker plans under the target's lock and deletes nothing; the page polls the run for the plan. */
export const retentionDryRunAction = defineAction({
  action: "retention.cleanup.request",
  permission: "retention.manage",
  input: ZCleanupRequest,
  subject: (input) => input.target ?? null,
  run: (context, input) => {
    const request: typeof input = { ...input, dryRun: true };
    return enqueueAs(context, "cleanup", request);
  },
});

// Notifications: DESIGN.md's table names no permission of their own; where notices go is part of
// the target configuration, so managing webhooks takes targets.manage (admin).
export const saveWebhookAction = defineAction({
  action: "webhooks.save",
  permission: "targets.manage",
  input: ZWebhookRequest,
  run: async ({ db, env }, input) => {
    const saved = await saveWebhook(db, input, env.LIFEBOAT_SECRETS_KEY);
    revalidatePath("/settings");
    return saved;
  },
});

const ZWebhookId = z.object({ id: z.number().int().min(1) });

export const testWebhookAction = defineAction({
  action: "webhooks.test",
  permission: "targets.manage",
  input: ZWebhookId,
  subject: (input) => `webhook ${input.id}`,
  run: async ({ db, env, user }, input) => {
    const outcome = await notifyWebhook(
      db,
      input.id,
      {
        event: "failure",
        target: null,
        title: "Lifeboat test notice",
        text: `This is a test sent by ${user.email} from the settings page; nothing failed.`,
        severity: "info",
        at: new Date(),
        fields: { test: true },
      },
      { attempts: 1, timeoutMs: 10_000, secretsKey: env.LIFEBOAT_SECRETS_KEY },
    );
    if (!outcome) throw new LifeboatError("NOT_FOUND", `There is no webhook ${input.id}.`);
    revalidatePath("/settings");
    return { status: outcome.status, error: outcome.lastError };
  },
});

export const removeWebhookAction = defineAction({
  action: "webhooks.remove",
  permission: "targets.manage",
  input: ZWebhookId,
  subject: (input) => `webhook ${input.id}`,
  run: async ({ db }, input) => {
    if (!(await removeWebhook(db, input.id))) throw new LifeboatError("NOT_FOUND", `There is no webhook ${input.id}.`);
    revalidatePath("/settings");
    return { removed: input.id };
  },
});
