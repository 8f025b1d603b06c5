import "server-only";
import { getServerSession } from "next-auth";
import { getDb } from "@/lib/db/client";
import { getAuthOptions } from "./auth-options";
import type { RoleName } from "./permissions";
import { findSessionUser } from "./sessions";

export type SessionUser = {
  id: number;
  email: string;
  name: string | null;
  role: RoleName;
  /** The sessions row of this request (kept when the user resets their own password). */
  sessionId?: string | undefined;
};

/**
 * The signed-in user as the database knows them now: a role change takes effect on the next
 * request, and a session that was signed out, or whose user was disabled or had the password
 * reset, is refused although its cookie has not expired.
 */
export async function getSessionUser(): Promise<SessionUser | null> {
  const session = await getServerSession(getAuthOptions());
  const id = session?.user?.id;
  const sid = session?.sid;
  if (typeof id !== "number" || typeof sid !== "string") return null;
  const user = await findSessionUser(await getDb(), id, sid);
  if (!user) return null;
  return { id: user.id, email: user.email, name: user.name, role: user.role, sessionId: sid };
}
