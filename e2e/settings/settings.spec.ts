import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { expect, test } from "@playwright/test";
import { screenshotPage, signIn } from "../support/fixtures";
import { callServerAction, metadataQuery, serverActionId, warmUp } from "../health/ops-support";

const ACTIONS_FILE = "app/(dashboard)/settings/actions.ts";

async function scheduleOf(kind: string): Promise<{ id: number; cron: string }> {
  const [row] = await metadataQuery<{ id: number; cron: string }>(
    "select s.id, s.cron from schedules s join targets t on t.id = s.target_id where t.name = 'shop' and s.kind = $1 order by s.id limit 1",
    [kind],
  );
  if (!row) throw new Error(`the shop target has no ${kind} schedule`);
  return row;
}

// A server that just started can get the first click before the sign-in page is interactive.
test.beforeEach(async ({ page }) => warmUp(page));

test("[SETTINGS] an admin edits a schedule's cron: an invalid one is refused with a message, a valid one shows words and the next three times and persists", async ({
  page,
}) => {
  await signIn(page, "admin");
  await page.goto("/settings");
  const row = page.locator('[data-testid="schedule"][data-target="shop"][data-kind="verify"]');
  await row.getByRole("button", { name: "Edit the verify schedule of shop" }).click();
  const cron = row.getByLabel(/^Cron/);

  await cron.fill("61 2 * * *");
  await expect(row.getByTestId("cron-preview")).toContainText("is not a valid cron schedule");
  await row.getByRole("button", { name: "Save schedule" }).click();
  await expect(row.getByRole("alert")).toContainText('"61 2 * * *" is not a valid cron schedule');
  await cron.fill("every day");
  await row.getByRole("button", { name: "Save schedule" }).click();
  await expect(row.getByRole("alert")).toContainText("it needs five fields");

  await cron.fill("15 5 2 * *");
  const preview = row.getByTestId("cron-preview");
  await expect(preview).toContainText("At 05:15, on day 2 of the month");
  await expect(preview.getByTestId("next-runs").locator("li")).toHaveCount(3);
  await expect(preview.getByTestId("next-runs").locator("li").first()).toContainText(/^\d{4}-\d{2}-02 05:15 UTC$/);
  await row.getByRole("button", { name: "Save schedule" }).click();
  await expect(row.getByTestId("schedule-cron")).toHaveText("15 5 2 * *");
  await expect(row.getByTestId("schedule-words")).toHaveText("At 05:15, on day 2 of the month");
  await expect(row.getByTestId("next-runs").locator("li")).toHaveCount(3);

  await page.reload();
  await expect(page.locator('[data-testid="schedule"][data-target="shop"][data-kind="verify"]').getByTestId("schedule-cron")).toHaveText("15 5 2 * *");
  expect((await scheduleOf("verify")).cron).toBe("15 5 2 * *");
  const [audit] = await metadataQuery<{ outcome: string; actor_email: string }>(
    "select outcome, actor_email from audit_log where action = 'schedules.manage' order by id desc limit 1",
  );
  expect(audit).toEqual({ outcome: "succeeded", actor_email: "admin@e2e.test" });
  await screenshotPage(page, "settings");
});

test("[SETTINGS] a viewer sees settings read-only and cannot change a schedule, even by calling the action", async ({ page }) => {
  await signIn(page, "viewer");
  await page.goto("/settings");
  await expect(page.getByText("Read-only for your role (viewer)")).toBeVisible();
  await expect(page.getByTestId("schedule").first()).toBeVisible();
  await expect(page.getByRole("button", { name: /^Edit/ })).toHaveCount(0);
  await expect(page.getByRole("button", { name: /Add a target|Save|Remove|Preview cleanup|Add webhook/ })).toHaveCount(0);

  const before = await scheduleOf("backup");
  const id = await serverActionId("saveScheduleAction", ACTIONS_FILE);
  const answer = await callServerAction(page, "/settings", id, [{ id: before.id, cron: "* * * * *", timezone: "UTC", enabled: true }]);
  expect(answer).toContain('"code":"FORBIDDEN"');
  expect(answer).toContain("Your role (viewer) may not do this: it needs schedules.manage.");
  expect((await scheduleOf("backup")).cron).toBe(before.cron);
  const [audit] = await metadataQuery<{ outcome: string; actor_email: string }>(
    "select outcome, actor_email from audit_log where action = 'schedules.manage' order by id desc limit 1",
  );
  expect(audit).toEqual({ outcome: "denied", actor_email: "viewer@e2e.test" });
});

test("[SETTINGS] adding a target with a wrong password shows the connection error, and no password reaches the page", async ({ page }) => {
  const wrong = `wrong-${Date.now()}-pw`;
  const right = process.env.E2E_TARGET_PASSWORD!;
  await signIn(page, "admin");
  await page.goto("/settings");
  await page.getByRole("button", { name: "Add a target" }).click();
  const form = page.getByRole("form", { name: "Add a target" });
  await form.getByLabel(/^Name/).fill("shop-copy");
  await form.getByLabel("Host").fill("127.0.0.1");
  await form.getByLabel("Port").fill(process.env.E2E_TARGET_PORT!);
  await form.getByLabel("Database").fill("shop");
  await form.getByLabel("User").fill("shop_owner");
  await form.getByLabel("Password", { exact: true }).fill(wrong);
  await form.getByRole("button", { name: "Test connection" }).click();
  await expect(form.getByTestId("target-outcome")).toContainText('cannot connect: password authentication failed for user "shop_owner"');
  await form.getByRole("button", { name: "Save target" }).click();
  await expect(form.getByTestId("target-outcome")).toContainText("Not saved: cannot connect: password authentication failed");
  expect(await page.content()).not.toContain(wrong);
  expect(await metadataQuery("select 1 from targets where name = 'shop-copy'")).toHaveLength(0);

  // The right password: connected, saved sealed, never shown again.
  await form.getByLabel("Password", { exact: true }).fill(right);
  await form.getByRole("button", { name: "Test connection" }).click();
  await expect(form.getByTestId("target-outcome")).toContainText(/Connected: PostgreSQL 1\d/);
  await form.getByRole("button", { name: "Save target" }).click();
  const saved = page.locator('[data-testid="target-row"][data-target="shop-copy"]');
  await expect(saved).toContainText("Password: stored sealed");
  const [row] = await metadataQuery<{ password_ref: string }>("select password_ref from targets where name = 'shop-copy'");
  expect(row!.password_ref).toMatch(/^enc:v1:/);
  await page.reload();
  expect(await page.content()).not.toContain(right);
  expect(await page.content()).not.toContain(wrong);

  // Forget it again (other specs expect the one target).
  await saved.getByRole("button", { name: "Remove target shop-copy" }).click();
  await saved.getByRole("button", { name: "Remove shop-copy" }).click();
  await expect(saved).toHaveCount(0);
  expect(await metadataQuery("select 1 from targets where name = 'shop-copy'")).toHaveLength(0);
});

test("[SETTINGS] an admin adds a webhook (the URL stays write-only) and sends it a test notice", async ({ page }) => {
  const received: { path: string; body: string }[] = [];
  const server = createServer((request: IncomingMessage, response) => {
    let body = "";
    request.on("data", (chunk: Buffer) => (body += chunk.toString()));
    request.on("end", () => {
      received.push({ path: request.url ?? "", body });
      response.writeHead(200).end("ok");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const secretPath = `/hook/${Date.now()}-secret-token`;
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}${secretPath}`;
  try {
    await signIn(page, "admin");
    await page.goto("/settings");
    const add = page.getByRole("form", { name: "Add a webhook" });
    await add.getByLabel(/^URL/).fill(url);
    await add.getByRole("button", { name: "Add webhook" }).click();
    const hook = page.getByTestId("webhook").filter({ hasText: `127.0.0.1:${(server.address() as AddressInfo).port}/…` });
    await expect(hook).toBeVisible();
    await hook.getByRole("button", { name: "Send a test" }).click();
    await expect(hook.getByRole("status")).toHaveText("Test notice delivered.");
    expect(received.at(-1)?.path).toBe(secretPath);
    expect(received.at(-1)?.body).toContain("Lifeboat test notice");
    await page.reload();
    expect(await page.content()).not.toContain(secretPath);
    await expect(page.getByTestId("webhook").filter({ hasText: `127.0.0.1:${(server.address() as AddressInfo).port}/…` })).toContainText("delivered");
    await page
      .getByTestId("webhook")
      .filter({ hasText: `127.0.0.1:${(server.address() as AddressInfo).port}/…` })
      .getByRole("button", { name: /^Remove webhook/ })
      .click();
    await expect(page.getByTestId("webhook").filter({ hasText: `127.0.0.1:${(server.address() as AddressInfo).port}/…` })).toHaveCount(0);
  } finally {
    server.close();
  }
});

test("[SETTINGS] an admin previews what a cleanup would delete (dry run: nothing deleted)", async ({ page }) => {
  test.setTimeout(120_000);
  await signIn(page, "admin");
  await page.goto("/settings");
  const retention = page.locator('[data-testid="retention"][data-target="shop"]');
  await retention.getByRole("button", { name: "Preview cleanup (dry run)" }).click();
  const preview = retention.getByTestId("retention-preview");
  await expect(preview.getByTestId("run-progress")).toHaveAttribute("data-status", "succeeded", { timeout: 90_000 });
  await expect(preview).toContainText(/A cleanup now would delete \d+ backup\(s\) and \d+ WAL file\(s\), freeing .*; it keeps \d+\. Nothing was deleted\./);
  const [run] = await metadataQuery<{ dry_run: boolean }>(
    "select (result->>'dry_run')::boolean as dry_run from runs where kind = 'cleanup' order by id desc limit 1",
  );
  expect(run!.dry_run).toBe(true);
});
