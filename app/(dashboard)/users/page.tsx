import { UsersClient } from "@/components/users/users-client";
import { Forbidden } from "@/components/ui/forbidden";
import { PageHeader } from "@/components/ui/page-header";
import { getDb } from "@/lib/db/client";
import { listUsers } from "@/lib/users/manage-users";
import { pageUserWith } from "@/lib/web/page-user";

export const dynamic = "force-dynamic";

export default async function UsersPage() {
  const { user, allowed } = await pageUserWith("users.manage");
  if (!allowed) return <Forbidden permission="users.manage" role={user.role} />;
  const rows = await listUsers(await getDb());
  return (
    <>
      <PageHeader
        title="Users"
        description="Who may sign in, and what they may do: viewers see history and health, operators also run backups and verifications, admins also restore and manage users."
      />
      <UsersClient
        currentUserId={user.id}
        users={rows.map((row) => ({
          id: row.id,
          email: row.email,
          name: row.name,
          role: row.role,
          disabled: row.disabled,
          lastSignInAt: row.lastSignInAt?.toISOString() ?? null,
          liveSessions: row.liveSessions,
        }))}
      />
    </>
  );
}
