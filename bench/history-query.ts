import pg from "pg";
import { median } from "./stats";

/**
 * The dashboard's history query with 10,000 backups in the catalog: the first page of 50, newest
 * first. Until `listBackupHistory` (lib/catalog/list-backup-history.ts) is on main, this times the
 * same SQL it sends (backup_artifacts joined to targets, ordered by started_at desc, id desc, a
 * window count, LIMIT 50); once it is, replace `historyPageSql` with a call to it.
 */
export const historyPageSql = `
  select a.id, t.name as target, a.kind, a.file_name, a.status, a.started_at, a.finished_at, a.size_bytes,
         a.encrypted, a.run_id, a.verified_at, a.verify_status, count(*) over () as total
  from backup_artifacts a join targets t on t.id = a.target_id
  order by a.started_at desc, a.id desc
  limit 50 offset 0`;

export type HistoryTiming = { rows: number; serverMs: number[]; clientMs: number[] };

/** Fill a migrated metadata database with `rows` artifacts over 3 targets, then time the page query. */
export async function measureHistoryQuery(databaseUrl: string, rows = 10_000, repeats = 15): Promise<HistoryTiming> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const targets = await client.query<{ id: number }>(
      `insert into targets (name, host, port, database, username)
       select 'bench' || i, '127.0.0.1', 5432, 'app', 'app' from generate_series(1, 3) i returning id`,
    );
    const ids = targets.rows.map((r) => r.id);
    // A realistic manifest per row (the page must not read it, but it makes the rows as wide as real ones).
    await client.query(
      `insert into backup_artifacts (target_id, kind, file_name, manifest_file, started_at, finished_at, size_bytes, sha256, compression, manifest)
       select ($1::int[])[1 + i % 3], (array['full','schema','json','env','base'])[1 + i % 5]::artifact_kind,
              'full_backup_' || i || '.dump', 'full_backup_' || i || '.dump.manifest.json',
              now() - (i || ' hours')::interval, now() - (i || ' hours')::interval + interval '40 seconds',
              (random() * 1e9)::bigint, md5(i::text) || md5(i::text), 'gzip:6',
              jsonb_build_object('kind', 'full', 'files', (select jsonb_agg(jsonb_build_object('name', 'f' || j, 'sha256', md5(j::text))) from generate_series(1, 20 + i % 3) j))
       from generate_series(1, $2::int) i`,
      [ids, rows],
    );
    await client.query("analyze backup_artifacts; analyze targets");
    const serverMs: number[] = [];
    const clientMs: number[] = [];
    for (let i = 0; i < repeats; i++) {
      const started = process.hrtime.bigint();
      await client.query(historyPageSql);
      clientMs.push(Number(process.hrtime.bigint() - started) / 1e6);
      const plan = await client.query<{ "QUERY PLAN": { "Planning Time": number; "Execution Time": number }[] }>(
        `explain (analyze, format json) ${historyPageSql}`,
      );
      const p = plan.rows[0]!["QUERY PLAN"][0]!;
      serverMs.push(p["Planning Time"] + p["Execution Time"]);
    }
    return { rows, serverMs, clientMs };
  } finally {
    await client.end();
  }
}

export function summarizeHistory(t: HistoryTiming): { serverMs: number; clientMs: number } {
  return { serverMs: median(t.serverMs), clientMs: median(t.clientMs) };
}
