/**
 * Telling "the metadata database is down" apart from other failures, and saying it without
 * leaking anything: a driver error's text can carry the SQL and its parameters (an email, a hash).
 */

export const DATABASE_UNREACHABLE_MESSAGE =
  "Lifeboat cannot reach its database. Try again in a minute; if this goes on, an administrator should check the metadata database.";

const UNREACHABLE_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "ENOTFOUND", "EHOSTUNREACH", "ENETUNREACH", "ETIMEDOUT", "EPIPE", "EAI_AGAIN"]);

/** The innermost cause (drizzle wraps the driver's error in one that quotes the query). */
export function rootCause(error: unknown): unknown {
  let current = error;
  for (let depth = 0; depth < 10; depth++) {
    const next = (current as { cause?: unknown } | null)?.cause;
    if (!next) return current;
    current = next;
  }
  return current;
}

/** Whether an error (or anything in its cause chain) says the database cannot be reached. */
export function isDatabaseUnreachable(error: unknown): boolean {
  let current = error;
  for (let depth = 0; current && depth < 10; depth++) {
    const { code, message } = current as { code?: unknown; message?: unknown };
    if (typeof code === "string") {
      if (UNREACHABLE_CODES.has(code)) return true;
      // 08: connection exceptions; 57P0x: shutting down / cannot connect now; 3D000: no such database; 28xxx: refused credentials.
      if (/^(08|57P0|3D000|28)/.test(code)) return true;
    }
    if (typeof message === "string" && /Connection terminated|connection timeout|timeout exceeded when trying to connect|the database system is/i.test(message))
      return true;
    if (current instanceof AggregateError && current.errors.some((e) => isDatabaseUnreachable(e))) return true;
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}

/** One line for the server log: the driver's own message (never the query text or its parameters). */
export function describeForLog(error: unknown): string {
  const root = rootCause(error);
  if (root instanceof AggregateError && root.errors.length > 0) return describeForLog(root.errors[0]);
  if (root instanceof Error) {
    const code = (root as { code?: unknown }).code;
    const firstLine = root.message.split("\n")[0] ?? "";
    // A drizzle error without a cause quotes the query: keep only its first words.
    const text = firstLine.startsWith("Failed query") ? "query failed" : firstLine.slice(0, 300);
    return `${[root.name === "Error" ? "" : root.name, typeof code === "string" ? code : ""].filter(Boolean).join(" ") || "Error"}: ${text}`;
  }
  return String(root).slice(0, 300);
}
