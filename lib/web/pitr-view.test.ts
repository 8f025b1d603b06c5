import { describe, expect, test } from "vitest";
import { fromLocalInput, isoMicros, stretchHolding, timeMs, toLocalInput, utcSeconds, type PitrTargetView } from "./pitr-view";

const view: PitrTargetView = {
  name: "shop",
  database: "shop",
  managedHere: false,
  bases: [],
  now: "2026-01-15T12:00:00.000Z",
  error: null,
  timelines: [
    {
      timeline: 2,
      followed: true,
      restorePoints: [],
      problems: [],
      stretches: [
        {
          from: { time: "2026-01-15T10:00:00.250000Z", lsn: "0/2000100" },
          to: { time: "2026-01-15T10:30:00.123456Z", lsn: "0/3000000" },
          bases: ["b1"],
          endReason: "x",
        },
        {
          from: { time: "2026-01-15T11:00:00.000000Z", lsn: "0/5000100" },
          to: { time: "2026-01-15T11:10:00.000000Z", lsn: "0/6000000" },
          bases: ["b2"],
          endReason: "x",
        },
      ],
    },
    {
      timeline: 1,
      followed: false,
      restorePoints: [],
      problems: [],
      stretches: [
        { from: { time: "2026-01-14T00:00:00Z", lsn: "0/1000000" }, to: { time: "2026-01-15T09:00:00Z", lsn: "0/1900000" }, bases: ["b0"], endReason: "x" },
      ],
    },
  ],
};

describe("PITR picker helpers", () => {
  test("a wall clock in a zone, to the second", () => {
    const ms = Date.parse("2026-01-15T10:00:05Z");
    expect(toLocalInput(ms, "Asia/Jakarta")).toBe("2026-01-15T17:00:05");
    expect(toLocalInput(ms, "UTC")).toBe("2026-01-15T10:00:05");
    expect(toLocalInput(Date.parse("2026-07-01T00:30:00Z"), "Europe/Berlin")).toBe("2026-07-01T02:30:00");
  });

  test("a datetime-local value is read in the browser's zone, with or without seconds", () => {
    const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    const ms = Date.parse("2026-03-02T08:09:10Z");
    expect(fromLocalInput(toLocalInput(ms, zone))).toBe(ms);
    expect(fromLocalInput(toLocalInput(ms, zone).slice(0, 16))).toBe(ms - 10_000);
    expect(fromLocalInput("2026-03-")).toBeNull();
    expect(utcSeconds(ms + 999)).toBe("2026-03-02T08:09:10Z");
  });

  test("only moments inside a stretch of the followed timeline can be picked, compared to the microsecond", () => {
    expect(stretchHolding(view, Date.parse("2026-01-15T10:15:00Z"))?.bases).toEqual(["b1"]);
    expect(stretchHolding(view, Date.parse("2026-01-15T10:00:00Z"))).toBeUndefined(); // before the base backup's end (.25 s)
    expect(stretchHolding(view, Date.parse("2026-01-15T10:30:00.123Z"))).toBeDefined();
    expect(stretchHolding(view, Date.parse("2026-01-15T10:45:00Z"))).toBeUndefined(); // the gap
    expect(stretchHolding(view, Date.parse("2026-01-15T11:10:01Z"))).toBeUndefined(); // after the archive
    expect(stretchHolding(view, Date.parse("2026-01-15T08:00:00Z"))).toBeUndefined(); // only on the superseded timeline
    expect(isoMicros("2026-01-15T10:00:00Z")).toBe("2026-01-15T10:00:00.000000Z");
    expect(timeMs("2026-01-15T10:30:00.123456Z")).toBe(Date.parse("2026-01-15T10:30:00.123Z"));
  });
});
