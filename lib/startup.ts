import { getEnv, requireAuthSecret } from "@/lib/env";
import { getDb } from "@/lib/db/client";

/** Validate configuration and migrate the metadata database; exit with one line on failure. */
export async function checkStartup(): Promise<void> {
  try {
    requireAuthSecret(getEnv());
    await getDb();
  } catch (error) {
    console.error(`lifeboat: cannot start: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  }
}
