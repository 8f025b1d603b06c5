import pg from "pg";
import { withPassfile } from "@/lib/engine/pg/passfile";
import type { PgConnection } from "@/lib/engine/pg/connection";
import { run } from "./proc";

/**
 * A database that backs up like a real one: pgbench's tables (numbers, compress ~30x) for about
 * 35% of the size, and `documents` for the rest: prose-like text built from a vocabulary, hex
 * identifiers and a jsonb document per row (nested objects, arrays, numbers, timestamps), which
 * compress about 3-4x with gzip, as application tables do. pgbench data alone dumps to 2% of
 * its size and makes compression look free (issue 12).
 */
const WORDS =
  "the of and to in is was for on that with as by at from be this have are or not an which but it they has had were been their one all would there when more will can other about into than its only time new some could these two may first then do any like my now over such our man me even most made after also did many before must through back years where much your way well down should because each just those people how too little state good very make world still own see men work long get here between both life being under never day same another know while last might us great old year off come since against go came right used take three himself few house use during without again place american around however home small found thought went say part once general high upon school every don does got united left number course war until always away something fact though water less public put think almost hand enough far took head yet government system better set told nothing night end why called didn eyes find going look asked later knew point next program city business give group toward young days let room president side social given present several order national possible rather second face per among form important often things looked early white case john become large big need four within felt along children saw best church ever least power development light thing seemed family interest want members mind country area others done turned although open god service problem certain kind different thus began door help sense means whole matter perhaps itself york times law human line above name example action company hands local show whether five history gave today either act feet across taken past quite anything seen having death experience body word half really field am car words already themselves information tell together college shall money period held keep sure probably free seems political real behind cannot miss question air office making brought whose special major heard federal became study ago moment known result street boy economic reason position change south board individual job society areas west close turn love community true court force full".split(
    " ",
  );

const STATUSES = ["pending", "paid", "shipped", "delivered", "refunded", "cancelled"];

export type Dataset = { bytes: number; pgbenchScale: number; documents: number; tables: string[]; seconds: number };

function pgbenchScaleFor(sizeBytes: number): number {
  // pgbench: about 15 MiB per scale unit (accounts, their index and the small tables).
  return Math.max(1, Math.round((0.35 * sizeBytes) / (15 * 1024 ** 2)));
}

async function databaseSize(client: pg.Client): Promise<number> {
  return Number((await client.query<{ s: string }>("select pg_database_size(current_database()) as s")).rows[0]!.s);
}

/** One batch of documents: ~1 KiB per row on disk. Words are picked per row with random(). */
function documentBatchSql(from: number, count: number): string {
  const words = `array[${WORDS.map((w) => pg.escapeLiteral(w)).join(",")}]`;
  const statuses = `array[${STATUSES.map((s) => pg.escapeLiteral(s)).join(",")}]`;
  const n = WORDS.length;
  // The subqueries mention g so that they run once per row, and k so that their aggregates belong to them.
  return `
    with w as (select ${words} as v), s as (select ${statuses} as v)
    insert into documents (id, customer, title, body, attrs, created_at)
    select g,
           md5(g::text || 'customer'),
           initcap((select string_agg(w.v[1 + floor(random() * ${n})::int + 0 * k], ' ') from generate_series(1, 4 + g % 5) k)),
           (select string_agg(w.v[1 + floor(random() * ${n})::int + 0 * k]
                              || case when random() < 0.25 then ' ' || floor(random() * 100000)::int::text else '' end
                              || case when random() < 0.05 then ' ' || substr(md5(random()::text), 1, 10) else '' end
                              || case when random() < 0.07 then '.' else '' end, ' ')
              from generate_series(1, 50 + (g % 60)) k),
           jsonb_build_object(
             'order', upper(substr(md5(g::text), 1, 12)),
             'status', s.v[1 + g % ${STATUSES.length}],
             'amount', round((random() * 500)::numeric, 2),
             'currency', case when g % 4 = 0 then 'EUR' else 'USD' end,
             'tags', (select jsonb_agg(w.v[1 + floor(random() * ${n})::int + 0 * k]) from generate_series(1, 1 + g % 4) k),
             'items', (select jsonb_agg(jsonb_build_object('sku', 'SKU-' || (1000 + floor(random() * 9000))::int,
                                                           'qty', 1 + floor(random() * 5)::int,
                                                           'price', round((random() * 100 + 0 * k)::numeric, 2)))
                         from generate_series(1, 1 + g % 3) k),
             'shipping', jsonb_build_object('city', w.v[1 + g % ${n}], 'zip', lpad((g % 99999)::text, 5, '0'))),
           timestamptz '2024-01-01' + (g || ' minutes')::interval
    from generate_series(${from}, ${from + count - 1}) g, w, s`;
}

/**
 * Build the dataset in `connection`'s database: pgbench -i, then documents in batches (two
 * sessions at once) until the database reaches `sizeBytes`.
 */
export async function buildDataset(options: { connection: PgConnection; sizeBytes: number; pgbench: string; say: (line: string) => void }): Promise<Dataset> {
  const started = Date.now();
  const { connection, sizeBytes, say } = options;
  const scale = pgbenchScaleFor(sizeBytes);
  say(`pgbench -i -s ${scale}`);
  // The password through a per-job passfile (DESIGN.md), never PGPASSWORD.
  await withPassfile(connection, (passfile) =>
    run(options.pgbench, ["-i", "-q", "-s", String(scale), "-h", connection.host, "-p", String(connection.port), "-U", connection.user, connection.database], {
      env: { ...process.env, ...(passfile ? { PGPASSFILE: passfile } : {}) },
    }),
  );
  const client = new pg.Client({ ...connection, password: connection.password ?? "" });
  await client.connect();
  let next = 1;
  try {
    await client.query(`create table documents (
      id bigint primary key, customer text not null, title text not null, body text not null,
      attrs jsonb not null, created_at timestamptz not null)`);
    const batch = Math.max(5_000, Math.min(100_000, Math.round(sizeBytes / 1024 / 40)));
    let size = await databaseSize(client);
    const second = new pg.Client({ ...connection, password: connection.password ?? "" });
    await second.connect();
    try {
      while (size < sizeBytes) {
        // Two batches at once: one per core.
        const remainingRows = Math.ceil((sizeBytes - size) / 1100);
        const each = Math.max(1_000, Math.min(batch, Math.ceil(remainingRows / 2)));
        await Promise.all([client.query(documentBatchSql(next, each)), second.query(documentBatchSql(next + each, each))]);
        next += 2 * each;
        size = await databaseSize(client);
        say(`  documents: ${next - 1} rows, database ${(size / 1024 ** 2).toFixed(0)} MiB`);
      }
    } finally {
      await second.end();
    }
    await client.query("vacuum analyze");
    await client.query("checkpoint");
    const bytes = await databaseSize(client);
    return {
      bytes,
      pgbenchScale: scale,
      documents: next - 1,
      tables: ["pgbench_accounts", "pgbench_branches", "pgbench_history", "pgbench_tellers", "documents"],
      seconds: (Date.now() - started) / 1000,
    };
  } finally {
    await client.end();
  }
}
