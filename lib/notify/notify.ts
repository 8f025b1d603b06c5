import { setTimeout as sleep } from "node:timers/promises";
import { and, eq } from "drizzle-orm";
import type { Db } from "@/lib/db/client";
import { deliveries, webhooks, type Webhook } from "@/lib/db/schema";
import { getEnv } from "@/lib/env";
import { redactSecrets } from "@/lib/engine/pg/connection";
import { jsonPayload, slackPayload } from "./payloads";
import { openWebhookUrl } from "./webhooks";

export type NotificationEventType = "failure" | "critical" | "drill";

export type NotificationEvent = {
  event: NotificationEventType;
  target: string | null;
  /** One line, e.g. "Backup of app FAILED". */
  title: string;
  /** A sentence a person can act on. */
  text: string;
  severity: "info" | "warning" | "critical";
  at: Date;
  runId?: number | undefined;
  fields?: Record<string, string | number | boolean | null | undefined> | undefined;
};

export type NotifyOptions = {
  /** Tries per webhook (default 4). */
  attempts?: number;
  /** Wait before the second try; doubled before each next one (default 1 s: 1, 2, 4 s). */
  backoffMs?: number;
  /** Per try (default 10 s). */
  timeoutMs?: number;
  /** Opens the sealed webhook URLs (default: LIFEBOAT_SECRETS_KEY from the environment). */
  secretsKey?: string | undefined;
};

export type DeliveryOutcome = { webhookId: number; deliveryId: number; status: "delivered" | "failed" };

/**
 * Deliver to every enabled webhook subscribed to the event; each delivery recorded and retried.
 * Never throws: a metadata database error is reported with console.warn and the deliveries it
 * prevented are missing from the result. Bounded: attempts × timeout plus the backoff.
 */
export async function notify(db: Db, event: NotificationEvent, options: NotifyOptions = {}): Promise<DeliveryOutcome[]> {
  try {
    const rows = await db.select().from(webhooks).where(eq(webhooks.enabled, true)).orderBy(webhooks.id);
    // Rows are untrusted like every metadata row: events that are not a list subscribe to nothing.
    const subscribed = rows.filter((row) => Array.isArray(row.events) && (row.events.length === 0 || row.events.includes(event.event)));
    return await Promise.all(subscribed.map((row) => deliver(db, row, event, options)));
  } catch (error) {
    // Drizzle wraps a driver error in "Failed query: <sql>"; the driver's own words say what went wrong.
    const e = error as Error & { cause?: Error };
    console.warn(`lifeboat: the notification "${event.title}" was not sent: ${e.cause?.message ?? e.message}`);
    return [];
  }
}

/** One webhook, whatever its events and even when disabled (npm run webhook -- test). Undefined when there is no such webhook. */
export async function notifyWebhook(db: Db, webhookId: number, event: NotificationEvent, options: NotifyOptions = {}) {
  const [row] = await db.select().from(webhooks).where(eq(webhooks.id, webhookId));
  if (!row) return undefined;
  const outcome = await deliver(db, row, event, options);
  const [delivery] = await db
    .select()
    .from(deliveries)
    .where(and(eq(deliveries.id, outcome.deliveryId), eq(deliveries.webhookId, webhookId)));
  return { ...outcome, attempts: delivery?.attempts ?? 0, lastError: delivery?.lastError ?? null };
}

const pending = new Set<Promise<unknown>>();

/**
 * Send without holding the caller up: for operations, whose caller (a person at the CLI, a web
 * request, a worker) should not wait for a slow receiver's retries. The delivery is still tracked:
 * settleNotifications() awaits what is in flight before a process ends (the CLI's session does).
 */
export function notifyInBackground(db: Db, event: NotificationEvent, options: NotifyOptions = {}): void {
  const sending: Promise<unknown> = notify(db, event, options).finally(() => pending.delete(sending));
  pending.add(sending);
}

/** Wait (at most timeoutMs) for background deliveries; returns how many are still in flight. */
export async function settleNotifications(timeoutMs = 30_000): Promise<number> {
  if (pending.size === 0) return 0;
  const deadline = new AbortController();
  await Promise.race([Promise.allSettled([...pending]), sleep(timeoutMs, undefined, { signal: deadline.signal }).catch(() => undefined)]);
  deadline.abort();
  return pending.size;
}

async function deliver(db: Db, row: Webhook, event: NotificationEvent, options: NotifyOptions): Promise<DeliveryOutcome> {
  const attempts = Math.max(1, Math.floor(options.attempts ?? 4));
  const backoffMs = Math.max(0, options.backoffMs ?? 1_000);
  const timeoutMs = Math.max(1, options.timeoutMs ?? 10_000);
  const payload = row.format === "slack" ? slackPayload(event) : jsonPayload(event);
  const [inserted] = await db.insert(deliveries).values({ webhookId: row.id, event: event.event, payload, status: "pending" }).returning({ id: deliveries.id });
  const deliveryId = inserted!.id;
  const record = (values: Partial<typeof deliveries.$inferInsert>) =>
    db
      .update(deliveries)
      .set(values)
      .where(eq(deliveries.id, deliveryId))
      .catch((error: unknown) => console.warn(`lifeboat: delivery ${deliveryId} could not be recorded: ${(error as Error).message}`));

  let url: URL;
  try {
    url = openWebhookUrl(row, options.secretsKey ?? secretsKeyFromEnv());
  } catch (error) {
    await record({ status: "failed", lastError: (error as Error).message });
    return { webhookId: row.id, deliveryId, status: "failed" };
  }

  const body = JSON.stringify(payload);
  for (let attempt = 1; attempt <= attempts; attempt++) {
    const error = await post(url, body, timeoutMs);
    const last = attempt === attempts;
    if (!error) {
      await record({ attempts: attempt, status: "delivered", lastError: null, deliveredAt: new Date() });
      return { webhookId: row.id, deliveryId, status: "delivered" };
    }
    await record({ attempts: attempt, status: last ? "failed" : "pending", lastError: error });
    if (!last) await sleep(backoffMs * 2 ** (attempt - 1));
  }
  return { webhookId: row.id, deliveryId, status: "failed" };
}

/** One POST. Undefined when the receiver took it (2xx), else why not, in words that never include the URL. */
async function post(url: URL, body: string, timeoutMs: number): Promise<string | undefined> {
  let reason: string;
  try {
    const response = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", "user-agent": "lifeboat" },
      body,
      // A redirect would resend (or drop) the notice somewhere not configured: reported instead.
      redirect: "manual",
      signal: AbortSignal.timeout(timeoutMs),
    });
    const answer = (await response.text().catch(() => "")).replace(/\s+/g, " ").trim().slice(0, 200);
    if (response.ok) return undefined;
    reason = `HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ""}`;
    if (response.status >= 300 && response.status < 400) reason += " (redirects are not followed: give the final URL)";
    else if (answer) reason += `: ${answer}`;
  } catch (error) {
    const e = error as Error & { cause?: { message?: string } };
    reason =
      e.name === "TimeoutError" ? `no answer within ${Math.round(timeoutMs / 100) / 10} s` : e.cause?.message ? `${e.message}: ${e.cause.message}` : e.message;
  }
  // Whatever a receiver or the network says, the URL (whose path may be the secret) is not repeated.
  const hidden = [url.href, `${url.host}${url.pathname}`, url.pathname.length > 1 ? `${url.pathname}${url.search}` : undefined, url.search || undefined];
  return redactSecrets(reason, hidden).slice(0, 500);
}

function secretsKeyFromEnv(): string | undefined {
  try {
    return getEnv().LIFEBOAT_SECRETS_KEY;
  } catch {
    return undefined;
  }
}
