// GET /api/metrics - Prometheus scrape, behind a bearer token (LIFEBOAT_METRICS_TOKEN); nothing without it.
import { getDb } from "@/lib/db/client";
import { getEnv } from "@/lib/env";
import { metricsAccess, renderMetrics } from "@/lib/metrics/render-metrics";

export const dynamic = "force-dynamic";
export const runtime = "nodejs";

export async function GET(request: Request) {
  const access = metricsAccess(request.headers.get("authorization"), getEnv().LIFEBOAT_METRICS_TOKEN);
  if (access === "disabled") return new Response("Metrics are off: set LIFEBOAT_METRICS_TOKEN to enable /api/metrics.\n", { status: 404 });
  if (access === "denied")
    return new Response("A bearer token is required (Authorization: Bearer <LIFEBOAT_METRICS_TOKEN>).\n", {
      status: 401,
      headers: { "WWW-Authenticate": 'Bearer realm="lifeboat-metrics"' },
    });
  const { contentType, body } = await renderMetrics(await getDb());
  return new Response(body, { headers: { "Content-Type": contentType, "Cache-Control": "no-store" } });
}
