import { defineConfig } from "drizzle-kit";

// `npm run db:generate` writes SQL migrations from lib/db/schema.ts into drizzle/ (offline; no
// database needed). They are applied at start-up by lib/db/migrate.ts.
export default defineConfig({
  dialect: "postgresql",
  schema: "./lib/db/schema.ts",
  out: "./drizzle",
});
