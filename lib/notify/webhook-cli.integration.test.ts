import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { eq, inArray } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { auditLog, deliveries, webhooks } from "@/lib/db/schema";
import { createTestMetadataDb, type TestMetadataDb } from "@/test/helpers/metadata-db";
import { deadPort, startTestReceiver, type TestReceiver } from "./test-receiver";

const repo = path.resolve(import.meta.dirname, "..", "..");
const tsx = path.join(repo, "node_modules", ".bin", "tsx");
const KEY = randomBytes(32).toString("base64");
const SLACK_PATH = "/services/T0LIFEBOAT/B0LIFEBOAT/slackSecretToken123";

type CliResult = { code: number | null; stdout: string; stderr: string };

/** npm run webhook -- …, as a person runs it (no .env: the variables are given here). */
describe("npm run webhook (add, list, remove, test)", () => {
  let meta: TestMetadataDb;
  let receiver: TestReceiver;
  let work: string;

  const cli = (args: string[], options: { stdin?: string; env?: Record<string, string | undefined> } = {}): Promise<CliResult> =>
    new Promise((resolve, reject) => {
      const child = spawn(tsx, [path.join(repo, "cli", "webhook.ts"), ...args], {
        cwd: repo,
        env: {
          NODE_ENV: "test",
          PATH: process.env.PATH,
          HOME: process.env.HOME,
          DATABASE_URL: meta.url,
          LOG_DIR: path.join(work, "logs"),
          LIFEBOAT_SECRETS_KEY: KEY,
          ...options.env,
        },
        stdio: ["pipe", "pipe", "pipe"],
      });
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
      child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
      const timer = setTimeout(() => {
        child.kill("SIGKILL");
        reject(new Error(`webhook ${args.join(" ")} did not finish within 60 s`));
      }, 60_000);
      child.on("close", (code) => {
        clearTimeout(timer);
        resolve({ code, stdout, stderr });
      });
      child.stdin.end(options.stdin ?? "");
    });

  const rows = () => meta.db.select().from(webhooks).orderBy(webhooks.id);
  const audits = async () =>
    (
      await meta.db
        .select()
        .from(auditLog)
        .where(inArray(auditLog.action, ["webhooks.save", "webhooks.remove"]))
        .orderBy(auditLog.id)
    ).map((a) => `${a.action} ${a.subject}`);

  beforeAll(async () => {
    meta = await createTestMetadataDb();
    receiver = await startTestReceiver();
    work = await mkdtemp(path.join(os.tmpdir(), "lifeboat-webhook-cli-"));
  });
  afterAll(async () => {
    await receiver?.close();
    await meta?.drop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it("adds, lists masked, tests, and removes a webhook; refuses bad input changing nothing", async () => {
    // Bad input first: each refused in one clear line, exit 2, nothing stored.
    const badEvent = await cli(["add", receiver.url("/json"), "--events", "failure,boom"]);
    expect(badEvent.code).toBe(2);
    expect(badEvent.stderr).toContain('unknown event "boom": the events are failure, critical and drill. Nothing was changed.');
    const badScheme = await cli(["add", "ftp://files.example.com/secret-path"]);
    expect(badScheme.code).toBe(2);
    expect(badScheme.stderr).toContain("url must be an http:// or https:// URL. Nothing was changed.");
    expect(badScheme.stderr).not.toContain("secret-path");
    const badFormat = await cli(["add", receiver.url("/json"), "--format", "xml"]);
    expect(badFormat.code).toBe(2);
    expect(badFormat.stderr).toContain("format must be json or slack");
    const slackOnArgv = await cli(["add", receiver.url(SLACK_PATH), "--format", "slack"]);
    expect(slackOnArgv.code).toBe(2);
    expect(slackOnArgv.stderr).toContain("A Slack webhook URL is a secret: give it on standard input");
    expect(slackOnArgv.stderr).not.toContain("slackSecretToken123");
    const noKey = await cli(["add", receiver.url("/json")], { env: { LIFEBOAT_SECRETS_KEY: undefined } });
    expect(noKey.code).toBe(1);
    expect(noKey.stderr).toContain("LIFEBOAT_SECRETS_KEY is required: webhook URLs are stored sealed with it");
    expect(await rows()).toHaveLength(0);
    expect(await audits()).toEqual([]);

    // A JSON webhook on the command line, a Slack one on standard input.
    const json = await cli(["add", receiver.url("/json"), "--events", "failure,drill"]);
    expect(json.code, json.stderr).toBe(0);
    expect(json.stdout).toContain(`webhook 1 added (http://127.0.0.1:${receiver.port}/…, json, failure, drill)`);
    const slack = await cli(["add", "--format", "slack"], { stdin: `${receiver.url(SLACK_PATH)}\n` });
    expect(slack.code, slack.stderr).toBe(0);
    expect(slack.stdout).toContain("webhook 2 added");
    // Adding the same URL again updates it instead of notifying twice.
    const again = await cli(["add", receiver.url("/json"), "--events", "failure"]);
    expect(again.stdout).toContain("webhook 1 updated");
    const stored = await rows();
    expect(stored.map((w) => [w.id, w.format, w.events])).toEqual([
      [1, "json", ["failure"]],
      [2, "slack", []],
    ]);
    expect(JSON.stringify(stored)).not.toContain("slackSecretToken123");

    const list = await cli(["list"]);
    expect(list.code).toBe(0);
    const lines = list.stdout.trim().split("\n");
    expect(lines[0]).toBe("ID\tURL\tFORMAT\tEVENTS\tENABLED\tLAST DELIVERY");
    expect(lines[1]).toBe(`1\thttp://127.0.0.1:${receiver.port}/…\tjson\tfailure\tyes\tnever`);
    expect(lines[2]).toBe(`2\thttp://127.0.0.1:${receiver.port}/…\tslack\tall\tyes\tnever`);
    expect(list.stdout + list.stderr).not.toContain("slackSecretToken123");

    // test: a real POST to the receiver, reported and recorded.
    const tested = await cli(["test", "2"]);
    expect(tested.code, tested.stderr).toBe(0);
    expect(tested.stdout).toMatch(/^delivered to webhook 2 \(delivery \d+\)/);
    const [request] = await receiver.waitFor(1);
    expect(request!.path).toBe(SLACK_PATH);
    expect(request!.json).toMatchObject({ text: expect.stringContaining("Lifeboat test notice") });
    expect((await cli(["list"])).stdout).toMatch(/\n2\t.*\tdelivered \S+ \(1 attempt\(s\)\)/);

    const port = await deadPort();
    const dead = await cli(["add", `http://127.0.0.1:${port}/gone`]);
    expect(dead.stdout).toContain("webhook 3 added");
    const failed = await cli(["test", "3"]);
    expect(failed.code).toBe(1);
    expect(failed.stdout).toMatch(/^failed: fetch failed: connect ECONNREFUSED 127\.0\.0\.1:\d+ \(delivery \d+\)/);
    expect(failed.stdout).not.toContain("/gone");

    const removed = await cli(["remove", "1"]);
    expect(removed.code).toBe(0);
    expect(removed.stdout).toContain("webhook 1 removed");
    const missing = await cli(["remove", "1"]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("there is no webhook 1");
    const notAnId = await cli(["remove", "first"]);
    expect(notAnId.code).toBe(2);
    expect((await rows()).map((w) => w.id)).toEqual([2, 3]);
    expect(await meta.db.select().from(deliveries).where(eq(deliveries.webhookId, 1))).toHaveLength(0);

    expect(await audits()).toEqual([
      "webhooks.save webhook 1",
      "webhooks.save webhook 2",
      "webhooks.save webhook 1",
      "webhooks.save webhook 3",
      "webhooks.remove webhook 1",
    ]);
    const audited = await meta.db.select().from(auditLog).where(eq(auditLog.subject, "webhook 2"));
    expect(JSON.stringify(audited)).not.toContain("slackSecretToken123");
    expect(audited[0]!.details).toMatchObject({ url: `http://127.0.0.1:${receiver.port}/…`, format: "slack" });
  });
});
