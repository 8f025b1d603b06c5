import { asc, eq, sql } from "drizzle-orm";
import { generatePassword, hashPassword } from "@/lib/auth/password";
import type { RoleName } from "@/lib/auth/permissions";
import { revokeUserSessions } from "@/lib/auth/sessions";
import type { Db } from "@/lib/db/client";
import { users, type User } from "@/lib/db/schema";
import { InvalidInputError, LifeboatError } from "@/lib/engine/errors";

/**
 * Users, as admins manage them (the Users page and `npm run user:create`). Passwords are
 * generated here and returned once for the caller to show; only their bcrypt hash is stored.
 * Nothing here may leave Lifeboat without an enabled admin.
 */

export type UserSummary = Omit<User, "passwordHash"> & { liveSessions: number };

export class UserNotFoundError extends LifeboatError {
  constructor(id: number) {
    super("USER_NOT_FOUND", `There is no user #${id}.`);
  }
}

// Serialises changes that could remove the last admin (two admins demoting each other at once).
const USERS_LOCK = 0x05e2_5a1e;

type Tx = Parameters<Parameters<Db["transaction"]>[0]>[0];

async function lockedUser(tx: Tx, id: number): Promise<User> {
  await tx.execute(sql`select pg_advisory_xact_lock(${USERS_LOCK})`);
  const [user] = await tx.select().from(users).where(eq(users.id, id)).limit(1);
  if (!user) throw new UserNotFoundError(id);
  return user;
}

async function otherEnabledAdmins(tx: Tx, id: number): Promise<number> {
  const { rows } = await tx.execute<{ n: string }>(sql`select count(*) as n from users where role = 'admin' and not disabled and id <> ${id}`);
  return Number(rows[0]?.n ?? 0);
}

export async function listUsers(db: Db): Promise<UserSummary[]> {
  const rows = await db
    .select({
      id: users.id,
      email: users.email,
      name: users.name,
      role: users.role,
      disabled: users.disabled,
      createdAt: users.createdAt,
      lastSignInAt: users.lastSignInAt,
      liveSessions: sql<number>`(select count(*)::int from sessions s where s.user_id = "users"."id" and s.revoked_at is null and s.expires_at > now())`,
    })
    .from(users)
    .orderBy(asc(users.email));
  return rows;
}

/** A new user; without a password one is generated and returned (shown once). */
export async function createUser(
  db: Db,
  input: { email: string; name?: string | undefined; role: RoleName; password?: string | undefined },
): Promise<{ user: Omit<User, "passwordHash">; password: string; generated: boolean }> {
  const email = input.email.trim().toLowerCase();
  const [existing] = await db
    .select({ id: users.id })
    .from(users)
    .where(eq(sql`lower(${users.email})`, email))
    .limit(1);
  if (existing) throw new InvalidInputError(`A user with the email ${email} already exists; change their role or reset their password instead.`);
  const password = input.password ?? generatePassword();
  const passwordHash = await hashPassword(password);
  try {
    const [row] = await db
      .insert(users)
      .values({ email, name: input.name ?? null, role: input.role, passwordHash })
      .returning();
    const { passwordHash: _hash, ...user } = row!;
    return { user, password, generated: input.password === undefined };
  } catch (error) {
    // Two creations of one email at once: the unique index decides.
    if ((error as { cause?: { code?: string } }).cause?.code === "23505" || (error as { code?: string }).code === "23505")
      throw new InvalidInputError(`A user with the email ${email} already exists.`);
    throw error;
  }
}

/** Change a role; demoting the last enabled admin is refused. */
export async function setUserRole(db: Db, id: number, role: RoleName): Promise<{ email: string; from: RoleName; to: RoleName }> {
  return db.transaction(async (tx) => {
    const user = await lockedUser(tx, id);
    if (user.role === "admin" && role !== "admin" && !user.disabled && (await otherEnabledAdmins(tx, id)) === 0)
      throw new InvalidInputError(`${user.email} is the last enabled admin; make another user admin first, or nobody could manage users.`);
    await tx.update(users).set({ role }).where(eq(users.id, id));
    return { email: user.email, from: user.role, to: role };
  });
}

/**
 * Disable (every session revoked at once) or enable a user. Nobody disables themselves, and the
 * last enabled admin cannot be disabled.
 */
export async function setUserDisabled(db: Db, actorId: number | null, id: number, disabled: boolean): Promise<{ email: string; revokedSessions: number }> {
  return db.transaction(async (tx) => {
    const user = await lockedUser(tx, id);
    if (disabled && actorId === id) throw new InvalidInputError("You cannot disable your own account; another admin can.");
    if (disabled && user.role === "admin" && !user.disabled && (await otherEnabledAdmins(tx, id)) === 0)
      throw new InvalidInputError(`${user.email} is the last enabled admin; make another user admin first.`);
    await tx.update(users).set({ disabled }).where(eq(users.id, id));
    const revokedSessions = disabled ? await revokeUserSessions(tx, id) : 0;
    return { email: user.email, revokedSessions };
  });
}

/**
 * A new generated password (returned once); every session of the user is revoked, but
 * `keepSessionId` (an admin resetting their own password stays signed in on this page to read it).
 */
export async function resetUserPassword(db: Db, id: number, keepSessionId?: string): Promise<{ email: string; password: string; revokedSessions: number }> {
  const password = generatePassword();
  const passwordHash = await hashPassword(password);
  return db.transaction(async (tx) => {
    const user = await lockedUser(tx, id);
    await tx.update(users).set({ passwordHash }).where(eq(users.id, id));
    const revokedSessions = await revokeUserSessions(tx, id, keepSessionId);
    return { email: user.email, password, revokedSessions };
  });
}
