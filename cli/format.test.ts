import { describe, expect, it } from "vitest";
import { mergeRanges, type RecoverableWindow, type WindowRange } from "@/lib/engine/wal/recoverable-window";
import { windowLines } from "./format";

const range = (base: string, from: string, to: string): WindowRange => ({
  timeline: 2,
  base,
  from: { time: `t-${from}`, lsn: from },
  to: { time: `t-${to}`, lsn: to },
  endReason: "end of the archive",
});

describe("the window in words", () => {
  it("shows overlapping base backups as one stretch, with restore points, and a backup with no WAL after it as a moment", () => {
    const ranges = [range("base/a", "0/2000100", "0/60000A0"), range("base/b", "0/4000100", "0/60000A0"), range("base/c", "0/7000100", "0/7000100")];
    const window: RecoverableWindow = {
      timeline: 2,
      ranges,
      stretches: mergeRanges(ranges),
      restorePoints: [{ name: "before-deploy", lsn: "0/3002F48", timeline: 1 }],
      problems: [],
    };
    expect(windowLines(window)).toEqual([
      "timeline 2: t-0/2000100 (0/2000100) → t-0/60000A0 (0/60000A0) from base backups base/a, base/b; ends: end of the archive",
      "timeline 2: t-0/7000100 (0/7000100) only (the end of base backup base/c; no WAL archived after it yet)",
      "restore point: before-deploy at 0/3002F48 (timeline 1)",
    ]);
  });
});
