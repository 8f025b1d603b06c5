import { defineConfig } from "@playwright/test";

// End-to-end tests run the built dashboard (`next start`) against a throwaway target cluster and a
// throwaway metadata database, in Debian's Chromium. e2e/global-setup.ts prepares all three.
const port = Number(process.env.E2E_PORT ?? 3100);

const metadataServer = process.env.LIFEBOAT_TEST_PG_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
if (!["127.0.0.1", "localhost", "[::1]"].includes(new URL(metadataServer).hostname)) {
  throw new Error("End-to-end tests create and drop databases: LIFEBOAT_TEST_PG_URL must point at this machine.");
}

export default defineConfig({
  testDir: "e2e",
  forbidOnly: Boolean(process.env.CI),
  retries: 0,
  workers: 1,
  timeout: 60_000,
  reporter: [["list"]],
  globalSetup: "./e2e/global-setup.ts",
  outputDir: "test-results",
  use: {
    baseURL: `http://127.0.0.1:${port}`,
    screenshot: "only-on-failure",
    trace: "off",
    launchOptions: {
      executablePath: "/usr/bin/chromium",
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"],
    },
  },
  projects: [{ name: "chromium", use: { browserName: "chromium" } }],
});
