import { describe, expect, it } from "vitest";
import { parseRecoveryTarget, parseRecoveryTime, RecoveryTargetError } from "./recovery-target";

describe("recovery targets", () => {
  it("reads a time without offset in the documented zone [S5]", () => {
    expect(parseRecoveryTime("2026-01-15 14:30:00", "UTC").toISOString()).toBe("2026-01-15T14:30:00.000Z");
    expect(parseRecoveryTime("2026-01-15 14:30:00", "Asia/Jakarta").toISOString()).toBe("2026-01-15T07:30:00.000Z");
    expect(parseRecoveryTime("2026-07-15 14:30", "Europe/Amsterdam").toISOString()).toBe("2026-07-15T12:30:00.000Z");
    expect(parseRecoveryTime("2026-01-15 14:30:00.25", "Europe/Amsterdam").toISOString()).toBe("2026-01-15T13:30:00.250Z");
  });

  it("honours an explicit offset whatever the zone [S5]", () => {
    expect(parseRecoveryTime("2026-01-15T14:30:00+07:00", "Europe/Amsterdam").toISOString()).toBe("2026-01-15T07:30:00.000Z");
    expect(parseRecoveryTime("2026-01-15T14:30:00Z", "Asia/Jakarta").toISOString()).toBe("2026-01-15T14:30:00.000Z");
  });

  it("refuses bad input with a clear message", () => {
    expect(() => parseRecoveryTime("yesterday", "UTC")).toThrow(/Not a time/);
    expect(() => parseRecoveryTime("2026-02-30 10:00:00", "UTC")).toThrow(/Not a valid date/);
    expect(() => parseRecoveryTime("2026-01-15 10:00:00", "Mars/Olympus")).toThrow(/Unknown time zone/);
    expect(() => parseRecoveryTarget({ time: "2026-01-15 10:00:00", latest: true }, "UTC")).toThrow(RecoveryTargetError);
    expect(() => parseRecoveryTarget({ lsn: "nope" }, "UTC")).toThrow(/Not a WAL position/);
  });

  it("builds each kind of target", () => {
    expect(parseRecoveryTarget({ latest: true }, "UTC")).toEqual({ kind: "latest" });
    expect(parseRecoveryTarget({ lsn: "0/3000a28" }, "UTC")).toEqual({ kind: "lsn", lsn: "0/3000A28" });
    expect(parseRecoveryTarget({ name: "before-migration" }, "UTC")).toEqual({ kind: "name", name: "before-migration" });
  });
});
