import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { eq } from "drizzle-orm";
import { z } from "zod";
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { deliveries, webhooks } from "@/lib/db/schema";
import { parseEnv } from "@/lib/env";
import { BackupLog } from "@/lib/log/backup-log";
import { runOperation, type Actor } from "@/lib/operations";
import { backupOperation } from "@/lib/operations/backup";
import type { OperationDefinition } from "@/lib/operations/types";
import { createTestMetadataDb, type TestMetadataDb } from "@/test/helpers/metadata-db";
import { notify, notifyInBackground, settleNotifications, type NotificationEvent } from "./notify";
import { deadPort, startTestReceiver, type TestReceiver } from "./test-receiver";
import { saveWebhook, ZWebhookRequest } from "./webhooks";

const KEY = randomBytes(32).toString("base64");
const FAST = { secretsKey: KEY, backoffMs: 20, timeoutMs: 2_000 };
const TOKEN = "T000/B000/XXXXsecretXXXX";

const failure = (overrides: Partial<NotificationEvent> = {}): NotificationEvent => ({
  event: "failure",
  target: "app",
  title: "Backup of app FAILED",
  text: "The backup of app failed: the server refused the connection. Fix the cause and run it again.",
  severity: "critical",
  at: new Date("2026-01-15T02:00:03.000Z"),
  runId: 42,
  fields: { operation: "backup", status: "failed", bytes: 0, gone: undefined },
  ...overrides,
});

describe("webhook notifications (issue 10)", () => {
  let meta: TestMetadataDb;
  let receiver: TestReceiver;

  const add = async (url: string, options: { format?: string; events?: string[] } = {}) =>
    (await saveWebhook(meta.db, ZWebhookRequest.parse({ url, ...options }), KEY)).id;
  const deliveryOf = async (id: number) => (await meta.db.select().from(deliveries).where(eq(deliveries.id, id)))[0]!;

  beforeAll(async () => {
    meta = await createTestMetadataDb();
  });
  afterAll(async () => {
    await receiver?.close();
    await meta?.drop();
  });
  beforeEach(async () => {
    await receiver?.close();
    receiver = await startTestReceiver();
    await meta.db.delete(webhooks);
  });

  it("posts the generic JSON notice to a localhost receiver and records the delivery", async () => {
    const id = await add(receiver.url(`/hooks/${TOKEN}`));
    const [outcome] = await notify(meta.db, failure(), FAST);

    expect(outcome).toMatchObject({ webhookId: id, status: "delivered" });
    const [request] = await receiver.waitFor(1);
    expect(request!.path).toBe(`/hooks/${TOKEN}`);
    expect(request!.headers["content-type"]).toBe("application/json");
    expect(request!.json).toEqual({
      event: "failure",
      target: "app",
      title: "Backup of app FAILED",
      text: "The backup of app failed: the server refused the connection. Fix the cause and run it again.",
      severity: "critical",
      at: "2026-01-15T02:00:03.000Z",
      runId: 42,
      fields: { operation: "backup", status: "failed", bytes: 0 },
    });
    const delivery = await deliveryOf(outcome!.deliveryId);
    expect(delivery).toMatchObject({ webhookId: id, event: "failure", status: "delivered", attempts: 1, lastError: null });
    expect(delivery.deliveredAt).toBeInstanceOf(Date);
    expect(delivery.payload).toEqual(request!.json);
    // The URL is stored sealed: the metadata database does not hold the token.
    const [row] = await meta.db.select().from(webhooks).where(eq(webhooks.id, id));
    expect(row!.url).toMatch(/^enc:v1:/);
    expect(row!.url).not.toContain("secret");
  });

  it("sends a Slack-compatible {text, blocks} message to a slack webhook", async () => {
    await add(receiver.url("/services/T000/B000/slack"), { format: "slack" });
    const [outcome] = await notify(meta.db, failure({ text: "Disk <full> & more." }), FAST);

    expect(outcome?.status).toBe("delivered");
    const body = (await receiver.waitFor(1))[0]!.json as { text: string; blocks: { type: string; text?: { text: string } }[] };
    expect(body.text).toBe("Backup of app FAILED\nDisk <full> & more.");
    expect(body.blocks[0]).toEqual({ type: "section", text: { type: "mrkdwn", text: "*Backup of app FAILED*\nDisk &lt;full&gt; &amp; more." } });
    expect(body.blocks.map((b) => b.type)).toEqual(["section", "section", "context"]);
    expect(Object.keys(body).sort()).toEqual(["blocks", "text"]);
  });

  it("retries a receiver that answers 500 twice, then 200, and records three attempts", async () => {
    await add(receiver.url("/flaky"));
    receiver.answers.push(500, 500);
    const [outcome] = await notify(meta.db, failure(), FAST);

    expect(outcome?.status).toBe("delivered");
    expect(await receiver.waitFor(3)).toHaveLength(3);
    expect(await deliveryOf(outcome!.deliveryId)).toMatchObject({ status: "delivered", attempts: 3, lastError: null });
  });

  it("ends failed against a dead port, with the reason and without the URL [S24]", async () => {
    const port = await deadPort();
    await add(`http://127.0.0.1:${port}/hooks/${TOKEN}?token=hunter22`);
    const [outcome] = await notify(meta.db, failure(), { ...FAST, attempts: 3 });

    expect(outcome?.status).toBe("failed");
    const delivery = await deliveryOf(outcome!.deliveryId);
    expect(delivery).toMatchObject({ status: "failed", attempts: 3 });
    expect(delivery.deliveredAt).toBeNull();
    expect(delivery.lastError).toMatch(/ECONNREFUSED/);
    for (const secret of [TOKEN, "hunter22", "/hooks"]) expect(delivery.lastError).not.toContain(secret);
    expect(JSON.stringify(delivery)).not.toContain("hunter22");
  });

  it("reports a receiver's refusal and a receiver that never answers, each bounded", async () => {
    await add(receiver.url("/refuses"));
    receiver.answers.push(404, 404);
    const [refused] = await notify(meta.db, failure(), { ...FAST, attempts: 2 });
    expect(await deliveryOf(refused!.deliveryId)).toMatchObject({ status: "failed", attempts: 2, lastError: "HTTP 404 Not Found: receiver says no" });

    await meta.db.delete(webhooks);
    await add(receiver.url("/hangs"));
    receiver.answers.push("hang");
    const started = Date.now();
    const [hung] = await notify(meta.db, failure(), { ...FAST, attempts: 1, timeoutMs: 300 });
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(await deliveryOf(hung!.deliveryId)).toMatchObject({ status: "failed", attempts: 1, lastError: "no answer within 0.3 s" });
  });

  it("respects each webhook's events, and a disabled webhook gets nothing", async () => {
    const drillsOnly = await add(receiver.url("/drills"), { events: ["drill"] });
    const everything = await add(receiver.url("/all"));
    const disabled = await add(receiver.url("/disabled"));
    await meta.db.update(webhooks).set({ enabled: false }).where(eq(webhooks.id, disabled));

    const onFailure = await notify(meta.db, failure(), FAST);
    expect(onFailure.map((o) => o.webhookId)).toEqual([everything]);
    const onDrill = await notify(meta.db, failure({ event: "drill", title: "Restore drill of app passed", severity: "info" }), FAST);
    expect(onDrill.map((o) => o.webhookId).sort()).toEqual([drillsOnly, everything].sort());

    await receiver.waitFor(3);
    expect(receiver.received[0]!.path).toBe("/all");
    expect(receiver.received.map((r) => r.path).sort()).toEqual(["/all", "/all", "/drills"]);
    expect(await meta.db.select().from(deliveries).where(eq(deliveries.webhookId, disabled))).toHaveLength(0);
  });

  it("records a failed delivery and sends nothing when the URL cannot be opened (another key)", async () => {
    await add(receiver.url("/sealed"));
    const [outcome] = await notify(meta.db, failure(), { ...FAST, secretsKey: randomBytes(32).toString("base64") });

    expect(outcome?.status).toBe("failed");
    expect((await deliveryOf(outcome!.deliveryId)).lastError).toMatch(/cannot be opened \(stored under another LIFEBOAT_SECRETS_KEY, or edited\)/);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(receiver.received).toHaveLength(0);
  });

  it("never throws: a metadata database that is gone yields no deliveries and a warning", async () => {
    const gone = await createTestMetadataDb();
    await gone.drop();
    const warnings: string[] = [];
    const spy = vi.spyOn(console, "warn").mockImplementation((message: string) => void warnings.push(message));
    try {
      await expect(notify(gone.db, failure(), FAST)).resolves.toEqual([]);
    } finally {
      spy.mockRestore();
    }
    expect(warnings).toEqual([expect.stringMatching(/^lifeboat: the notification "Backup of app FAILED" was not sent: Cannot use a pool after calling end/)]);
  });
});

/** The "done when": a real operation fails, and a webhook receiver on localhost gets the failure notice. */
describe("operations notify through runOperation", () => {
  const PASSWORD = "s3cret-Pw'42";
  const actor: Actor = { label: "test", userId: null, role: null, via: "cli" };
  let meta: TestMetadataDb;
  let receiver: TestReceiver;
  let work: string;
  let vars: Record<string, string>;

  beforeAll(async () => {
    meta = await createTestMetadataDb();
    receiver = await startTestReceiver();
    work = await mkdtemp(path.join(os.tmpdir(), "lifeboat-notify-"));
    vars = {
      DATABASE_URL: meta.url,
      DB_HOST: "127.0.0.1",
      DB_PORT: String(await deadPort()),
      DB_NAME: "app",
      DB_USER: "app",
      DB_PASSWORD: PASSWORD,
      DB_TARGET_NAME: "app",
      BACKUP_DIR: path.join(work, "backups"),
      LOG_DIR: path.join(work, "logs"),
      LIFEBOAT_SECRETS_KEY: KEY,
    };
    await saveWebhook(meta.db, ZWebhookRequest.parse({ url: receiver.url("/ops") }), KEY);
  });
  afterAll(async () => {
    await settleNotifications(5_000);
    await receiver?.close();
    await meta?.drop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  const services = () => ({ env: parseEnv(vars), meta, log: new BackupLog(vars.LOG_DIR!, [PASSWORD]) });

  it("a backup whose database is unreachable sends the failure notice with the target and the error, and no password [S24]", async () => {
    receiver.received.length = 0;
    const outcome = await runOperation(backupOperation, {}, { actor, services: services() });
    expect(outcome.status).toBe("failed");
    const error = outcome.error?.message ?? outcome.verdict?.error;
    expect(error).toBeTruthy();

    // Sent in the background, so runOperation did not wait for it; settle it (bounded) like a CLI session does.
    expect(await settleNotifications(20_000)).toBe(0);
    const [request] = await receiver.waitFor(1);
    const notice = request!.json as Record<string, unknown>;
    expect(notice).toMatchObject({ event: "failure", target: "app", severity: "critical", title: "Backup of app FAILED", runId: outcome.runId });
    expect(notice.text).toContain(error!.replace(/\.$/, ""));
    expect(notice.text).toMatch(/^The backup of app failed: .*nothing is listening on 127\.0\.0\.1:\d+/);
    expect(notice.text).toContain("npm run backup -- --target app");
    expect(notice.fields).toMatchObject({ operation: "backup", status: "failed" });
    expect(request!.body).not.toContain(PASSWORD);
    const [delivery] = await meta.db.select().from(deliveries);
    expect(delivery).toMatchObject({ event: "failure", status: "delivered", attempts: 1 });
  });

  it("a restore drill sends its result as a drill notice; a refusal sends nothing", async () => {
    const fakeDrill: OperationDefinition<{ target?: string | undefined; fail?: boolean | undefined }, { ok: boolean }> = {
      kind: "verify",
      action: "backups.verify",
      permission: "backups.verify",
      input: z.object({ target: z.string().optional(), fail: z.boolean().optional() }).strict(),
      lock: false,
      params: () => ({}),
      run: async (_context, input) => ({ ok: !input.fail }),
      verdict: (result) => ({
        ok: result.ok,
        error: result.ok ? undefined : `table users: 3 rows, expected 4 (password ${PASSWORD} was here)`,
        fields: { file: "full_backup_2026-01-15T02-00-00Z.dump", tables: 4, rto_full_ms: 12_300 },
      }),
    };
    receiver.received.length = 0;

    expect((await runOperation(fakeDrill, {}, { actor, services: services() })).status).toBe("succeeded");
    expect((await runOperation(fakeDrill, { fail: true }, { actor, services: services() })).status).toBe("failed");
    expect((await runOperation(fakeDrill, { unknown: 1 }, { actor, services: services() })).status).toBe("invalid");
    expect(await settleNotifications(20_000)).toBe(0);

    const notices = (await receiver.waitFor(3)).map((r) => r.json as Record<string, unknown>);
    const byTitle = Object.fromEntries(notices.map((n) => [n.title, n]));
    expect(Object.keys(byTitle).sort()).toEqual(["Restore drill of app FAILED", "Restore drill of app passed", "Verify of app FAILED"]);
    expect(byTitle["Restore drill of app passed"]).toMatchObject({
      event: "drill",
      severity: "info",
      fields: { status: "succeeded", tables: 4, rto_full_ms: 12_300 },
    });
    expect(byTitle["Restore drill of app passed"]!.text).toContain("full restore in 12.3 s");
    expect(byTitle["Restore drill of app FAILED"]).toMatchObject({ event: "drill", severity: "critical" });
    expect(byTitle["Verify of app FAILED"]).toMatchObject({ event: "failure" });
    expect(JSON.stringify(notices)).not.toContain(PASSWORD);
    // The refusal (invalid input) sent nothing: three notices in all.
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(receiver.received).toHaveLength(3);
  });

  it("notifyInBackground is tracked until settled", async () => {
    receiver.received.length = 0;
    receiver.answers.push(500);
    notifyInBackground(meta.db, failure(), FAST);
    expect(await settleNotifications(10_000)).toBe(0);
    expect(receiver.received).toHaveLength(2);
  });
});
