import { randomBytes } from "node:crypto";
import { expect, test } from "@playwright/test";
import { screenshotPage, signIn } from "../support/fixtures";
import { metadataQuery, signInAs } from "./helpers";

test("[USERS] an admin creates an operator who can sign in; disabling them ends their session", async ({ page, browser }) => {
  await signIn(page, "admin");
  await page.goto("/users");
  const email = `op-${randomBytes(4).toString("hex")}@e2e.test`;
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Name").fill("New Operator");
  await page.locator('select[name="role"]').selectOption("operator");
  await page.getByRole("button", { name: "Create user" }).click();
  const password = (await page.getByTestId("new-password").textContent())?.trim() ?? "";
  expect(password).toMatch(/^[A-Za-z0-9]{24}$/);
  const row = page.getByTestId(`user-row-${email}`);
  await expect(row).toContainText("New Operator");
  await expect(row.getByLabel(`Role of ${email}`)).toHaveValue("operator");
  await screenshotPage(page, "users");

  const context = await browser.newContext();
  const theirs = await context.newPage();
  await signInAs(theirs, email, password);
  await expect(theirs.getByTestId("signed-in-as")).toContainText("operator");

  // A password reset shows the new password once and signs out the sessions made with the old one.
  await page.getByRole("button", { name: "I have stored it" }).click();
  await row.getByRole("button", { name: `Reset password of ${email}` }).click();
  await row.getByRole("button", { name: `Confirm reset of ${email}` }).click();
  await expect(page.getByRole("alert").filter({ hasText: "Password reset." })).toContainText(email);
  const newPassword = (await page.getByTestId("new-password").textContent())?.trim() ?? "";
  expect(newPassword).toMatch(/^[A-Za-z0-9]{24}$/);
  expect(newPassword).not.toBe(password);
  await theirs.reload();
  await expect(theirs).toHaveURL(/\/signin$/);
  await signInAs(theirs, email, newPassword);

  await row.getByRole("button", { name: `Disable ${email}` }).click();
  await expect(page.getByRole("status").filter({ hasText: "is disabled" })).toContainText(`${email} is disabled`);
  await expect(row).toContainText("disabled");
  await theirs.reload();
  await expect(theirs).toHaveURL(/\/signin$/);
  await context.close();

  const audited = await metadataQuery<{ action: string; outcome: string }>(
    "select action, outcome from audit_log where actor_email = 'admin@e2e.test' and action like 'users.%' order by id",
  );
  expect(audited).toEqual(
    expect.arrayContaining([
      { action: "users.create", outcome: "succeeded" },
      { action: "users.reset-password", outcome: "succeeded" },
      { action: "users.set-disabled", outcome: "succeeded" },
    ]),
  );
});

test("[USERS] the last admin can neither disable nor demote themselves", async ({ page }) => {
  await signIn(page, "admin");
  await page.goto("/users");
  const row = page.getByTestId("user-row-admin@e2e.test");
  await expect(row.getByRole("button", { name: "Disable admin@e2e.test" })).toBeDisabled();
  await row.getByLabel("Role of admin@e2e.test").selectOption("viewer");
  await expect(page.getByRole("status")).toContainText("admin@e2e.test is the last enabled admin");
  await page.reload();
  await expect(page.getByTestId("user-row-admin@e2e.test").getByLabel("Role of admin@e2e.test")).toHaveValue("admin");
});

test("[USERS] an operator or a viewer gets the Forbidden page for users and audit", async ({ page }) => {
  await signIn(page, "operator");
  for (const path of ["/users", "/audit"]) {
    await page.goto(path);
    await expect(page.getByRole("heading", { name: "Not for your role" })).toBeVisible();
  }
  await expect(page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Users" })).toHaveCount(0);
});
