/**
 * npm run webhook -- add [URL] [--format json|slack] [--events failure,critical,drill]
 * npm run webhook -- list
 * npm run webhook -- remove ID
 * npm run webhook -- test ID
 * Where notices go: failed or interrupted operations (failure), health checks turning critical
 * (critical), restore drill results (drill); no --events means all. URLs are stored sealed under
 * LIFEBOAT_SECRETS_KEY and shown masked. A Slack URL is a secret: give it on standard input (no
 * URL argument, or "-"), never on the command line, where ps and the shell's history keep it.
 */
import { text } from "node:stream/consumers";
import { Command } from "commander";
import { appendAudit } from "@/lib/audit/append-audit";
import { InvalidInputError } from "@/lib/engine/errors";
import { notifyWebhook } from "@/lib/notify/notify";
import { listWebhooks, removeWebhook, saveWebhook, ZWebhookRequest } from "@/lib/notify/webhooks";
import { openCliSession, runCli, warn, type CliSession } from "./context";

let exitCode = 0;
const program = new Command("webhook").description("Manage the webhooks Lifeboat notifies").showHelpAfterError();

async function withSession(fn: (session: CliSession) => Promise<void>): Promise<void> {
  const session = await openCliSession({ requireCatalog: true });
  try {
    await fn(session);
  } finally {
    await session.close();
  }
}

function webhookId(value: string): number {
  const id = Number(value);
  if (!Number.isInteger(id) || id < 1) throw new InvalidInputError(`${JSON.stringify(value)} is not a webhook id (npm run webhook -- list shows them).`);
  return id;
}

function noSuchWebhook(id: number): void {
  warn(`there is no webhook ${id} (npm run webhook -- list)`);
  exitCode = 1;
}

async function readUrl(argument: string | undefined): Promise<string> {
  if (argument !== undefined && argument !== "-") return argument;
  if (process.stdin.isTTY) process.stderr.write("webhook URL (then Enter and Ctrl-D): ");
  return (await text(process.stdin)).trim();
}

program
  .command("add")
  .description("add a webhook, or update the one with the same URL")
  .argument("[url]", 'http(s) URL; omit it (or "-") to read it from standard input, as a Slack URL must be')
  .option("--format <format>", "json (the event as JSON) or slack (Slack incoming-webhook message)", "json")
  .option("--events <list>", "comma-separated: failure, critical, drill (default: all)")
  .action((argument: string | undefined, opts: { format: string; events?: string }) =>
    withSession(async (session) => {
      const onCommandLine = argument !== undefined && argument !== "-";
      const parsed = ZWebhookRequest.safeParse({
        url: await readUrl(argument),
        format: opts.format,
        events: opts.events === undefined ? [] : opts.events.split(",").map((e) => e.trim()),
      });
      if (!parsed.success) throw new InvalidInputError(`${parsed.error.issues[0]?.message ?? "invalid webhook"}. Nothing was changed.`);
      const input = parsed.data;
      if (onCommandLine && (input.format === "slack" || new URL(input.url).hostname === "hooks.slack.com"))
        throw new InvalidInputError(
          "A Slack webhook URL is a secret: give it on standard input (npm run webhook -- add --format slack < url.txt), not as an argument, where ps and the shell's history keep it. Nothing was changed.",
        );
      const db = session.meta!.db;
      const saved = await saveWebhook(db, input, session.env.LIFEBOAT_SECRETS_KEY);
      await appendAudit(db, {
        action: "webhooks.save",
        outcome: "succeeded",
        actorEmail: session.actor.label,
        subject: `webhook ${saved.id}`,
        details: { id: saved.id, url: saved.masked, format: input.format, events: input.events },
      });
      const events = input.events.length ? input.events.join(", ") : "every event";
      console.log(
        `webhook ${saved.id} ${saved.created ? "added" : "updated"} (${saved.masked}, ${input.format}, ${events}); try it: npm run webhook -- test ${saved.id}`,
      );
    }),
  );

program
  .command("list")
  .description("list the webhooks (URLs masked) and their last delivery")
  .action(() =>
    withSession(async (session) => {
      const rows = await listWebhooks(session.meta!.db, session.env.LIFEBOAT_SECRETS_KEY);
      console.log(["ID", "URL", "FORMAT", "EVENTS", "ENABLED", "LAST DELIVERY"].join("\t"));
      for (const w of rows) {
        const last = w.lastDelivery
          ? `${w.lastDelivery.status} ${w.lastDelivery.at.toISOString()} (${w.lastDelivery.attempts} attempt(s))${w.lastDelivery.error ? `: ${w.lastDelivery.error}` : ""}`
          : "never";
        console.log([w.id, w.url, w.format, w.events.length ? w.events.join(",") : "all", w.enabled ? "yes" : "no", last].join("\t"));
      }
    }),
  );

program
  .command("remove")
  .description("forget a webhook and its deliveries")
  .argument("<id>")
  .action((value: string) =>
    withSession(async (session) => {
      const id = webhookId(value);
      const db = session.meta!.db;
      if (!(await removeWebhook(db, id))) return noSuchWebhook(id);
      await appendAudit(db, { action: "webhooks.remove", outcome: "succeeded", actorEmail: session.actor.label, subject: `webhook ${id}`, details: { id } });
      console.log(`webhook ${id} removed`);
    }),
  );

program
  .command("test")
  .description("send a test notice to one webhook (once, whatever its events) and say how it went")
  .argument("<id>")
  .action((value: string) =>
    withSession(async (session) => {
      const id = webhookId(value);
      const outcome = await notifyWebhook(
        session.meta!.db,
        id,
        {
          event: "failure",
          target: null,
          title: "Lifeboat test notice",
          text: `This is a test from npm run webhook -- test ${id}; nothing failed.`,
          severity: "info",
          at: new Date(),
          fields: { test: true },
        },
        { attempts: 1, secretsKey: session.env.LIFEBOAT_SECRETS_KEY },
      );
      if (!outcome) return noSuchWebhook(id);
      if (outcome.status === "delivered") return console.log(`delivered to webhook ${id} (delivery ${outcome.deliveryId})`);
      console.log(`failed: ${outcome.lastError ?? "no reason recorded"} (delivery ${outcome.deliveryId})`);
      exitCode = 1;
    }),
  );

runCli(async () => {
  await program.parseAsync();
  return exitCode;
});
