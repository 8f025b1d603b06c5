// GET /api/runs/[id] - a run's status and progress, polled by the pages (viewer; stderr only for admins)
import { eq } from "drizzle-orm";
import { appendAudit } from "@/lib/audit/append-audit";
import { can } from "@/lib/auth/permissions";
import { getSessionUser } from "@/lib/auth/session";
import { getDb } from "@/lib/db/client";
import { runs } from "@/lib/db/schema";

export const dynamic = "force-dynamic";

export async function GET(_request: Request, { params }: { params: Promise<{ id: string }> }) {
  const user = await getSessionUser();
  const subject = (await params).id.slice(0, 40);
  // Refusals are audited like every other denied attempt (SCENARIOS 21).
  const deny = async (status: number, error: string, reason: string) => {
    await appendAudit(await getDb(), {
      action: "runs.read",
      outcome: "denied",
      subject,
      actorId: user?.id ?? null,
      actorEmail: user?.email ?? null,
      details: { reason },
    });
    return Response.json({ error }, { status });
  };
  if (!user) return deny(401, "Sign in first.", "not signed in");
  if (!can(user, "backups.read")) return deny(403, "Your role may not see runs.", `${user.role} lacks backups.read`);
  const id = Number(subject);
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
