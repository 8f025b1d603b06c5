import { randomBytes } from "node:crypto";
import { and, eq, gt, isNull, ne, sql } from "drizzle-orm";
import type { Db } from "@/lib/db/client";
import { sessions, users, type User } from "@/lib/db/schema";

/** How long a sign-in lasts (the JWT cookie and its sessions row expire together). */
export const SESSION_MAX_AGE_SECONDS = 12 * 60 * 60;

/** Record a new session for a user who just signed in; its id goes into the session cookie. */
export async function createSession(db: Db, userId: number, address: string | null): Promise<string> {
  const id = randomBytes(32).toString("base64url");
  await db.insert(sessions).values({ id, userId, address, expiresAt: new Date(Date.now() + SESSION_MAX_AGE_SECONDS * 1000) });
  // Expired and revoked rows are kept a day for the record, then go.
  await db.execute(sql`delete from sessions where expires_at < now() - interval '1 day'`);
  return id;
}

/** Sign-out: this session's cookie stops working at once, wherever a copy of it is. */
export async function revokeSession(db: Db, id: string): Promise<void> {
  await db
    .update(sessions)
    .set({ revokedAt: new Date() })
    .where(and(eq(sessions.id, id), isNull(sessions.revokedAt)));
}

/** Every session of a user (disabled, password reset), but `keep`: returns how many were still live. */
export async function revokeUserSessions(db: Pick<Db, "update">, userId: number, keep?: string): Promise<number> {
  const revoked = await db
    .update(sessions)
    .set({ revokedAt: new Date() })
    .where(
      and(eq(sessions.userId, userId), isNull(sessions.revokedAt), gt(sessions.expiresAt, new Date()), keep === undefined ? undefined : ne(sessions.id, keep)),
    )
    .returning({ id: sessions.id });
  return revoked.length;
}

/** The user behind a session cookie, or null when the session was revoked, has expired, or the user is disabled. */
export async function findSessionUser(db: Db, userId: number, sessionId: string): Promise<User | null> {
  const [row] = await db
    .select({ user: users })
    .from(sessions)
    .innerJoin(users, eq(users.id, sessions.userId))
    .where(and(eq(sessions.id, sessionId), eq(sessions.userId, userId), isNull(sessions.revokedAt), gt(sessions.expiresAt, new Date())))
    .limit(1);
  if (!row || row.user.disabled) return null;
  return row.user;
}
