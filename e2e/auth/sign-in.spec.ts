import { expect, test } from "@playwright/test";
import { credentials, screenshotPage } from "../support/fixtures";

test("[AUTH] a signed-out visitor is sent to sign-in [S21]", async ({ page }) => {
  await page.goto("/");
  await expect(page).toHaveURL(/\/signin/);
  await expect(page.getByRole("button", { name: "Sign in" })).toBeVisible();
  await screenshotPage(page, "signin");
});

test("[AUTH] a wrong password is refused and nothing is shown [S24]", async ({ page }) => {
  const { email } = credentials("admin");
  await page.goto("/signin");
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill("not-the-password");
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByText("Wrong email or password.")).toBeVisible();
  await page.goto("/");
  await expect(page).toHaveURL(/\/signin/);
});
