import type pg from "pg";

export type TableInfo = {
  schema: string;
  name: string;
  /** quote_ident(schema).quote_ident(name): unambiguous, and the key used in manifests. */
  qualified: string;
};

export type ColumnInfo = { name: string; type: string };

/** Ordinary tables and partitions (not partitioned parents) outside the system schemas. */
export async function listTables(client: pg.ClientBase): Promise<TableInfo[]> {
  const { rows } = await client.query<TableInfo>(
    `select n.nspname as schema, c.relname as name, quote_ident(n.nspname) || '.' || quote_ident(c.relname) as qualified
       from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where c.relkind = 'r' and n.nspname not in ('pg_catalog', 'information_schema') and n.nspname not like 'pg\\_%'
        and not exists (select 1 from pg_depend d where d.classid = 'pg_class'::regclass and d.objid = c.oid and d.deptype = 'e')
      order by n.nspname, c.relname`,
  );
  return rows;
}

/** Columns that hold data (not dropped, not generated), in table order, with their full SQL type. */
export async function listColumns(client: pg.ClientBase, table: TableInfo): Promise<ColumnInfo[]> {
  const { rows } = await client.query<ColumnInfo>(
    `select a.attname as name, format_type(a.atttypid, a.atttypmod) as type
       from pg_attribute a
      where a.attrelid = $1::regclass and a.attnum > 0 and not a.attisdropped and a.attgenerated = ''
      order by a.attnum`,
    [table.qualified],
  );
  return rows;
}

/** Exact row counts of every table (in the caller's snapshot when it holds one). */
export async function countRows(client: pg.ClientBase, tables: TableInfo[]): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const table of tables) {
    const { rows } = await client.query<{ n: string }>(`select count(*) as n from only ${table.qualified}`);
    counts[table.qualified] = Number(rows[0]?.n ?? 0);
  }
  return counts;
}

export type TableSummary = { rows: Record<string, number>; checksums: Record<string, string> };

/**
 * How a table's content checksum is computed: the sum over all rows (order does not matter, so no
 * sort) of a hash of the row's text. `hash` (written "h:<sum>"): PostgreSQL's 64-bit
 * hashtextextended, the function hash partitioning relies on (stable across versions), about 3x
 * cheaper than md5, which was twice pg_dump's own time on a 1 GB database (issue 12). `md5` (a bare
 * number): the first 60 bits of md5, as manifests written before it hold; drills still read them.
 */
export type ChecksumMethod = "hash" | "md5";

const CHECKSUM_SQL: Record<ChecksumMethod, string> = {
  hash: "coalesce(sum(hashtextextended(t::text, 0)::numeric), 0)::text",
  md5: "coalesce(sum(('x' || substr(md5(t::text), 1, 15))::bit(60)::bigint::numeric), 0)::text",
};

/** The method a manifest's checksums were computed with (what a drill must compute to compare). */
export function checksumMethodOf(checksums: Record<string, string> | undefined): ChecksumMethod {
  const values = Object.values(checksums ?? {});
  return values.length > 0 && values.every((v) => !v.startsWith("h:")) ? "md5" : "hash";
}

/**
 * Exact row counts and a content checksum of every table, in one scan each. Taken in the backup's
 * snapshot and again in a restore drill, equal sums mean equal content.
 */
export async function summarizeTables(client: pg.ClientBase, tables: TableInfo[], method: ChecksumMethod = "hash"): Promise<TableSummary> {
  const summary: TableSummary = { rows: {}, checksums: {} };
  for (const table of tables) {
    const { rows } = await client.query<{ n: string; sum: string }>(`select count(*) as n, ${CHECKSUM_SQL[method]} as sum from only ${table.qualified} t`);
    summary.rows[table.qualified] = Number(rows[0]?.n ?? 0);
    const sum = rows[0]?.sum ?? "0";
    summary.checksums[table.qualified] = method === "hash" ? `h:${sum}` : sum;
  }
  return summary;
}

/** A libpq conninfo value, single-quoted (for the -d of pg_restore, whose value is a conninfo). */
export function conninfoValue(value: string): string {
  return `'${value.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;
}
