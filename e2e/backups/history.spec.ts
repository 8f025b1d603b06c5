import { expect, test } from "@playwright/test";
import { screenshotPage } from "../support/fixtures";
import { ensureBackup, metaQuery, newestArtifact, signInAs } from "./support";

test("[BACKUPS] an operator clicks Back up now and the new backups appear in the history with size and duration", async ({ page }) => {
  test.setTimeout(180_000);
  await signInAs(page, "operator");
  await page.goto("/backups");
  await expect(page.getByRole("heading", { name: "Backups" })).toBeVisible();
  // First in the run, the catalog is empty: the page says how to take the first backup.
  if ((await page.getByTestId("backup-row").count()) === 0) {
    await expect(page.getByText("No backups yet")).toBeVisible();
    await expect(page.getByText(/Take the first one with Back up now/)).toBeVisible();
    await screenshotPage(page, "backups-empty");
  }
  await page.getByRole("button", { name: "Back up now" }).click();
  const progress = page.getByTestId("backup-now-progress").getByTestId("run-progress");
  await expect(progress).toBeVisible();
  await expect(progress).toHaveAttribute("data-status", "succeeded", { timeout: 150_000 });
  const runId = (await progress.textContent())?.match(/Run (\d+)/)?.[1];
  expect(runId).toBeTruthy();

  // The page refreshed itself: the run's artifacts are rows, each with a size and a duration.
  const rows = page.locator(`[data-testid="backup-row"][data-run="${runId}"]`);
  await expect(rows.first()).toBeVisible();
  const full = rows.and(page.locator('[data-kind="full"]'));
  await expect(full).toHaveCount(1);
  await expect(full.getByTestId("backup-size")).toHaveText(/^\d+(\.\d)? (B|KiB|MiB|GiB)$/);
  await expect(full.getByTestId("backup-duration")).toHaveText(/^\d+(\.\d)? s$|min/);
  // Operators run backups but do not restore.
  await expect(page.getByRole("button", { name: "Restore…" })).toHaveCount(0);
  await screenshotPage(page, "backups");
});

test("[BACKUPS] a viewer sees the history but no restore or download control, and the download route refuses them (403, audited)", async ({ page, browser, playwright }) => {
  await ensureBackup(browser);
  const full = (await newestArtifact("full"))!;
  await signInAs(page, "viewer");
  await page.goto("/backups");
  await expect(page.getByTestId("backup-row").first()).toBeVisible();
  await expect(page.getByRole("button", { name: "Back up now" })).toHaveCount(0);
  await expect(page.getByRole("button", { name: "Restore…" })).toHaveCount(0);

  await page.goto(`/backups/${full.id}`);
  await expect(page.getByTestId("manifest-files")).toContainText(full.file_name);
  await expect(page.getByRole("link", { name: /Download/ })).toHaveCount(0);
  await expect(page.getByRole("button", { name: "Restore…" })).toHaveCount(0);

  const response = await page.request.get(`/api/backups/${full.id}/download`);
  expect(response.status()).toBe(403);
  expect(response.headers()["content-disposition"]).toBeUndefined();
  const audited = await metaQuery<{ n: string }>(
    "select count(*)::text as n from audit_log where action = 'backups.download' and outcome = 'denied' and actor_email = 'viewer@e2e.test'",
  );
  expect(Number(audited[0]!.n)).toBeGreaterThan(0);

  // The restore action itself refuses a viewer, and audits it, whatever the page shows.
  const restore = await page.request.post("/api/operations/restore", { data: { file: full.file_name, confirm: "shop" } });
  expect(restore.status()).toBe(403);
  const denied = await metaQuery<{ n: string }>(
    "select count(*)::text as n from audit_log where action = 'backups.restore.request' and outcome = 'denied' and actor_email = 'viewer@e2e.test'",
  );
  expect(Number(denied[0]!.n)).toBeGreaterThan(0);

  // Without a session: refused too (401 from the handler, or a 307 to sign-in should a proxy answer first).
  const anonymous = await playwright.request.newContext({ baseURL: test.info().project.use.baseURL });
  try {
    expect([401, 307]).toContain((await anonymous.get(`/api/backups/${full.id}/download`, { maxRedirects: 0 })).status());
    expect([401, 307]).toContain((await anonymous.post("/api/operations/restore", { data: { file: full.file_name, confirm: "shop" }, maxRedirects: 0 })).status());
  } finally {
    await anonymous.dispose();
  }
});

test("[BACKUPS] the detail shows the manifest and the run's log line, and an operator downloads the file", async ({ page, browser }) => {
  await ensureBackup(browser);
  const full = (await newestArtifact("full"))!;
  const [row] = await metaQuery<{ run_id: string; size_bytes: string }>("select run_id::text, size_bytes::text from backup_artifacts where id = $1", [full.id]);
  await signInAs(page, "operator");
  await page.goto("/backups?kind=full");
  await page.locator(`[data-testid="backup-row"]`).first().getByRole("link", { name: "Full dump" }).click();
  await expect(page).toHaveURL(new RegExp(`/backups/${full.id}$`));
  await expect(page.getByTestId("manifest-files")).toContainText(/[0-9a-f]{64}/);
  await expect(page.getByTestId("manifest-row-counts")).toContainText("public.users");
  await expect(page.getByText(/^PostgreSQL \d+/)).toBeVisible();
  await expect(page.getByTestId("run-log")).toContainText(`run=${row!.run_id}`);
  await expect(page.getByRole("link", { name: /Download/ })).toBeVisible();
  await screenshotPage(page, "backup-detail");

  const download = await page.request.get(`/api/backups/${full.id}/download`);
  expect(download.status()).toBe(200);
  expect(download.headers()["content-disposition"]).toBe(`attachment; filename="${full.file_name}"`);
  expect((await download.body()).length).toBe(Number(row!.size_bytes));
  const audited = await metaQuery<{ n: string }>(
    "select count(*)::text as n from audit_log where action = 'backups.download' and outcome = 'succeeded' and actor_email = 'operator@e2e.test'",
  );
  expect(Number(audited[0]!.n)).toBeGreaterThan(0);
});

test("[BACKUPS] filters and sorting live in the URL", async ({ page, browser }) => {
  await ensureBackup(browser);
  await signInAs(page, "viewer");
  await page.goto("/backups");
  await page.getByLabel("Kind").selectOption("json");
  await page.getByRole("button", { name: "Apply" }).click();
  await expect(page).toHaveURL(/kind=json/);
  await expect(page.getByLabel("Kind")).toHaveValue("json");
  await expect(page.locator('[data-testid="backup-row"][data-kind="json"]').first()).toBeVisible();
  await expect(page.locator('[data-testid="backup-row"]:not([data-kind="json"])')).toHaveCount(0);
  await page.getByRole("link", { name: /^Size/ }).click();
  await expect(page).toHaveURL(/sort=size/);
  await expect(page.getByRole("columnheader", { name: /Size/ })).toHaveAttribute("aria-sort", "descending");
  await page.goto("/backups?from=2001-01-01&to=2001-01-02");
  await expect(page.getByText("No backup matches these filters")).toBeVisible();
});
