// GET /api/backups/[id] - what the restore dialog shows for one backup: its target database and tables (viewer)
import { appendAudit } from "@/lib/audit/append-audit";
import { can } from "@/lib/auth/permissions";
import { getSessionUser } from "@/lib/auth/session";
import { getDb } from "@/lib/db/client";
import { getEnv } from "@/lib/env";
import { getRestorePlan } from "@/lib/web/restore-plan";

export const dynamic = "force-dynamic";

export async function GET(_request: Request, { params }: { params: Promise<{ id: string }> }) {
  const user = await getSessionUser();
  const subject = (await params).id.slice(0, 40);
  // Refusals are audited like every other denied attempt (SCENARIOS 21; proxy.ts lets this route answer for itself).
  const deny = async (status: number, error: string, reason: string) => {
    await appendAudit(await getDb(), { action: "backups.read", outcome: "denied", subject: `backup ${subject}`, actorId: user?.id ?? null, actorEmail: user?.email ?? null, details: { reason } });
    return Response.json({ error }, { status });
  };
  if (!user) return deny(401, "Sign in first.", "not signed in");
  if (!can(user, "backups.read")) return deny(403, "Your role may not see backups.", `${user.role} lacks backups.read`);
  const id = Number(subject);
  if (!Number.isSafeInteger(id) || id < 1) return Response.json({ error: "Not a backup id." }, { status: 400 });
  const plan = await getRestorePlan(await getDb(), getEnv(), id);
  if (!plan) return Response.json({ error: `Backup ${id} does not exist or cannot be restored from the dashboard.` }, { status: 404 });
  return Response.json(plan, { headers: { "Cache-Control": "no-store" } });
}
