import { describe, expect, it } from "vitest";
import { metricsAccess } from "./render-metrics";

describe("the /api/metrics bearer token", () => {
  const token = "0123456789abcdef0123";
  it("refuses a request without the token, with another token, or with another scheme [S21]", () => {
    expect(metricsAccess(null, token)).toBe("denied");
    expect(metricsAccess("", token)).toBe("denied");
    expect(metricsAccess(`Bearer ${token}x`, token)).toBe("denied");
    expect(metricsAccess(`Basic ${Buffer.from(`x:${token}`).toString("base64")}`, token)).toBe("denied");
  });
  it("accepts the configured token (scheme case-insensitive), and is off without one configured", () => {
    expect(metricsAccess(`Bearer ${token}`, token)).toBe("ok");
    expect(metricsAccess(`bearer ${token}`, token)).toBe("ok");
    expect(metricsAccess(`Bearer ${token}`, undefined)).toBe("disabled");
  });
});
