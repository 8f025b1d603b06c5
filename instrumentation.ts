/**
 * Runs once when the Next.js server starts: check the configuration and apply migrations, so a bad
 * value stops start-up with one clear line instead of failing on the first request.
 */
export async function register() {
  // NEXT_RUNTIME is set by Next.js itself (not user configuration), so it is read here directly.
  if (process.env.NEXT_RUNTIME !== "nodejs") return;
  const { getEnv, requireAuthSecret } = await import("@/lib/env");
  try {
    requireAuthSecret(getEnv());
    const { getDb } = await import("@/lib/db/client");
    await getDb();
  } catch (error) {
    console.error(`lifeboat: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  }
}
