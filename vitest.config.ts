import path from "node:path";
import { defineConfig } from "vitest/config";

export default defineConfig({
  resolve: {
    alias: {
      "@": path.resolve(import.meta.dirname),
      // Server-only marker modules throw outside a React Server Components bundle.
      "server-only": path.resolve(import.meta.dirname, "test/helpers/server-only-stub.ts"),
    },
  },
  test: {
    include: ["**/*.test.ts"],
    exclude: ["node_modules/**", "e2e/**", ".next/**", ".lifeboat/**", "backups/**"],
    testTimeout: 120_000,
    hookTimeout: 180_000,
    // Integration tests start real clusters; two cores, so two files at a time.
    maxWorkers: 2,
    reporters: ["default"],
  },
});
