// POST /api/operations/[kind] - queue an operation (the same pipeline as the pages' actions: session, permission, schema, audit)
import { OPERATIONS, type OperationKind } from "@/lib/operations";
import { operationAction } from "@/lib/web/operations";

export const dynamic = "force-dynamic";

const STATUS: Record<string, number> = { UNAUTHENTICATED: 401, FORBIDDEN: 403, INVALID: 400, TARGET_NOT_FOUND: 404 };

export async function POST(request: Request, { params }: { params: Promise<{ kind: string }> }) {
  const { kind } = await params;
  if (!Object.hasOwn(OPERATIONS, kind)) return Response.json({ error: `There is no operation ${JSON.stringify(kind)}.` }, { status: 404 });
  const body: unknown = await request.json().catch(() => undefined);
  if (body === undefined) return Response.json({ error: "The body must be JSON: the operation's input." }, { status: 400 });
  const result = await operationAction(kind as OperationKind)(body);
  if (result.ok) return Response.json(result.data, { status: 202 });
  return Response.json({ error: result.error, code: result.code }, { status: STATUS[result.code] ?? 422 });
}
