import { describe, expect, it } from "vitest";
import { mergeRanges, type WindowRange } from "./recoverable-window";

const range = (timeline: number, base: string, from: string, to: string, endReason = "end of the archive"): WindowRange => ({
  timeline,
  base,
  from: { time: `2026-01-15T0${from.slice(-1)}:00:00.000000Z`, lsn: from },
  to: { time: `2026-01-15T0${to.slice(-1)}:00:00.000000Z`, lsn: to },
  endReason,
});

describe("the recoverable window as a person sees it", () => {
  it("merges ranges of base backups that overlap on a timeline, and keeps gaps and timelines apart [S3] [S4]", () => {
    const stretches = mergeRanges([
      range(1, "base/b", "0/3000000", "0/9000000"),
      range(1, "base/a", "0/1000000", "0/9000000"),
      range(1, "base/c", "0/A000000", "0/B000000", "segment … is missing"),
      range(2, "base/d", "0/C000000", "0/D000000"),
    ]);
    expect(stretches.map((s) => [s.timeline, s.from.lsn, s.to.lsn, s.bases])).toEqual([
      [1, "0/1000000", "0/9000000", ["base/a", "base/b"]],
      [1, "0/A000000", "0/B000000", ["base/c"]],
      [2, "0/C000000", "0/D000000", ["base/d"]],
    ]);
    expect(stretches[1]?.endReason).toBe("segment … is missing");
  });
});
