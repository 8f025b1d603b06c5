"use client";

import { useRouter } from "next/navigation";
import { useId, useRef, useState, useTransition } from "react";
import { removeWebhookAction, saveWebhookAction, testWebhookAction } from "@/app/(dashboard)/settings/actions";
import { Button } from "@/components/ui/button";
import { StateBadge } from "@/components/ui/state-badge";
import type { SettingsWebhook } from "@/lib/web/settings-data";
import { formatUtc } from "@/lib/web/overview-format";

const EVENTS = [
  { value: "failure", label: "failed operations" },
  { value: "critical", label: "health turned critical" },
  { value: "drill", label: "restore drill results" },
] as const;
const field =
  "w-full rounded-md border border-slate-300 bg-white px-2 py-1.5 text-sm dark:border-slate-700 dark:bg-slate-950 focus:outline-2 focus:outline-sky-500";

/** Where notices go: URLs are write-only (stored sealed, shown as scheme and host), each can be sent a test. */
export function WebhooksPanel({ webhooks, canManage, error }: { webhooks: SettingsWebhook[]; canManage: boolean; error: string | null }) {
  return (
    <div className="space-y-4">
      {error ? (
        <p role="alert" className="text-sm text-red-700 dark:text-red-300">
          The webhooks could not be read: {error}
        </p>
      ) : null}
      {webhooks.length ? (
        <ul className="divide-y divide-slate-100 dark:divide-slate-800" data-testid="webhooks">
          {webhooks.map((w) => (
            <WebhookRow key={w.id} webhook={w} canManage={canManage} />
          ))}
        </ul>
      ) : (
        <p className="text-sm text-slate-500 dark:text-slate-400">No webhook yet: failures and critical health are only on this dashboard and in the logs.</p>
      )}
      {canManage ? <AddWebhook /> : null}
    </div>
  );
}

function WebhookRow({ webhook, canManage }: { webhook: SettingsWebhook; canManage: boolean }) {
  const router = useRouter();
  const [message, setMessage] = useState<{ ok: boolean; text: string } | null>(null);
  const [pending, startTransition] = useTransition();
  const last = webhook.lastDelivery;
  return (
    <li className="space-y-1 py-3 text-sm" data-testid="webhook" data-webhook-id={webhook.id}>
      <div className="flex flex-wrap items-start justify-between gap-2">
        <div className="min-w-0">
          <p className="font-medium">
            #{webhook.id} <span className="font-mono">{webhook.url}</span> · {webhook.format} ·{" "}
            {webhook.events.length ? webhook.events.join(", ") : "every event"}
            {webhook.enabled ? "" : " · disabled"}
          </p>
          <p className="flex flex-wrap items-center gap-2 text-xs text-slate-500 dark:text-slate-400">
            Last delivery:{" "}
            {last ? (
              <>
                <StateBadge state={last.status === "delivered" ? "ok" : last.status === "failed" ? "failed" : "queued"} label={last.status} />
                {formatUtc(last.at)} ({last.attempts} attempt(s)){last.error ? `: ${last.error}` : ""}
              </>
            ) : (
              "never"
            )}
          </p>
        </div>
        {canManage ? (
          <div className="flex gap-2">
            <Button
              disabled={pending}
              onClick={() =>
                startTransition(async () => {
                  setMessage(null);
                  const result = await testWebhookAction({ id: webhook.id });
                  if (!result.ok) return setMessage({ ok: false, text: result.error });
                  setMessage(
                    result.data.status === "delivered"
                      ? { ok: true, text: "Test notice delivered." }
                      : { ok: false, text: `Test notice failed: ${result.data.error ?? "no reason recorded"}` },
                  );
                  router.refresh();
                })
              }
            >
              {pending ? "Sending…" : "Send a test"}
            </Button>
            <Button
              variant="danger"
              disabled={pending}
              aria-label={`Remove webhook ${webhook.id}`}
              onClick={() =>
                startTransition(async () => {
                  const result = await removeWebhookAction({ id: webhook.id });
                  if (!result.ok) return setMessage({ ok: false, text: result.error });
                  router.refresh();
                })
              }
            >
              Remove
            </Button>
          </div>
        ) : null}
      </div>
      {message ? (
        <p role={message.ok ? "status" : "alert"} className={message.ok ? "text-emerald-700 dark:text-emerald-300" : "text-red-700 dark:text-red-300"}>
          {message.text}
        </p>
      ) : null}
    </li>
  );
}

function AddWebhook() {
  const router = useRouter();
  const id = useId();
  const form = useRef<HTMLFormElement>(null);
  const [error, setError] = useState<string | null>(null);
  const [pending, startTransition] = useTransition();
  return (
    <form
      ref={form}
      aria-label="Add a webhook"
      className="space-y-3 rounded-lg border border-slate-200 p-4 dark:border-slate-800"
      onSubmit={(event) => {
        event.preventDefault();
        const data = new FormData(event.currentTarget);
        startTransition(async () => {
          setError(null);
          // The URL is read from the uncontrolled field when sending and kept nowhere in the page.
          const result = await saveWebhookAction({
            url: String(data.get("url") ?? ""),
            format: String(data.get("format") ?? "json"),
            events: data.getAll("events").map(String),
          });
          if (!result.ok) return setError(result.error);
          form.current?.reset();
          router.refresh();
        });
      }}
    >
      <h3 className="text-sm font-semibold">Add a webhook</h3>
      <div className="grid gap-3 sm:grid-cols-3">
        <div className="sm:col-span-2">
          <label htmlFor={`${id}-url`} className="block text-xs font-medium">
            URL (write-only: a Slack URL is a secret)
          </label>
          <input id={`${id}-url`} name="url" type="password" className={field} required autoComplete="off" placeholder="https://hooks.slack.com/services/…" />
        </div>
        <div>
          <label htmlFor={`${id}-format`} className="block text-xs font-medium">
            Format
          </label>
          <select id={`${id}-format`} name="format" className={field} defaultValue="json">
            <option value="json">JSON</option>
            <option value="slack">Slack</option>
          </select>
        </div>
      </div>
      <fieldset>
        <legend className="text-xs font-medium">Events (none ticked: every event)</legend>
        <div className="mt-1 flex flex-wrap gap-4 text-sm">
          {EVENTS.map((e) => (
            <label key={e.value} className="flex items-center gap-1.5">
              <input type="checkbox" name="events" value={e.value} /> {e.label}
            </label>
          ))}
        </div>
      </fieldset>
      {error ? (
        <p role="alert" className="rounded-md bg-red-50 p-2 text-sm text-red-800 dark:bg-red-950 dark:text-red-200">
          {error}
        </p>
      ) : null}
      <Button type="submit" variant="primary" disabled={pending}>
        Add webhook
      </Button>
    </form>
  );
}
