import type { Permission } from "@/lib/auth/permissions";

/** Shown instead of a page the user's role may not see (the server did not load its data). */
export function Forbidden({ permission, role }: { permission: Permission; role: string }) {
  return (
    <div role="alert" className="rounded-xl border border-amber-300 bg-amber-50 p-6 dark:border-amber-800 dark:bg-amber-950">
      <h1 className="text-lg font-semibold">Not for your role</h1>
      <p className="mt-1 text-sm">
        This page needs <code>{permission}</code>; you are signed in as {role}. An admin can change your role.
      </p>
    </div>
  );
}
