import { describe, expect, it } from "vitest";
import type { Manifest } from "@/lib/engine/repository/manifest";
import { startingBase } from "./pitr";

const base = (artifact: string, finishedAt: string, walStartLsn: string) =>
  ({ artifact, kind: "base", finishedAt, walStartLsn, timeline: 1 }) as unknown as Manifest;
const bases = [
  base("base/a", "2026-11-01T02:00:00Z", "0/3000028"),
  base("base/b", "2026-11-08T02:00:00Z", "0/9000028"),
  base("base/c", "2026-11-15T02:00:00Z", "1/28"),
];

/** A PITR from the bucket fetches WAL only from the base backup it will start from, not the whole off-site history. */
describe("the base backup a PITR starts from (what WAL it fetches from the bucket)", () => {
  it("is the newest that finished before a time, the newest for latest, the newest that started before an LSN", () => {
    expect(startingBase(bases, { kind: "time", input: "x", utc: new Date("2026-11-10T00:00:00Z"), zone: "UTC" })?.artifact).toBe("base/b");
    expect(startingBase(bases, { kind: "time", input: "x", utc: new Date("2026-11-20T00:00:00Z"), zone: "UTC" })?.artifact).toBe("base/c");
    expect(startingBase(bases, { kind: "latest" })?.artifact).toBe("base/c");
    expect(startingBase(bases, { kind: "lsn", lsn: "0/A000000" })?.artifact).toBe("base/b");
  });

  it("is the oldest when the manifests cannot tell (a restore point, or a target before every base backup)", () => {
    expect(startingBase(bases, { kind: "name", name: "before-migration" })?.artifact).toBe("base/a");
    expect(startingBase(bases, { kind: "time", input: "x", utc: new Date("2026-10-01T00:00:00Z"), zone: "UTC" })?.artifact).toBe("base/a");
    expect(startingBase([], { kind: "latest" })).toBeUndefined();
  });
});
