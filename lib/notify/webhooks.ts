import { desc, eq, inArray } from "drizzle-orm";
import { z } from "zod";
import type { Db } from "@/lib/db/client";
import { deliveries, webhooks, type Webhook } from "@/lib/db/schema";
import { LifeboatError, UntrustedDataError } from "@/lib/engine/errors";
import { encryptTargetPassword, resolveTargetPassword } from "@/lib/targets/target-secrets";

export const WEBHOOK_EVENTS = ["failure", "critical", "drill"] as const;
export const WEBHOOK_FORMATS = ["json", "slack"] as const;
export type WebhookEvent = (typeof WEBHOOK_EVENTS)[number];
export type WebhookFormat = (typeof WEBHOOK_FORMATS)[number];

/** Messages never repeat the URL: it may be a secret (a Slack webhook URL is one). */
const ZWebhookUrl = z
  .string({ error: "url is required" })
  .trim()
  .min(1, "url is required")
  .transform((text, ctx) => {
    let url: URL;
    try {
      url = new URL(text);
    } catch {
      ctx.addIssue({ code: "custom", message: "url must be an http:// or https:// URL" });
      return z.NEVER;
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") {
      ctx.addIssue({ code: "custom", message: "url must be an http:// or https:// URL" });
      return z.NEVER;
    }
    if (url.username || url.password) {
      ctx.addIssue({ code: "custom", message: "url must not carry a user name or password (put a token in its path or query)" });
      return z.NEVER;
    }
    return url.href;
  });

export const ZWebhookRequest = z.object({
  url: ZWebhookUrl,
  format: z.enum(WEBHOOK_FORMATS, { error: "format must be json or slack" }).default("json"),
  /** Empty: every event. */
  events: z
    .array(z.enum(WEBHOOK_EVENTS, { error: (issue) => `unknown event ${JSON.stringify(issue.input)}: the events are failure, critical and drill` }))
    .default([])
    .transform((events) => [...new Set(events)]),
});
export type TWebhookRequest = z.infer<typeof ZWebhookRequest>;

/**
 * A webhook URL is stored sealed like a target password (AES-256-GCM under LIFEBOAT_SECRETS_KEY,
 * lib/targets/target-secrets.ts): reading the metadata database does not reveal a Slack URL, and
 * a row edited to point elsewhere cannot be opened, so nobody without the key can redirect
 * notices. The associated data is a binding no target can have (":" is not allowed in a target
 * name, port 0 cannot be connected to), so a sealed URL is never mistaken for a password.
 */
const URL_BINDING = { name: "webhook:url", host: "-", port: 0, user: "-" };

function requireKey(secretsKey: string | undefined): string {
  if (!secretsKey)
    throw new LifeboatError("CONFIGURATION", "LIFEBOAT_SECRETS_KEY is required: webhook URLs are stored sealed with it (openssl rand -base64 32).");
  return secretsKey;
}

export function sealWebhookUrl(url: string, secretsKey: string | undefined): string {
  return encryptTargetPassword(url, URL_BINDING, requireKey(secretsKey));
}

/** The URL a webhook row holds; refuses a row that was not sealed with this key or was edited. */
export function openWebhookUrl(row: Pick<Webhook, "id" | "url">, secretsKey: string | undefined): URL {
  const key = requireKey(secretsKey);
  const refuse = () =>
    new UntrustedDataError(
      `The URL of webhook ${row.id} cannot be opened (stored under another LIFEBOAT_SECRETS_KEY, or edited): remove it and add it again. Nothing was sent.`,
    );
  if (!row.url.startsWith("enc:v1:")) throw refuse();
  let text: string | undefined;
  try {
    text = resolveTargetPassword(row.url, { ...URL_BINDING, isDefault: false }, key);
  } catch (error) {
    if (error instanceof UntrustedDataError) throw refuse();
    throw error;
  }
  const parsed = ZWebhookUrl.safeParse(text);
  if (!parsed.success) throw refuse();
  return new URL(parsed.data);
}

/** What a person may see of a webhook URL: scheme and host only (the path of a Slack URL is its secret). */
export function maskUrl(url: URL): string {
  return `${url.protocol}//${url.host}/…`;
}

/**
 * Add a webhook, or update the one with the same URL (its format and events): adding twice never
 * sends every notice twice. Input is parsed with ZWebhookRequest by the caller.
 */
export async function saveWebhook(db: Db, input: TWebhookRequest, secretsKey: string | undefined): Promise<{ id: number; created: boolean; masked: string }> {
  const masked = maskUrl(new URL(input.url));
  for (const row of await db.select().from(webhooks)) {
    let url: URL;
    try {
      url = openWebhookUrl(row, secretsKey);
    } catch (error) {
      if (error instanceof UntrustedDataError) continue;
      throw error;
    }
    if (url.href !== input.url) continue;
    await db.update(webhooks).set({ format: input.format, events: input.events, enabled: true }).where(eq(webhooks.id, row.id));
    return { id: row.id, created: false, masked };
  }
  const [row] = await db
    .insert(webhooks)
    .values({ url: sealWebhookUrl(input.url, secretsKey), format: input.format, events: input.events })
    .returning({ id: webhooks.id });
  return { id: row!.id, created: true, masked };
}

export type ListedWebhook = {
  id: number;
  /** Masked (scheme and host), or why the URL cannot be opened. */
  url: string;
  format: string;
  events: string[];
  enabled: boolean;
  lastDelivery: { status: string; at: Date; attempts: number; error: string | null } | null;
};

export async function listWebhooks(db: Db, secretsKey: string | undefined): Promise<ListedWebhook[]> {
  const rows = await db.select().from(webhooks).orderBy(webhooks.id);
  const recent = rows.length
    ? await db
        .selectDistinctOn([deliveries.webhookId])
        .from(deliveries)
        .where(
          inArray(
            deliveries.webhookId,
            rows.map((r) => r.id),
          ),
        )
        .orderBy(deliveries.webhookId, desc(deliveries.id))
    : [];
  return rows.map((row) => {
    let url: string;
    try {
      url = maskUrl(openWebhookUrl(row, secretsKey));
    } catch (error) {
      url = error instanceof UntrustedDataError ? "(cannot be opened: add it again)" : "(sealed: LIFEBOAT_SECRETS_KEY needed)";
    }
    const last = recent.find((d) => d.webhookId === row.id);
    return {
      id: row.id,
      url,
      format: row.format,
      events: row.events,
      enabled: row.enabled,
      lastDelivery: last ? { status: last.status, at: last.deliveredAt ?? last.createdAt, attempts: last.attempts, error: last.lastError } : null,
    };
  });
}

/** Forget a webhook (its deliveries go with it). False when there is none with that id. */
export async function removeWebhook(db: Db, id: number): Promise<boolean> {
  const removed = await db.delete(webhooks).where(eq(webhooks.id, id)).returning({ id: webhooks.id });
  return removed.length > 0;
}
