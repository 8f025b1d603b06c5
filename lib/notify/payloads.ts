import type { NotificationEvent } from "./notify";

/** The generic JSON body: the event as it is, for any receiver. */
export function jsonPayload(event: NotificationEvent): Record<string, unknown> {
  return {
    event: event.event,
    target: event.target,
    title: event.title,
    text: event.text,
    severity: event.severity,
    at: event.at.toISOString(),
    runId: event.runId ?? null,
    fields: definedFields(event),
  };
}

/**
 * A Slack incoming-webhook body (also understood by Mattermost, Rocket.Chat and Discord's /slack
 * endpoint): `text` is the notification's fallback, `blocks` the message.
 */
export function slackPayload(event: NotificationEvent): Record<string, unknown> {
  const context = [event.severity.toUpperCase(), event.event, event.target ? `target ${event.target}` : null, event.runId ? `run ${event.runId}` : null]
    .filter(Boolean)
    .join(" · ");
  const fields = Object.entries(definedFields(event)).slice(0, 10);
  return {
    text: `${event.title}\n${event.text}`,
    blocks: [
      { type: "section", text: { type: "mrkdwn", text: clip(`*${escape(event.title)}*\n${escape(event.text)}`, 3000) } },
      ...(fields.length
        ? [{ type: "section", fields: fields.map(([k, v]) => ({ type: "mrkdwn", text: clip(`*${escape(k)}*\n${escape(String(v))}`, 2000) })) }]
        : []),
      { type: "context", elements: [{ type: "mrkdwn", text: `${escape(context)} · ${event.at.toISOString()}` }] },
    ],
  };
}

function definedFields(event: NotificationEvent): Record<string, string | number | boolean | null> {
  const out: Record<string, string | number | boolean | null> = {};
  for (const [key, value] of Object.entries(event.fields ?? {})) if (value !== undefined) out[key] = value;
  return out;
}

/** Slack's mrkdwn reads &, < and > as markup. */
function escape(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
