// GET /api/backups/[id] - what the restore dialog shows for one backup: its target database and tables (viewer)
import { can } from "@/lib/auth/permissions";
import { getSessionUser } from "@/lib/auth/session";
import { getDb } from "@/lib/db/client";
import { getEnv } from "@/lib/env";
import { getRestorePlan } from "@/lib/web/restore-plan";

export const dynamic = "force-dynamic";

export async function GET(_request: Request, { params }: { params: Promise<{ id: string }> }) {
  const user = await getSessionUser();
  if (!user) return Response.json({ error: "Sign in first." }, { status: 401 });
  if (!can(user, "backups.read")) return Response.json({ error: "Your role may not see backups." }, { status: 403 });
  const id = Number((await params).id);
  if (!Number.isSafeInteger(id) || id < 1) return Response.json({ error: "Not a backup id." }, { status: 400 });
  const plan = await getRestorePlan(await getDb(), getEnv(), id);
  if (!plan) return Response.json({ error: `Backup ${id} does not exist or cannot be restored from the dashboard.` }, { status: 404 });
  return Response.json(plan, { headers: { "Cache-Control": "no-store" } });
}
