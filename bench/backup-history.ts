/**
 * The backup history with 10,000 backups (issue 11: "answers within 300 ms server time"): fills a
 * throwaway metadata database with BENCH_HISTORY_ROWS artifacts over two targets and a year, then
 * times listBackupHistory (the page's one query) for the filters and sorts the page offers,
 * median of BENCH_HISTORY_CALLS calls each.
 *
 *   npx tsx bench/backup-history.ts      BENCH_HISTORY_ROWS=10000   BENCH_HISTORY_CALLS=15
 *   BENCH_HISTORY_INDEX=1 adds the index proposed for the default sort (newest first) before timing.
 */
import { sql } from "drizzle-orm";
import { listBackupHistory, ZBackupHistoryFilters, type TBackupHistoryFilters } from "@/lib/catalog/list-backup-history";
import { backupArtifacts, targets } from "@/lib/db/schema";
import { createTestMetadataDb } from "@/test/helpers/metadata-db";

// Benchmark knobs, read here rather than through lib/env.ts, which describes the app.
const ROWS = Number(process.env.BENCH_HISTORY_ROWS ?? 10_000);
const CALLS = Number(process.env.BENCH_HISTORY_CALLS ?? 15);
const WITH_INDEX = process.env.BENCH_HISTORY_INDEX === "1";
const KINDS = ["full", "schema", "json", "base"] as const;

function stamp(date: Date): string {
  return date
    .toISOString()
    .replace(/\.\d{3}Z$/, "Z")
    .replace(/:/g, "-");
}

async function main() {
  const meta = await createTestMetadataDb();
  try {
    const made = await meta.db
      .insert(targets)
      .values([
        { name: "shop", host: "127.0.0.1", port: 5432, database: "shop", username: "u" },
        { name: "billing", host: "127.0.0.1", port: 5432, database: "billing", username: "u" },
      ])
      .returning();
    const start = Date.UTC(2025, 0, 1);
    const tables = Object.fromEntries(Array.from({ length: 20 }, (_, t) => [`public.table_${t}`, t * 1000]));
    for (let offset = 0; offset < ROWS; offset += 1000) {
      const batch = Array.from({ length: Math.min(1000, ROWS - offset) }, (_, j) => {
        const i = offset + j;
        const kind = KINDS[i % KINDS.length]!;
        const started = new Date(start + i * 3_000_000 + (i % 7) * 1000);
        const s = stamp(started);
        const fileName =
          kind === "full" ? `full_backup_${s}.dump` : kind === "schema" ? `schema_${s}.sql` : kind === "json" ? `data_export_${s}.json.gz` : `base/${s}`;
        // A manifest of realistic size (files with sha256, 20 tables' row counts): the query must not read it.
        const manifest = {
          format: "lifeboat-manifest",
          version: 1,
          kind,
          target: "shop",
          artifact: fileName,
          files: Array.from({ length: kind === "base" ? 3 : 1 }, (_, f) => ({
            name: `${fileName}${f ? `/${f}` : ""}`,
            size: 1000 + i,
            sha256: "a".repeat(64),
          })),
          tableRowCounts: tables,
        };
        return {
          targetId: made[i % 2]!.id,
          kind,
          fileName,
          manifestFile: `${fileName}.manifest.json`,
          status: i % 97 === 0 ? ("missing" as const) : ("available" as const),
          startedAt: started,
          finishedAt: new Date(started.getTime() + ((i * 7919) % 600) * 1000),
          sizeBytes: ((i * 104729) % 100_000) * 4096,
          verifiedAt: i % 5 === 0 ? started : null,
          verifyStatus: i % 5 === 0 ? (i % 50 === 0 ? "failed" : "ok") : null,
          manifest,
        };
      });
      await meta.db.insert(backupArtifacts).values(batch);
    }
    if (WITH_INDEX) await meta.db.execute(sql`create index backup_artifacts_started_idx on backup_artifacts (started_at, id)`);
    await meta.db.execute(sql`vacuum analyze backup_artifacts`);

    const cases: [string, Partial<TBackupHistoryFilters>][] = [
      ["newest first, page 1", {}],
      ["newest first, page 100", { page: 100 }],
      ["largest first", { sort: "size" }],
      ["longest first", { sort: "duration" }],
      ["kind full", { kind: "full" }],
      ["failed verification", { verified: "failed" }],
      ["one target, one month", { target: "shop", from: "2025-03-01", to: "2025-03-31" }],
      ["100 per page", { pageSize: 100 }],
    ];
    process.stdout.write(`listBackupHistory over ${ROWS} backups${WITH_INDEX ? " (with backup_artifacts_started_idx)" : ""}, median of ${CALLS} calls:\n`);
    for (const [label, input] of cases) {
      const filters = ZBackupHistoryFilters.parse(input);
      await listBackupHistory(meta.db, filters); // warm
      const times: number[] = [];
      let total = 0;
      for (let n = 0; n < CALLS; n++) {
        const started = process.hrtime.bigint();
        total = (await listBackupHistory(meta.db, filters)).total;
        times.push(Number(process.hrtime.bigint() - started) / 1e6);
      }
      times.sort((x, y) => x - y);
      const median = times[Math.floor(times.length / 2)]!;
      process.stdout.write(`  ${label.padEnd(26)} ${median.toFixed(1).padStart(7)} ms   (max ${times.at(-1)!.toFixed(1)} ms, ${total} rows match)\n`);
    }
  } finally {
    await meta.drop();
  }
}

await main();
