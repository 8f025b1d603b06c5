// GET /api/health - liveness for the quickstart and load balancers (public; reveals nothing)
export const dynamic = "force-dynamic";

export function GET() {
  return Response.json({ ok: true });
}
