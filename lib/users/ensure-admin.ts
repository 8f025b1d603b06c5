import { eq, sql } from "drizzle-orm";
import type { Db } from "@/lib/db/client";
import { users } from "@/lib/db/schema";
import { appendAudit } from "@/lib/audit/append-audit";
import { generatePassword, hashPassword } from "@/lib/auth/password";
import { revokeUserSessions } from "@/lib/auth/sessions";

export type EnsureAdminResult = { created: true; email: string; password: string } | { created: false; email: string; password?: string };

/**
 * Make sure an admin exists. A new admin gets a random password, returned once so the caller can
 * print it; only its bcrypt hash is stored. With `resetPassword`, an existing user gets a new one.
 */
export async function ensureAdmin(db: Db, options: { email: string; resetPassword?: boolean }): Promise<EnsureAdminResult> {
  const email = options.email.trim().toLowerCase();
  const [existing] = await db
    .select()
    .from(users)
    .where(eq(sql`lower(${users.email})`, email))
    .limit(1);
  if (existing && !options.resetPassword) return { created: false, email: existing.email };

  const password = generatePassword();
  const passwordHash = await hashPassword(password);
  if (existing) {
    await db.update(users).set({ passwordHash, role: "admin", disabled: false }).where(eq(users.id, existing.id));
    // Whoever held a session under the old password is signed out.
    await revokeUserSessions(db, existing.id);
    await appendAudit(db, { action: "users.reset-password", outcome: "succeeded", subject: email, actorEmail: "quickstart" });
    return { created: false, email: existing.email, password };
  }
  await db.insert(users).values({ email, name: "Administrator", passwordHash, role: "admin" });
  await appendAudit(db, { action: "users.create", outcome: "succeeded", subject: email, actorEmail: "quickstart", details: { role: "admin" } });
  return { created: true, email, password };
}
