import "server-only";
import { eq } from "drizzle-orm";
import { getServerSession } from "next-auth";
import { getDb } from "@/lib/db/client";
import { users } from "@/lib/db/schema";
import { getAuthOptions } from "./auth-options";
import type { RoleName } from "./permissions";

export type SessionUser = { id: number; email: string; name: string | null; role: RoleName };

/**
 * The signed-in user as the database knows them now: a role change or a disabled account takes
 * effect on the next request, not when the session cookie expires.
 */
export async function getSessionUser(): Promise<SessionUser | null> {
  const session = await getServerSession(getAuthOptions());
  const id = session?.user?.id;
  if (typeof id !== "number") return null;
  const db = await getDb();
  const [user] = await db.select().from(users).where(eq(users.id, id)).limit(1);
  if (!user || user.disabled) return null;
  return { id: user.id, email: user.email, name: user.name, role: user.role };
}
