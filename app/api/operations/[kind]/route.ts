// POST /api/operations/[kind] - queue an operation (the same pipeline as the pages' actions: session, permission, schema, audit)
import { OPERATIONS, type OperationKind } from "@/lib/operations";
import { appendAudit } from "@/lib/audit/append-audit";
import { getSessionUser } from "@/lib/auth/session";
import { getDb } from "@/lib/db/client";
import { operationAction } from "@/lib/web/operations";
import { foreignOrigin } from "@/lib/web/same-origin";

export const dynamic = "force-dynamic";

const STATUS: Record<string, number> = { UNAUTHENTICATED: 401, FORBIDDEN: 403, INVALID: 400, TARGET_NOT_FOUND: 404 };

export async function POST(request: Request, { params }: { params: Promise<{ kind: string }> }) {
  const { kind } = await params;
  const foreign = foreignOrigin(request);
  if (foreign !== undefined) {
    const user = await getSessionUser().catch(() => null);
    await appendAudit(await getDb(), {
      action: `operations.${kind.slice(0, 40)}.request`,
      outcome: "denied",
      actorId: user?.id ?? null,
      actorEmail: user?.email ?? null,
      details: { reason: "cross-site request", origin: foreign.slice(0, 200) },
    });
    return Response.json({ error: "Refused: this request came from another site." }, { status: 403 });
  }
  if (!Object.hasOwn(OPERATIONS, kind)) return Response.json({ error: `There is no operation ${JSON.stringify(kind)}.` }, { status: 404 });
  const body: unknown = await request.json().catch(() => undefined);
  if (body === undefined) return Response.json({ error: "The body must be JSON: the operation's input." }, { status: 400 });
  // A web request never names a folder or port on the worker's host: the dashboard's PITR action
  // picks them itself (the CLI's --data-dir/--port are for people at the host).
  if (kind === "pitr" && typeof body === "object" && body !== null && ("dataDir" in body || "port" in body))
    return Response.json(
      { error: "dataDir and port cannot be chosen through the API; the recovered instance's folder and port are picked on the worker." },
      { status: 400 },
    );
  const result = await operationAction(kind as OperationKind)(body);
  if (result.ok) return Response.json(result.data, { status: 202 });
  return Response.json({ error: result.error, code: result.code }, { status: STATUS[result.code] ?? 422 });
}
