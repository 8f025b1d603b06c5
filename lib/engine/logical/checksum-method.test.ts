import { describe, expect, it } from "vitest";
import { ZManifest } from "../repository/manifest";
import { checksumMethodOf } from "./catalog-queries";

describe("table checksums in a manifest", () => {
  it("are computed again by a drill the way the backup computed them: h:<sum> by hashtextextended, bare sums (older manifests) by md5", () => {
    expect(checksumMethodOf({ "public.users": "h:-5503186254334339394400", "public.orders": "h:0" })).toBe("hash");
    expect(checksumMethodOf({ "public.users": "1728725965270272090358212" })).toBe("md5");
    expect(checksumMethodOf(undefined)).toBe("hash");
    expect(checksumMethodOf({})).toBe("hash");
  });

  it("accept both forms and nothing else", () => {
    const checksums = ZManifest.shape.tableChecksums;
    expect(checksums.safeParse({ a: "h:-12", b: "34" }).success).toBe(true);
    expect(checksums.safeParse({ a: "-12" }).success).toBe(false);
    expect(checksums.safeParse({ a: "h:12x" }).success).toBe(false);
  });
});
