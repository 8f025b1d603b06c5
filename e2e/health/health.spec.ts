import { expect, test } from "@playwright/test";
import { screenshotPage, signIn } from "../support/fixtures";
import { archiveASegment, queueOperation, recordArchiverSample, seriesPaths, waitForRun, warmUp } from "./ops-support";

test("[HEALTH] the charts draw real series from recorded backups, a drill and archiver samples", async ({ page }) => {
  test.setTimeout(300_000);
  await warmUp(page);
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
