import { describe, expect, it } from "vitest";
import { forecastDisk, walPerHour } from "./health-data";

const at = (iso: string, archivedCount: number, failedCount = 0) => ({ sampledAt: new Date(iso), archivedCount, failedCount });

describe("WAL per hour from archiver samples", () => {
  it("counts each difference of the counters in the hour of the later sample", () => {
    const hours = walPerHour([
      at("2026-01-15T10:58:00Z", 100, 1),
      at("2026-01-15T10:59:00Z", 103, 1),
      at("2026-01-15T11:00:00Z", 104, 2),
      at("2026-01-15T11:30:00Z", 110, 2),
    ]);
    expect(hours).toEqual([
      { hour: Date.parse("2026-01-15T10:00:00Z"), archived: 3, failed: 0 },
      { hour: Date.parse("2026-01-15T11:00:00Z"), archived: 7, failed: 1 },
    ]);
  });

  it("starts again after a counter went down (statistics reset) and ignores the order samples come in", () => {
    const hours = walPerHour([at("2026-01-15T12:20:00Z", 2), at("2026-01-15T12:10:00Z", 500), at("2026-01-15T12:30:00Z", 5)]);
    expect(hours).toEqual([{ hour: Date.parse("2026-01-15T12:00:00Z"), archived: 3, failed: 0 }]);
  });

  it("needs two samples for a bar", () => {
    expect(walPerHour([at("2026-01-15T12:20:00Z", 2)])).toEqual([]);
  });
});

describe("repository volume forecast", () => {
  const GiB = 1024 ** 3;

  it("projects use at last week's growth until the volume is full", () => {
    const f = forecastDisk({ totalBytes: 100 * GiB, freeBytes: 10 * GiB, growthBytesPerDay: GiB });
    expect(f.daysUntilFull).toBe(10);
    expect(f.points[0]).toEqual({ day: 0, usedBytes: 90 * GiB });
    expect(f.points.at(-1)!.usedBytes).toBe(100 * GiB);
    expect(f.points.every((p, i) => i === 0 || p.usedBytes >= f.points[i - 1]!.usedBytes)).toBe(true);
  });

  it("says a volume that does not grow never fills, and draws 90 days flat", () => {
    const f = forecastDisk({ totalBytes: 100 * GiB, freeBytes: 60 * GiB, growthBytesPerDay: 0 });
    expect(f.daysUntilFull).toBeNull();
    expect(f.points.at(-1)!.day).toBe(90);
    expect(new Set(f.points.map((p) => p.usedBytes))).toEqual(new Set([40 * GiB]));
  });
});
