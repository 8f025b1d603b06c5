import { describe, expect, it, vi } from "vitest";

describe("GET /api/health", () => {
  it("answers 503, naming the metadata database, when it is unreachable", async () => {
    vi.stubEnv("DATABASE_URL", "postgres://lifeboat@127.0.0.1:1/lifeboat");
    const logged = vi.spyOn(console, "error").mockImplementation(() => undefined);
    const { GET } = await import("./route");
    const response = await GET();
    expect(response.status).toBe(503);
    expect(await response.json()).toMatchObject({ ok: false, database: "unreachable" });
    expect(logged).toHaveBeenCalledTimes(1);
    expect(String(logged.mock.calls[0]?.[0])).toMatch(/^lifeboat: health: the metadata database is unreachable \(ECONNREFUSED: connect ECONNREFUSED/);
    vi.unstubAllEnvs();
  });
});
