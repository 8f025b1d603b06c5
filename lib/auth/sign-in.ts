import { randomUUID } from "node:crypto";
import { eq, sql } from "drizzle-orm";
import { z } from "zod";
import { appendAudit, type AuditSeal } from "@/lib/audit/append-audit";
import type { Db } from "@/lib/db/client";
import { users } from "@/lib/db/schema";
import { LifeboatError } from "@/lib/engine/errors";
import { DATABASE_UNREACHABLE_MESSAGE, describeForLog, isDatabaseUnreachable } from "./db-errors";
import { hashPassword, verifyPassword } from "./password";
import type { RoleName } from "./permissions";
import { createSession } from "./sessions";
import { beginSignInAttempt, finishSignInAttempt, SIGN_IN_LIMITS, SignInLimitedError, type SignInLimits } from "./sign-in-limit";

export const ZSignIn = z.object({
  email: z.string().trim().toLowerCase().email().max(320),
  password: z.string().min(1).max(1024),
});

export type SignedInUser = { id: string; email: string; name: string | null; role: RoleName; sid: string };

// Comparing against a hash of a random string when the user does not exist keeps the response
// time the same, so sign-in timing does not reveal which emails exist.
let dummyHash: Promise<string> | undefined;
function getDummyHash(): Promise<string> {
  dummyHash ??= hashPassword(randomUUID());
  return dummyHash;
}

// bcrypt takes ~0.2 s of CPU on the event loop: at most two checks at a time per process, a short
// queue behind them, and a refusal past it, so a burst of sign-ins cannot stall every page.
const BCRYPT_SLOTS = 2;
const BCRYPT_QUEUE = 16;
let bcryptRunning = 0;
const bcryptWaiting: (() => void)[] = [];

export class SignInBusyError extends LifeboatError {
  constructor() {
    super("SIGN_IN_BUSY", "Lifeboat is checking many sign-ins at once. Try again in a few seconds.");
  }
}

async function withBcryptSlot<T>(fn: () => Promise<T>): Promise<T> {
  if (bcryptRunning >= BCRYPT_SLOTS) {
    if (bcryptWaiting.length >= BCRYPT_QUEUE) throw new SignInBusyError();
    await new Promise<void>((resolve) => bcryptWaiting.push(resolve));
  }
  bcryptRunning++;
  try {
    return await fn();
  } finally {
    bcryptRunning--;
    bcryptWaiting.shift()?.();
  }
}

/**
 * The address a request came from: the last X-Forwarded-For entry (the one added by the nearest
 * proxy; `next start` fills the header with the socket's address when no proxy sent one).
 */
export function clientAddress(headers: Record<string, string | string[] | undefined> | Headers | undefined): string {
  const raw = headers instanceof Headers ? headers.get("x-forwarded-for") : headers?.["x-forwarded-for"];
  const value = Array.isArray(raw) ? raw.join(",") : (raw ?? "");
  const last = value
    .split(",")
    .map((part) => part.trim())
    .filter(Boolean)
    .pop();
  if (!last) return "unknown";
  return last.replace(/^::ffff:/, "").slice(0, 100);
}

/**
 * Check one sign-in: rate limits first (a limited attempt never reaches bcrypt, and the right
 * password during a lockout is refused too), then the password; every refusal is audited. On
 * success a sessions row is created; its id goes into the cookie.
 */
export async function authorizeSignIn(
  db: Db,
  credentials: unknown,
  address: string,
  options: { limits?: SignInLimits; seal?: AuditSeal } = {},
): Promise<SignedInUser | null> {
  const parsed = ZSignIn.safeParse(credentials ?? {});
  if (!parsed.success) return null;
  const { email, password } = parsed.data;
  const audit = (entry: Parameters<typeof appendAudit>[1]) => appendAudit(db, entry, options.seal);

  let attemptId: number;
  try {
    attemptId = await beginSignInAttempt(db, { email, address }, options.limits ?? SIGN_IN_LIMITS);
  } catch (error) {
    if (error instanceof SignInLimitedError) {
      await audit({
        action: "auth.sign-in",
        outcome: "denied",
        subject: email,
        details: { reason: "rate limited", scope: error.scope, address, retryAt: error.retryAt.toISOString() },
      });
    }
    throw error;
  }

  const [user] = await db
    .select()
    .from(users)
    .where(eq(sql`lower(${users.email})`, email))
    .limit(1);
  const ok = await withBcryptSlot(async () => verifyPassword(password, user?.passwordHash ?? (await getDummyHash())));
  if (!user || !ok || user.disabled) {
    await finishSignInAttempt(db, attemptId, "failed");
    await audit({
      action: "auth.sign-in",
      outcome: "denied",
      subject: email,
      details: { reason: !user ? "unknown user" : !ok ? "wrong password" : "disabled", address },
    });
    return null;
  }
  await finishSignInAttempt(db, attemptId, "succeeded");
  await db.update(users).set({ lastSignInAt: new Date() }).where(eq(users.id, user.id));
  const sid = await createSession(db, user.id, address);
  await audit({ action: "auth.sign-in", outcome: "succeeded", actorId: user.id, actorEmail: user.email, subject: user.email, details: { address } });
  return { id: String(user.id), email: user.email, name: user.name, role: user.role, sid };
}

/**
 * What the browser is told when sign-in fails for a reason other than wrong credentials. next-auth
 * puts this text in the error URL, so it must never be a driver error (those quote the SQL and
 * its parameters): known refusals keep their sentence, the rest become a generic one and one
 * line in the server log.
 */
export function signInErrorMessage(error: unknown): string {
  if (error instanceof SignInLimitedError || error instanceof SignInBusyError) return error.message;
  if (isDatabaseUnreachable(error)) {
    console.error(`lifeboat: sign-in refused, the metadata database is unreachable (${describeForLog(error)})`);
    return DATABASE_UNREACHABLE_MESSAGE;
  }
  console.error(`lifeboat: sign-in failed on the server (${describeForLog(error)})`);
  return "Sign-in failed on the server; its log has the details.";
}
