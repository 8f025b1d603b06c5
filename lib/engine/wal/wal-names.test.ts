import { describe, expect, it } from "vitest";
import { formatLsn, parseLsn, parseSegmentFileName, segmentFileName, segmentOf, timelineAncestry, timelineForSegment } from "./wal-names";

describe("WAL names", () => {
  it("parses and formats LSNs", () => {
    expect(parseLsn("0/3000028")).toBe(0x3000028n);
    expect(parseLsn("1A/FF")).toBe((0x1an << 32n) + 0xffn);
    expect(formatLsn(0x3000028n)).toBe("0/3000028");
    expect(() => parseLsn("zz")).toThrow(/Not a WAL position/);
  });

  it("names segments like PostgreSQL", () => {
    expect(segmentFileName(1, segmentOf(0x3000028n))).toBe("000000010000000000000003");
    expect(segmentFileName(2, 0x1ffn)).toBe("0000000200000001000000FF");
    expect(parseSegmentFileName("0000000200000001000000FF")).toEqual({ timeline: 2, segno: 0x1ffn });
    expect(parseSegmentFileName("00000002.history")).toBeUndefined();
  });

  it("follows a timeline's history: the newest timeline owns the segment holding its switch point [S4]", () => {
    const ancestry = timelineAncestry(3, "1\t0/5000098\tbefore 2026-01-15\n2\t0/9800000\tno recovery target specified\n");
    expect(ancestry).toEqual([
      { timeline: 1, begin: 0n, end: 0x5000098n },
      { timeline: 2, begin: 0x5000098n, end: 0x9800000n },
      { timeline: 3, begin: 0x9800000n, end: null },
    ]);
    expect(timelineForSegment(ancestry, 4n)).toBe(1);
    expect(timelineForSegment(ancestry, 5n)).toBe(2);
    expect(timelineForSegment(ancestry, 9n)).toBe(3);
    expect(timelineForSegment(ancestry, 20n)).toBe(3);
  });
});
