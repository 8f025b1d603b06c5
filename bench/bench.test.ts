import { describe, expect, it } from "vitest";
import { parseArgs, parseSize } from "./args";
import { historyPageSql } from "./history-query";
import { interleave, median, spread } from "./stats";

describe("npm run bench: options and statistics", () => {
  it("reads sizes as a person writes them, and refuses nonsense", () => {
    expect(parseSize("1GB")).toBe(1024 ** 3);
    expect(parseSize("100MB")).toBe(100 * 1024 ** 2);
    expect(parseSize("0.5GiB")).toBe(512 * 1024 ** 2);
    expect(() => parseSize("lots")).toThrow(/--size/);
    expect(() => parseSize("5MB")).toThrow(/at least 20MB/);
    const options = parseArgs(["--size", "50MB", "--rounds=1", "--out", "/tmp/x/bench.md"], { markdownPath: "d.md", jsonPath: "d.json" });
    expect(options).toMatchObject({ sizeBytes: 50 * 1024 ** 2, sizeText: "50MB", rounds: 1, markdownPath: "/tmp/x/bench.md", jsonPath: "/tmp/x/bench.json" });
    expect(parseArgs([], { markdownPath: "d.md", jsonPath: "d.json" })).toMatchObject({ sizeBytes: 1024 ** 3, rounds: 3 });
    expect(() => parseArgs(["--rounds", "0"], { markdownPath: "d.md", jsonPath: "d.json" })).toThrow(/--rounds/);
    expect(() => parseArgs(["--fast"], { markdownPath: "d.md", jsonPath: "d.json" })).toThrow(/unknown option/);
  });

  it("medians and spread", () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 2, 3])).toBe(2.5);
    expect(spread([9, 10, 11])).toBeCloseTo(0.2);
    expect(spread([5])).toBe(0);
  });

  it("interleaves contenders, rotating who goes first each round", async () => {
    const order: string[] = [];
    const contender = (id: string) => ({ id, label: id, run: async () => (order.push(id), { seconds: 1 }) });
    const series = await interleave(3, [contender("a"), contender("b"), contender("c")]);
    expect(order).toEqual(["a", "b", "c", "b", "c", "a", "c", "a", "b"]);
    expect(series.map((s) => [s.id, s.samples.length])).toEqual([
      ["a", 3],
      ["b", 3],
      ["c", 3],
    ]);
  });

  it("times the history page the dashboard asks for: newest first, 50 rows, never the manifests", () => {
    expect(historyPageSql).toMatch(/order by a\.started_at desc, a\.id desc\s+limit 50/);
    expect(historyPageSql).not.toMatch(/a\.manifest\b/);
  });
});
