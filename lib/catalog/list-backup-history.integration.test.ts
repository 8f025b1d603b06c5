import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { backupArtifacts, targets } from "@/lib/db/schema";
import { createTestMetadataDb, type TestMetadataDb } from "@/test/helpers/metadata-db";
import { listBackupHistory, parseHistoryFilters, ZBackupHistoryFilters, type TBackupHistoryFilters } from "./list-backup-history";

let meta: TestMetadataDb;

const filters = (input: Partial<TBackupHistoryFilters> = {}) => ZBackupHistoryFilters.parse(input);

// 60 artifacts over two targets and 30 days: kinds cycle full, schema, json; every 4th verified ok,
// every 10th failed its drill; sizes and durations spread so each sort gives a different order.
beforeAll(async () => {
  meta = await createTestMetadataDb();
  const [shop, other] = await meta.db
    .insert(targets)
    .values([
      { name: "shop", host: "127.0.0.1", port: 5432, database: "shop", username: "u" },
      { name: "other", host: "127.0.0.1", port: 5432, database: "other", username: "u" },
    ])
    .returning();
  const kinds = ["full", "schema", "json"] as const;
  const rows = Array.from({ length: 60 }, (_, i) => {
    const started = new Date(Date.UTC(2026, 0, 1 + Math.floor(i / 2), 2, 0, i));
    const kind = kinds[i % 3]!;
    const stamp = started
      .toISOString()
      .replace(/\.\d{3}Z$/, "Z")
      .replace(/:/g, "-");
    const name = kind === "full" ? `full_backup_${stamp}.dump` : kind === "schema" ? `schema_${stamp}.sql` : `data_export_${stamp}.json.gz`;
    return {
      targetId: i % 2 === 0 ? shop!.id : other!.id,
      kind,
      fileName: name,
      manifestFile: `${name}.manifest.json`,
      status: i === 7 ? ("missing" as const) : ("available" as const),
      startedAt: started,
      finishedAt: new Date(started.getTime() + ((i * 7919) % 61) * 1000),
      sizeBytes: ((i * 104729) % 997) * 1024,
      verifiedAt: i % 10 === 0 || i % 4 === 0 ? started : null,
      verifyStatus: i % 10 === 0 ? "failed" : i % 4 === 0 ? "ok" : null,
      manifest: {},
    };
  });
  await meta.db.insert(backupArtifacts).values(rows);
});

afterAll(async () => {
  await meta?.drop();
});

describe("listBackupHistory", () => {
  it("lists the newest first, 50 to a page, with the total", async () => {
    const page = await listBackupHistory(meta.db, filters());
    expect(page.total).toBe(60);
    expect(page.pageCount).toBe(2);
    expect(page.rows).toHaveLength(50);
    const times = page.rows.map((r) => r.startedAt.getTime());
    expect(times).toEqual([...times].sort((x, y) => y - x));
    expect(page.rows[0]!.fileName).toContain("2026-01-30T02-00-59Z");
    const second = await listBackupHistory(meta.db, filters({ page: 2 }));
    expect(second.rows).toHaveLength(10);
    const ids = new Set([...page.rows, ...second.rows].map((r) => r.id));
    expect(ids.size).toBe(60);
  });

  it("filters by target, kind, status, verified state and date range", async () => {
    const shop = await listBackupHistory(meta.db, filters({ target: "shop" }));
    expect(shop.total).toBe(30);
    expect(shop.rows.every((r) => r.target === "shop")).toBe(true);

    const full = await listBackupHistory(meta.db, filters({ kind: "full", target: "other" }));
    expect(full.total).toBe(10);
    expect(full.rows.every((r) => r.kind === "full" && r.target === "other")).toBe(true);

    const missing = await listBackupHistory(meta.db, filters({ status: "missing" }));
    expect(missing.rows.map((r) => r.status)).toEqual(["missing"]);

    const failed = await listBackupHistory(meta.db, filters({ verified: "failed" }));
    expect(failed.total).toBe(6);
    const ok = await listBackupHistory(meta.db, filters({ verified: "ok" }));
    expect(ok.rows.every((r) => r.verifyStatus === "ok" && r.verifiedAt)).toBe(true);
    const never = await listBackupHistory(meta.db, filters({ verified: "never" }));
    expect(never.total + ok.total + failed.total).toBe(60);
    expect(never.rows.every((r) => r.verifyStatus === null)).toBe(true);

    // Both ends included, in UTC days: Jan 3 to Jan 5 holds 3 days × 2 artifacts.
    const range = await listBackupHistory(meta.db, filters({ from: "2026-01-03", to: "2026-01-05" }));
    expect(range.total).toBe(6);
    expect(range.rows.every((r) => r.startedAt >= new Date("2026-01-03T00:00:00Z") && r.startedAt < new Date("2026-01-06T00:00:00Z"))).toBe(true);
  });

  it("sorts by size and by duration, both ways, ids breaking ties", async () => {
    const bySize = await listBackupHistory(meta.db, filters({ sort: "size", dir: "desc", pageSize: 100 }));
    const sizes = bySize.rows.map((r) => r.sizeBytes);
    expect(sizes).toEqual([...sizes].sort((x, y) => y - x));
    const byDuration = await listBackupHistory(meta.db, filters({ sort: "duration", dir: "asc", pageSize: 100 }));
    const durations = byDuration.rows.map((r) => r.durationMs);
    expect(durations).toEqual([...durations].sort((x, y) => x - y));
    expect(new Set(byDuration.rows.map((r) => r.id)).size).toBe(60);
    // Pages of a sort with ties neither repeat nor skip a row.
    const pages = await Promise.all([1, 2, 3].map((page) => listBackupHistory(meta.db, filters({ sort: "duration", pageSize: 25, page }))));
    expect(new Set(pages.flatMap((p) => p.rows.map((r) => r.id))).size).toBe(60);
  });

  it("past the last page: no rows, the total still right", async () => {
    const page = await listBackupHistory(meta.db, filters({ page: 9 }));
    expect(page.rows).toEqual([]);
    expect(page.total).toBe(60);
  });

  it("reads URL parameters, falling back to defaults for anything malformed", () => {
    expect(parseHistoryFilters({ kind: "full", page: "3", sort: "size", dir: "asc", pageSize: "25", from: "2026-01-02" })).toMatchObject({
      kind: "full",
      page: 3,
      sort: "size",
      dir: "asc",
      pageSize: 25,
      from: "2026-01-02",
    });
    expect(
      parseHistoryFilters({ kind: "nope", page: "-1", sort: "x", pageSize: "100000", from: "yesterday", target: "../x", verified: ["ok", "never"] }),
    ).toEqual({
      kind: undefined,
      status: undefined,
      target: undefined,
      verified: "ok",
      from: undefined,
      to: undefined,
      page: 1,
      sort: "date",
      dir: "desc",
      pageSize: 50,
    });
  });
});
