/**
 * Runs once when the Next.js server starts (Node.js runtime only): lib/startup.ts checks the
 * configuration and applies migrations, so a bad value stops start-up with one clear line.
 */
export async function register() {
  // NEXT_RUNTIME is set by Next.js itself (not user configuration), so it is read here directly.
  if (process.env.NEXT_RUNTIME === "nodejs") {
    const { checkStartup } = await import("./lib/startup");
    await checkStartup();
  }
}
