import { expect, test, type Page } from "@playwright/test";
import { screenshot } from "../support/fixtures";
import { ensureBackup, metaQuery, newestArtifact, shopQuery, signInAs } from "./support";

async function count(table: string): Promise<number> {
  const [row] = await shopQuery<{ n: string }>(`select count(*)::text as n from ${table}`);
  return Number(row!.n);
}

/** Open the restore dialog from the newest row of a kind in the history. */
async function openRestoreDialog(page: Page, kind: "full" | "json", fileName: string) {
  await page.goto(`/backups?kind=${kind}`);
  await page.getByRole("button", { name: `Restore ${fileName}` }).click();
  const dialog = page.getByRole("dialog");
  await expect(dialog.getByRole("heading", { name: `Restore ${fileName}` })).toBeVisible();
  return dialog;
}

test.describe.configure({ mode: "serial" });

test.beforeAll(async ({ browser }) => {
  test.setTimeout(180_000);
  await ensureBackup(browser);
});

test("[RESTORE] an admin deletes rows, restores the latest full backup in place from its row, and the rows are back", async ({ page }) => {
  test.setTimeout(180_000);
  const full = (await newestArtifact("full"))!;
  const expected = full.manifest.tableRowCounts!;
  const before = { alerts: await count("alerts"), userAllergens: await count("user_allergens") };
  expect(before.alerts).toBe(expected["public.alerts"]);
  await shopQuery("delete from alerts where id in (select id from alerts order by id limit 25)");
  await shopQuery("delete from user_allergens where user_id in (select id from users order by id limit 3)");
  expect(await count("alerts")).toBe(before.alerts - 25);

  await signInAs(page, "admin");
  const dialog = await openRestoreDialog(page, "full", full.file_name);
  await expect(dialog.getByRole("radio", { name: /In place: replace database shop/ })).toBeChecked();
  await expect(dialog.getByRole("note")).toContainText("Database shop on target shop");
  await expect(dialog.getByRole("note")).toContainText("public.alerts");
  const submit = dialog.getByRole("button", { name: "Restore over shop" });
  await expect(submit).toBeDisabled();
  await dialog.getByLabel("Type shop to confirm").fill("shop");
  await expect(submit).toBeEnabled();
  await screenshot(page, "restore-dialog");
  await submit.click();

  const progress = dialog.getByTestId("run-progress");
  await expect(progress).toHaveAttribute("data-status", "succeeded", { timeout: 150_000 });
  const counts = dialog.getByTestId("restore-row-count");
  await expect(counts.first()).toBeVisible();
  await expect(dialog.locator('[data-testid="restore-row-count"][data-table="public.alerts"]')).toContainText(String(expected["public.alerts"]));
  await expect(counts.filter({ hasText: "differs" })).toHaveCount(0);
  await screenshot(page, "restore-done");

  // Checked in the database itself.
  expect(await count("alerts")).toBe(before.alerts);
  expect(await count("user_allergens")).toBe(before.userAllergens);
});

test("[RESTORE] a wrong database name cannot be submitted, and the server refuses it too", async ({ page }) => {
  const full = (await newestArtifact("full"))!;
  await signInAs(page, "admin");
  const dialog = await openRestoreDialog(page, "full", full.file_name);
  await dialog.getByLabel("Type shop to confirm").fill("shop2");
  await expect(dialog.getByText("That is not the database name.")).toBeVisible();
  await expect(dialog.getByRole("button", { name: "Restore over shop" })).toBeDisabled();
  // Into a new database nothing is overwritten: no name to type, a name for the new database instead.
  await dialog.getByRole("radio", { name: /Into a new database/ }).check();
  await expect(dialog.getByLabel("Type shop to confirm")).toHaveCount(0);
  await dialog.getByLabel("New database name").fill("shop");
  await expect(dialog.getByRole("button", { name: "Restore into shop" })).toBeDisabled();
  await dialog.getByRole("button", { name: "Cancel" }).click();
  await expect(page.getByRole("dialog")).toHaveCount(0);

  // The same request sent by hand, past the page: refused before anything is queued.
  const runsBefore = await metaQuery<{ n: string }>("select count(*)::text as n from runs where kind = 'restore'");
  const response = await page.request.post("/api/operations/restore", { data: { file: full.file_name, confirm: "shop2" } });
  expect(response.status()).toBeGreaterThanOrEqual(400);
  expect(response.status()).toBeLessThan(500);
  expect(((await response.json()) as { error: string }).error).toContain('overwrites database "shop"; type its name exactly');
  expect(await metaQuery<{ n: string }>("select count(*)::text as n from runs where kind = 'restore'")).toEqual(runsBefore);
});

test("[RESTORE] a JSON restore of one chosen table that would break a foreign key is refused in words", async ({ page }) => {
  test.setTimeout(120_000);
  const json = (await newestArtifact("json"))!;
  // A user added after the export, referenced from a table the admin will not choose.
  const [user] = await shopQuery<{ id: number }>("insert into users (email, display_name) values ('late@e2e.test', 'Late') returning id");
  await shopQuery("insert into user_allergens (user_id, allergen_id) select $1, min(id) from allergens", [user!.id]);
  try {
    await signInAs(page, "admin");
    const dialog = await openRestoreDialog(page, "json", json.file_name);
    await dialog.getByRole("button", { name: "None" }).click();
    await expect(dialog.getByText("Choose at least one table.")).toBeVisible();
    await dialog.getByRole("checkbox", { name: /public\.users/ }).check();
    await expect(dialog.getByRole("note")).toContainText("public.users");
    await dialog.getByLabel("Type shop to confirm").fill("shop");
    await dialog.getByRole("button", { name: "Restore over shop" }).click();
    const progress = dialog.getByTestId("run-progress");
    await expect(progress).toHaveAttribute("data-status", "failed", { timeout: 90_000 });
    await expect(progress.getByRole("alert")).toContainText("user_allergens");
    await expect(dialog.getByTestId("fk-refusal")).toContainText("Nothing was changed");
    // Nothing was changed indeed.
    expect(await count("users where email = 'late@e2e.test'")).toBe(1);
  } finally {
    await shopQuery("delete from users where email = 'late@e2e.test'");
  }
});

test("[RESTORE] an admin restores one chosen table from a JSON export and sees its rows against the manifest", async ({ page }) => {
  test.setTimeout(120_000);
  const json = (await newestArtifact("json"))!;
  const [first] = await shopQuery<{ id: number; name: string }>("select id, name from allergens order by id limit 1");
  await shopQuery("update allergens set name = name || ' (edited)' where id = $1", [first!.id]);
  const usersBefore = await count("users");

  await signInAs(page, "admin");
  const dialog = await openRestoreDialog(page, "json", json.file_name);
  await dialog.getByRole("button", { name: "None" }).click();
  await dialog.getByRole("checkbox", { name: /public\.allergens/ }).check();
  await dialog.getByLabel("Type shop to confirm").fill("shop");
  await dialog.getByRole("button", { name: "Restore over shop" }).click();
  await expect(dialog.getByTestId("run-progress")).toHaveAttribute("data-status", "succeeded", { timeout: 90_000 });
  const row = dialog.getByTestId("restore-row-count");
  await expect(row).toHaveCount(1);
  await expect(row).toContainText("allergens");
  await expect(row).toContainText(String(json.manifest.tableRowCounts!["public.allergens"]));
  await expect(row).toContainText("match");

  const [after] = await shopQuery<{ name: string }>("select name from allergens where id = $1", [first!.id]);
  expect(after!.name).toBe(first!.name);
  expect(await count("users")).toBe(usersBefore);
});
