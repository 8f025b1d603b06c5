// GET /api/runs/[id] - a run's status and progress, polled by the pages (viewer; stderr only for admins)
import { eq } from "drizzle-orm";
import { can } from "@/lib/auth/permissions";
import { getSessionUser } from "@/lib/auth/session";
import { getDb } from "@/lib/db/client";
import { runs } from "@/lib/db/schema";

export const dynamic = "force-dynamic";

export async function GET(_request: Request, { params }: { params: Promise<{ id: string }> }) {
  const user = await getSessionUser();
  if (!user) return Response.json({ error: "Sign in first." }, { status: 401 });
  if (!can(user, "backups.read")) return Response.json({ error: "Your role may not see runs." }, { status: 403 });
  const id = Number((await params).id);
  if (!Number.isSafeInteger(id) || id < 1) return Response.json({ error: "Not a run id." }, { status: 400 });
  const [run] = await (await getDb()).select().from(runs).where(eq(runs.id, id)).limit(1);
  if (!run) return Response.json({ error: `There is no run ${id}.` }, { status: 404 });
  return Response.json({
    id: run.id,
    kind: run.kind,
    status: run.status,
    phase: run.phase,
    bytesDone: run.bytesDone,
    bytesTotal: run.bytesTotal,
    error: run.error,
    stderr: can(user, "audit.read") ? run.stderr : null,
    result: run.result,
    queuedAt: run.queuedAt,
    startedAt: run.startedAt,
    finishedAt: run.finishedAt,
    durationMs: run.durationMs,
  });
}
