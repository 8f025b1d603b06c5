import { expect, test } from "@playwright/test";
import { screenshotPage, signIn } from "../support/fixtures";
import { archiveASegment, metadataQuery, queueOperation, recordArchiverSample, seriesPaths, waitForRun, warmUp } from "./ops-support";

// A server that just started can get the first click before the sign-in page is interactive.
test.beforeEach(async ({ page }) => warmUp(page));

test("[HEALTH] the charts draw real series from recorded backups, a drill and archiver samples", async ({ page }) => {
  test.setTimeout(300_000);
  await signIn(page, "operator");
  // Real work through the dashboard's pipeline, run by the e2e worker: two backups and a restore drill.
  for (let i = 0; i < 2; i++) await waitForRun(page, await queueOperation(page, "backup", { target: "shop", kinds: ["full", "schema", "json"] }));
  await waitForRun(page, await queueOperation(page, "verify", { target: "shop", pitr: false }), 180_000);

  // Archiver samples as the worker takes them, around a segment switch that the archive receives.
  for (const label of ["e2e-health-1", "e2e-health-2"]) {
    await archiveASegment(label);
    await recordArchiverSample();
  }

  await page.goto("/health");
  await expect(page.getByRole("heading", { name: "Health", level: 1 })).toBeVisible();
  for (const chart of ["backup-size", "backup-duration", "segment-age", "disk-forecast"]) {
    await expect
      .poll(async () => (await seriesPaths(page, `chart-${chart}`)).filter((d) => /^M[\d.\-, ]+L/.test(d)).length, { message: chart })
      .toBeGreaterThan(0);
  }
  // Bars: one rectangle per hour (WAL) and per drill measure.
  for (const chart of ["wal-hourly", "drill-rto"]) {
    await expect
      .poll(async () => (await seriesPaths(page, `chart-${chart}`)).filter((d) => /^M\s*[\d.]/.test(d)).length, { message: chart })
      .toBeGreaterThan(0);
  }
  // One line per backup kind in the size chart, each through both backups.
  const sizeLines = (await seriesPaths(page, "chart-backup-size")).filter((d) => d.includes("L"));
  expect(sizeLines.length).toBeGreaterThanOrEqual(3);

  // Each check with its state and its sentence.
  const lastBackup = page.locator('[data-check="last-backup"]');
  await expect(lastBackup).toHaveAttribute("data-state", "ok");
  await expect(lastBackup).toContainText(/The last backup of shop \(run \d+\) succeeded\./);
  const rto = page.locator('[data-check="rto:full"]');
  await expect(rto).toContainText(/The last drill restored in .* \(target 30 min/);
  await expect(page.getByTestId("disk-summary")).toContainText(/used of .* free\); growing/);
  await screenshotPage(page, "health");
});

test("[HEALTH] a viewer sees the charts and checks too", async ({ page }) => {
  await signIn(page, "viewer");
  await page.goto("/health");
  await expect(page.getByTestId("health-checks")).toBeVisible();
  await expect(page.getByTestId("chart-disk-forecast")).toBeVisible();
});

test("[HEALTH] a target with nothing recorded yet gets empty states that say what to do", async ({ page }) => {
  // A second target as `npm run target -- add empty-e2e --host … ` (no password) would store it: nothing backed up, sampled or drilled.
  await metadataQuery("insert into targets (name, host, port, database, username) values ('empty-e2e', '127.0.0.1', $1, 'shop', 'shop_owner')", [
    Number(process.env.E2E_TARGET_PORT),
  ]);
  try {
    await signIn(page, "viewer");
    await page.goto("/health?target=empty-e2e");
    await expect(page.getByRole("navigation", { name: "Target" }).getByRole("link", { name: "empty-e2e" })).toHaveAttribute("aria-current", "page");
    await expect(page.getByRole("region", { name: "Backup size over time" })).toContainText("No backup yetRun one from the Backups page (or npm run backup)");
    await expect(page.getByRole("region", { name: "WAL archived and failed per hour" })).toContainText("Not enough archiver samples yet");
    await expect(page.getByRole("region", { name: "Restore drill RTO" })).toContainText("No restore drill yet");
    await expect(page.locator('[data-check="last-backup"]')).toHaveAttribute("data-state", "warning");
    await expect(page.locator('[data-check="last-backup"]')).toContainText("No backup of empty-e2e has run yet");
  } finally {
    await metadataQuery("delete from targets where name = 'empty-e2e'");
  }
});
