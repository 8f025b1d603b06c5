// GET /api/audit/export - the audit rows matching the page's filters as CSV (admin: audit.read; audited, refusals too)
import { appendAudit } from "@/lib/audit/append-audit";
import { csvHeader, csvLine, eachAuditRow } from "@/lib/audit/query-audit";
import { can } from "@/lib/auth/permissions";
import { getSessionUser } from "@/lib/auth/session";
import { getDb } from "@/lib/db/client";
import { parseAuditFilters } from "@/lib/validations/audit";

export const dynamic = "force-dynamic";

export async function GET(request: Request) {
  const db = await getDb();
  const user = await getSessionUser();
  const { filters } = parseAuditFilters(new URL(request.url).searchParams);
  if (!user) {
    await appendAudit(db, { action: "audit.export", outcome: "denied", details: { reason: "not signed in" } });
    return Response.json({ error: "You are signed out. Sign in again.", code: "UNAUTHENTICATED" }, { status: 401 });
  }
  if (!can(user, "audit.read")) {
    await appendAudit(db, {
      actorId: user.id,
      actorEmail: user.email,
      action: "audit.export",
      outcome: "denied",
      details: { reason: `${user.role} lacks audit.read` },
    });
    return Response.json({ error: `Your role (${user.role}) may not read the audit log: it needs audit.read.`, code: "FORBIDDEN" }, { status: 403 });
  }
  // Audited before the rows are read, so the export itself is on record even if the download is cut.
  await appendAudit(db, { actorId: user.id, actorEmail: user.email, action: "audit.export", outcome: "succeeded", details: { filters } });

  const rows = eachAuditRow(db, filters);
  const encoder = new TextEncoder();
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(encoder.encode(csvHeader()));
    },
    async pull(controller) {
      try {
        const next = await rows.next();
        if (next.done) return controller.close();
        controller.enqueue(encoder.encode(csvLine(next.value)));
      } catch (error) {
        console.error(`lifeboat: audit export stopped: ${(error as Error).message.split("\n")[0]}`);
        controller.error(error);
      }
    },
    async cancel() {
      await rows.return(undefined);
    },
  });
  const stamp = new Date().toISOString().replace(/[:.]/g, "-").slice(0, 19);
  return new Response(body, {
    headers: {
      "Content-Type": "text/csv; charset=utf-8",
      "Content-Disposition": `attachment; filename="lifeboat-audit-${stamp}Z.csv"`,
      "Cache-Control": "no-store",
    },
  });
}
