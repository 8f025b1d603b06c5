import { mkdir } from "node:fs/promises";
import path from "node:path";
import { expect, type Page } from "@playwright/test";

export type E2ERole = "admin" | "operator" | "viewer";

export function credentials(role: E2ERole): { email: string; password: string } {
  const email = process.env[`E2E_${role.toUpperCase()}_EMAIL`];
  const password = process.env[`E2E_${role.toUpperCase()}_PASSWORD`];
  if (!email || !password) throw new Error("e2e/global-setup.ts did not run");
  return { email, password };
}

export async function signIn(page: Page, role: E2ERole): Promise<void> {
  const { email, password } = credentials(role);
  // A freshly started server may still be compiling the page's client code: wait until it is
  // interactive, and give the first sign-in (bcrypt, first queries) time on a busy machine.
  await page.goto("/signin", { waitUntil: "networkidle" });
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByTestId("signed-in-as")).toContainText(email, { timeout: 30_000 });
}

export const artifactsDir = path.resolve(import.meta.dirname, "..", ".artifacts");

export async function screenshot(page: Page, name: string): Promise<string> {
  await mkdir(artifactsDir, { recursive: true });
  const file = path.join(artifactsDir, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

/** The page at desktop (1280×800) and phone (390×844) width, saved as <name>-desktop.png and <name>-phone.png with the test results. */
export async function screenshotPage(page: Page, name: string): Promise<void> {
  const size = page.viewportSize();
  await page.setViewportSize({ width: 1280, height: 800 });
  await screenshot(page, `${name}-desktop`);
  await page.setViewportSize({ width: 390, height: 844 });
  await screenshot(page, `${name}-phone`);
  if (size) await page.setViewportSize(size);
}
