import { expect, test } from "@playwright/test";
import { LocalCluster } from "../../lib/engine/cluster/local-cluster";
import { screenshot, signIn } from "../support/fixtures";

test("[OVERVIEW] admin signs in and sees the target's server version", async ({ page }) => {
  await signIn(page, "admin");
  await expect(page.getByTestId("connection-state")).toHaveText("connected");
  await expect(page.getByTestId("server-version")).toHaveText(/^PostgreSQL 1\d\.\d+$/);
  await expect(page.getByText("shop_owner@127.0.0.1:")).toBeVisible();
  const html = await page.content();
  expect(html).not.toContain(process.env.E2E_TARGET_PASSWORD!);
  await screenshot(page, "overview");
});

test("[OVERVIEW] a viewer sees the overview too", async ({ page }) => {
  await signIn(page, "viewer");
  await expect(page.getByTestId("signed-in-as")).toContainText("viewer");
  await expect(page.getByTestId("server-version")).toBeVisible();
});

test("[OVERVIEW] an unreachable target shows a cannot-connect card", async ({ page }) => {
  const target = await LocalCluster.existing({ baseDir: process.env.E2E_TARGET_BASEDIR! });
  if (!target) throw new Error("the e2e target cluster is missing");
  await signIn(page, "operator");
  await target.stop();
  try {
    await page.reload();
    await expect(page.getByTestId("connection-state")).toHaveText("unreachable");
    await expect(page.getByTestId("connection-error")).toContainText(`cannot connect: nothing is listening on 127.0.0.1:${target.port}`);
    await screenshot(page, "overview-unreachable");
  } finally {
    await target.start();
  }
});
