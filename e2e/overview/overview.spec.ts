import { expect, test } from "@playwright/test";
import pg from "pg";
import { LocalCluster } from "../../lib/engine/cluster/local-cluster";
import { screenshot, screenshotPage, signIn } from "../support/fixtures";
import { archiveASegment, queueOperation, recordArchiverSample, warmUp } from "../health/ops-support";

const shopCard = (page: import("@playwright/test").Page) => page.getByRole("region", { name: "Target shop" });

// A server that just started can get the first click before the sign-in page is interactive.
test.beforeEach(async ({ page }) => warmUp(page));

test("[OVERVIEW] admin signs in and sees the target's server version", async ({ page }) => {
  await signIn(page, "admin");
  const card = shopCard(page);
  await expect(card.getByTestId("connection-state")).toHaveText("connected");
  await expect(card.getByTestId("server-version")).toHaveText(/^PostgreSQL 1\d\.\d+$/);
  await expect(card.getByText("shop_owner@127.0.0.1:")).toBeVisible();
  const html = await page.content();
  expect(html).not.toContain(process.env.E2E_TARGET_PASSWORD!);
  await screenshot(page, "overview");
});

test("[OVERVIEW] a viewer sees the overview too", async ({ page }) => {
  await signIn(page, "viewer");
  await expect(page.getByTestId("signed-in-as")).toContainText("viewer");
  await expect(shopCard(page).getByTestId("server-version")).toBeVisible();
});

test("[OVERVIEW] each target shows last success and next run per kind, RPO exposure, health, and running operations live", async ({ page }) => {
  test.setTimeout(180_000);
  await archiveASegment("e2e-overview");
  await recordArchiverSample();
  await signIn(page, "operator");
  // A table lock held by "the application": the backup waits for it (LIFEBOAT_LOCK_TIMEOUT), so it is seen running.
  const app = new pg.Client({
    host: "127.0.0.1",
    port: Number(process.env.E2E_TARGET_PORT),
    database: "shop",
    user: "shop_owner",
    password: process.env.E2E_TARGET_PASSWORD,
  });
  await app.connect();
  let runId: number;
  try {
    await app.query("begin");
    await app.query("lock table alerts in access exclusive mode");
    runId = await queueOperation(page, "backup", { target: "shop", kinds: ["full", "schema", "json"] });
    await page.goto("/");
    const active = page.getByTestId("active-runs").locator("li").filter({ hasText: "backup of shop" });
    await expect(active.getByTestId("run-progress")).toHaveAttribute("data-status", "running", { timeout: 30_000 });
    await expect(active.getByTestId("run-progress")).toContainText(`Run ${runId}`);
    await screenshotPage(page, "overview");
    await app.query("rollback");
    // Live: the same element turns succeeded without a reload.
    await expect(active.getByTestId("run-progress")).toHaveAttribute("data-status", "succeeded", { timeout: 60_000 });
  } finally {
    await app.end();
  }
  await page.reload();
  const card = shopCard(page);
  const full = card.getByTestId("kind-table").locator('tr[data-kind="full"]');
  await expect(full).toContainText(/ago · [\d.]+ (B|KiB|MiB)/);
  await expect(full).toContainText(/in [\d.]+ (s|min|h|days)At 02:00 \(UTC\)/);
  await expect(card.getByTestId("kind-table").locator('tr[data-kind="verify"]')).toContainText("At 04:00, on day 1 of the month");
  await expect(card.getByTestId("rpo-exposure")).toContainText(/of commits not archived \(target 60 min\)|not measured/);
  await expect(card.getByTestId("rpo-exposure")).toContainText(/Last archived [0-9A-F]{24}/);
  await expect(card.getByTestId("health-summary")).toContainText(/\d+ ok, \d+ warning, \d+ critical/);
  // Finished: no longer among the running operations once the page is loaded again.
  await expect(page.getByRole("region", { name: "Running operations" }).getByText(`Run ${runId!}`)).toHaveCount(0);
});

test("[OVERVIEW] an unreachable target shows a cannot-connect card", async ({ page }) => {
  const target = await LocalCluster.existing({ baseDir: process.env.E2E_TARGET_BASEDIR! });
  if (!target) throw new Error("the e2e target cluster is missing");
  await signIn(page, "operator");
  await target.stop();
  try {
    await page.reload();
    const card = shopCard(page);
    await expect(card.getByTestId("connection-state")).toHaveText("unreachable");
    await expect(card.getByTestId("connection-error")).toContainText(`cannot connect: nothing is listening on 127.0.0.1:${target.port}`);
    await screenshot(page, "overview-unreachable");
  } finally {
    await target.start();
  }
});
