import { expect, test } from "@playwright/test";

// The built dashboard's /api/metrics (issue 10): Prometheus text behind a bearer token.
test("/api/metrics refuses a request without the token and serves Prometheus text with it [S21]", async ({ request }) => {
  const token = process.env.E2E_METRICS_TOKEN;
  if (!token) throw new Error("e2e/global-setup.ts did not set a metrics token");
  const anonymous = await request.get("/api/metrics");
  expect(anonymous.status()).toBe(401);
  expect(anonymous.headers()["www-authenticate"]).toContain("Bearer");
  expect(await anonymous.text()).not.toContain("lifeboat_");
  const wrong = await request.get("/api/metrics", { headers: { Authorization: `Bearer ${token}-not` } });
  expect(wrong.status()).toBe(401);
  const scraped = await request.get("/api/metrics", { headers: { Authorization: `Bearer ${token}` } });
  expect(scraped.status()).toBe(200);
  expect(scraped.headers()["content-type"]).toContain("text/plain");
  const body = await scraped.text();
  expect(body).toContain("# TYPE lifeboat_health_state gauge");
  expect(body).toMatch(/^lifeboat_queue_depth\{target="shop"\} 0$/m);
});
