/** Apply pending migrations to DATABASE_URL (the web app and the CLI also do this at start-up). */
import { createDb } from "@/lib/db/client";
import { migrateDatabase } from "@/lib/db/migrate";
import { getEnv } from "@/lib/env";

const handle = createDb(getEnv().DATABASE_URL);
try {
  await migrateDatabase(handle);
  console.log("[lifeboat] migrations applied");
} finally {
  await handle.close();
}
