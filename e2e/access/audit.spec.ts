import { expect, test } from "@playwright/test";
import { screenshotPage, signIn } from "../support/fixtures";
import { metadataQuery } from "./helpers";

test("[AUDIT] the admin filters the audit log and exports it as CSV; a viewer may not export", async ({ page, browser }) => {
  await signIn(page, "admin");
  await page.goto("/audit");
  await page.getByLabel("Action").fill("auth.sign-in");
  await page.getByLabel("Outcome").selectOption("succeeded");
  await page.getByRole("button", { name: "Filter" }).click();
  await expect(page).toHaveURL(/action=auth\.sign-in/);
  const table = page.getByRole("table");
  await expect(table.getByRole("row").nth(1)).toContainText("auth.sign-in");
  await expect(table.locator("[data-state]").filter({ hasNotText: "succeeded" })).toHaveCount(0);
  await expect(table).toContainText("admin@e2e.test");

  const csv = await page.request.get("/api/audit/export?action=auth.sign-in&outcome=succeeded");
  expect(csv.status()).toBe(200);
  expect(csv.headers()["content-type"]).toContain("text/csv");
  const lines = (await csv.text()).trim().split("\r\n");
  expect(lines[0]).toBe("id,at,actor_id,actor_email,action,outcome,subject,details,prev_hash,hash");
  expect(lines.length).toBeGreaterThan(1);
  for (const line of lines.slice(1)) expect(line).toContain('"auth.sign-in","succeeded"');

  const viewer = await browser.newContext();
  const viewerPage = await viewer.newPage();
  await signIn(viewerPage, "viewer");
  expect((await viewerPage.request.get("/api/audit/export")).status()).toBe(403);
  await viewer.close();
  const exports = await metadataQuery<{ actor_email: string; outcome: string }>(
    "select actor_email, outcome from audit_log where action = 'audit.export' order by id desc limit 2",
  );
  expect(exports).toEqual([
    { actor_email: "viewer@e2e.test", outcome: "denied" },
    { actor_email: "admin@e2e.test", outcome: "succeeded" },
  ]);
});

test("[AUDIT] the chain verifier reports an intact chain, then names the row altered in the database", async ({ page }) => {
  await signIn(page, "admin");
  await page.goto("/audit");
  await screenshotPage(page, "audit");
  const report = page.getByTestId("chain-report");
  await page.getByRole("button", { name: "Verify chain" }).click();
  await expect(report).toContainText(/Audit log intact: \d+ rows, sealed/);

  const [target] = await metadataQuery<{ id: string; subject: string | null }>("select id, subject from audit_log order by id desc offset 2 limit 1");
  const id = Number(target!.id);
  await metadataQuery("update audit_log set subject = 'edited behind Lifeboat''s back' where id = $1", [id]);
  try {
    await page.getByRole("button", { name: "Verify chain" }).click();
    await expect(report).toContainText(`Audit log broken at row ${id}: the row content does not match its sealed hash (the row was edited).`);
  } finally {
    // Put it back: the chain is whole again, for the specs that run after this one.
    await metadataQuery("update audit_log set subject = $2 where id = $1", [id, target!.subject]);
  }
  await page.getByRole("button", { name: "Verify chain" }).click();
  await expect(report).toContainText("Audit log intact");
});
