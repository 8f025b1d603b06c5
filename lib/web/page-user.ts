import "server-only";
import { redirect } from "next/navigation";
import { can, type Permission } from "@/lib/auth/permissions";
import { getSessionUser, type SessionUser } from "@/lib/auth/session";

/**
 * The signed-in user for a page, or a redirect to sign-in. With a permission: null when the user
 * lacks it (the page shows why instead of the content). proxy.ts already redirected requests
 * without a session cookie; this is the check that counts (a cookie can be stale or revoked).
 */
export async function requirePageUser(): Promise<SessionUser> {
  const user = await getSessionUser();
  if (!user) redirect("/signin");
  return user;
}

export async function pageUserWith(permission: Permission): Promise<{ user: SessionUser; allowed: boolean }> {
  const user = await requirePageUser();
  return { user, allowed: can(user, permission) };
}
