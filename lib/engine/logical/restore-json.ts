import { createReadStream } from "node:fs";
import path from "node:path";
import { createInterface } from "node:readline";
import type { Readable } from "node:stream";
import { createGunzip } from "node:zlib";
import pg from "pg";
import { decryptStream } from "../crypto/age";
import type { PgConnection } from "../pg/connection";
import { withClient } from "../pg/server-info";
import { LifeboatError, RestoreRefusedError, throwIfAborted } from "../errors";
import type { Repository } from "../repository/repository";
import { listColumns } from "./catalog-queries";
import { JSON_EXPORT_FORMAT, type JsonExportColumn, type JsonExportHeader, type JsonExportTable } from "./export-json";

export type RestoreJsonOptions = {
  repository: Repository;
  connection: PgConnection;
  fileName: string;
  /** Restore only these tables (by table name, model name or schema.table); all when omitted. */
  tables?: string[] | undefined;
  identities?: string[] | undefined;
  /** Give up after waiting this long for a table lock the application holds. */
  lockTimeoutSeconds?: number | undefined;
  signal?: AbortSignal | undefined;
  onPhase?: ((phase: string) => void) | undefined;
};

export type RestoreJsonResult = {
  file: string;
  tables: { table: string; rows: number; deleted: number; upserted: number }[];
  durationMs: number;
};

type TableState = {
  doc: JsonExportTable;
  qualified: string;
  temp: string;
  selected: boolean;
  rows: number;
  batch: Record<string, unknown>[];
};

const BATCH = 500;

/**
 * Restore tables from a JSON export, all or nothing: one transaction loads each chosen table into
 * a temporary copy, then makes the live table equal to it (rows missing from the export are
 * deleted, the others inserted or updated by primary key), parents before children, and resets
 * sequences. It refuses, changing nothing, when that would delete or alter rows of a table that
 * was not chosen (through a foreign key), so tables not named are untouched.
 */
export async function restoreJsonExport(options: RestoreJsonOptions): Promise<RestoreJsonResult> {
  const started = Date.now();
  options.onPhase?.("verifying checksums");
  const { path: file, manifest } = await options.repository.checkForRestore(options.fileName, "json");
  const artifact = path.basename(file);

  let source: Readable = createReadStream(file);
  if (manifest.encryption) source = await decryptStream(source, options.identities ?? []);
  const plain = source.pipe(createGunzip());
  source.once("error", (error) => plain.destroy(error));

  return withClient(
    options.connection,
    async (client) => {
      // A cancel (or Lifeboat being stopped) ends the session: the server rolls the transaction back.
      const onAbort = () => void client.end().catch(() => undefined);
      options.signal?.addEventListener("abort", onAbort, { once: true });
      await client.query("begin");
      const lockTimeout = options.lockTimeoutSeconds ?? 300;
      try {
        await client.query(`set local lock_timeout = '${lockTimeout}s'`);
        // The line reader is created only now: lines emitted before iteration starts would be lost.
        const states = await loadIntoTempTables(client, createInterface({ input: plain, crlfDelay: Infinity }), options.tables, options.signal);
        const selected = states.filter((s) => s.selected);
        options.onPhase?.("applying");
        const result = await applyTables(client, selected);
        throwIfAborted(options.signal);
        await client.query("commit");
        return { file: artifact, tables: result, durationMs: Date.now() - started };
      } catch (error) {
        await client.query("rollback").catch(() => undefined);
        throwIfAborted(options.signal);
        if ((error as { code?: string }).code === "55P03") {
          throw new LifeboatError(
            "LOCK_TIMEOUT",
            `The restore waited ${lockTimeout} s for tables the application holds locked and gave up; nothing was changed. Stop the application (or its long transaction) and try again.`,
            {},
            { cause: error },
          );
        }
        throw error;
      } finally {
        options.signal?.removeEventListener("abort", onAbort);
      }
    },
    10_000,
  );
}

function stripComma(line: string): string {
  return line.startsWith(",") ? line.slice(1) : line;
}

function matches(doc: JsonExportTable, wanted: string): boolean {
  return [doc.table, doc.name, `${doc.schema}.${doc.table}`].includes(wanted);
}

async function loadIntoTempTables(
  client: pg.ClientBase,
  lines: AsyncIterable<string>,
  wanted: string[] | undefined,
  signal: AbortSignal | undefined,
): Promise<TableState[]> {
  const states: TableState[] = [];
  let header: JsonExportHeader | undefined;
  let current: TableState | undefined;
  let finished = false;

  const flush = async (state: TableState) => {
    throwIfAborted(signal);
    if (state.batch.length === 0) return;
    await insertBatch(client, state, state.batch);
    state.batch = [];
  };

  for await (const raw of lines) {
    const line = raw.trimEnd();
    if (line === "") continue;
    if (!header) {
      header = JSON.parse(`${line}]}`) as JsonExportHeader;
      if (header.format !== JSON_EXPORT_FORMAT || header.version !== 1) throw new RestoreRefusedError("Not a Lifeboat JSON export (unknown format).");
      continue;
    }
    if (line === "]}") {
      finished = true;
      continue;
    }
    if (!current) {
      const doc = JSON.parse(`${stripComma(line)}]}`) as JsonExportTable & { rows: unknown[] };
      assertTableDocument(doc);
      const selected = !wanted || wanted.some((w) => matches(doc, w));
      current = {
        doc,
        qualified: `${pg.escapeIdentifier(doc.schema)}.${pg.escapeIdentifier(doc.table)}`,
        temp: `lifeboat_restore_${states.length}`,
        selected,
        rows: 0,
        batch: [],
      };
      if (selected) {
        await assertUserTable(client, current.qualified, doc);
        await useLiveColumnTypes(client, current);
        await client.query(`create temporary table ${current.temp} (like ${current.qualified}) on commit drop`);
      }
      states.push(current);
      continue;
    }
    if (line.startsWith("],")) {
      const { rowCount } = JSON.parse(`{${line.slice(2)}`) as { rowCount: number };
      if (rowCount !== current.rows) throw new RestoreRefusedError(`The export of ${current.doc.table} is incomplete (${current.rows} of ${rowCount} rows).`);
      if (current.selected) await flush(current);
      current = undefined;
      continue;
    }
    current.rows += 1;
    if (!current.selected) continue;
    current.batch.push(JSON.parse(stripComma(line)) as Record<string, unknown>);
    if (current.batch.length >= BATCH) await flush(current);
  }
  if (!header || !finished || current) throw new RestoreRefusedError("The JSON export ends early (truncated file).");

  if (wanted) {
    const unknown = wanted.filter((w) => !states.some((s) => matches(s.doc, w)));
    if (unknown.length) throw new RestoreRefusedError(`Not in this export: ${unknown.join(", ")} (nothing was changed).`);
  }
  return states;
}

/**
 * Types come from the live table, never from the file (a crafted file could otherwise put SQL in a
 * type name); every exported column must exist there.
 */
async function useLiveColumnTypes(client: pg.ClientBase, state: TableState): Promise<void> {
  const live = new Map(
    (await listColumns(client, { schema: state.doc.schema, name: state.doc.table, qualified: state.qualified })).map((c) => [c.name, c.type]),
  );
  state.doc.columns = state.doc.columns.map((column) => {
    const type = live.get(column.column);
    if (!type) throw new RestoreRefusedError(`Column ${column.column} of ${state.doc.table} is in the export but not in the database (nothing was changed).`);
    return { ...column, type };
  });
}

/** Text values cast by each column's own input function: exact for every type. */
async function insertBatch(client: pg.ClientBase, state: TableState, rows: Record<string, unknown>[]): Promise<void> {
  const columns = state.doc.columns;
  const payload = rows.map((row) => columns.map((c) => toText(row[c.field], `${state.doc.table}.${c.column}`)));
  const select = columns.map((c: JsonExportColumn, i) => `(r->>${i})::${c.type}`).join(", ");
  const names = columns.map((c) => pg.escapeIdentifier(c.column)).join(", ");
  await client.query(`insert into ${state.temp} (${names}) select ${select} from jsonb_array_elements($1::jsonb) as r`, [JSON.stringify(payload)]);
}

/**
 * Exports hold strings (PostgreSQL's text form), booleans, null, and integers as JSON numbers.
 * Anything else is refused rather than guessed at: a number beyond 2^53 has already lost digits
 * when JSON.parse read it, and an object or array is not a value Lifeboat wrote.
 */
function toText(value: unknown, column: string): string | null {
  if (value === null || value === undefined) return null;
  if (typeof value === "string") return value;
  if (typeof value === "boolean") return String(value);
  if (typeof value === "number" && Number.isSafeInteger(value)) return String(value);
  if (typeof value === "number") {
    throw new RestoreRefusedError(
      `Column ${column} holds the JSON number ${value}, which cannot be read without losing precision (Lifeboat writes such values as strings); nothing was changed.`,
    );
  }
  throw new RestoreRefusedError(
    `Column ${column} holds a JSON ${Array.isArray(value) ? "array" : typeof value}, which no Lifeboat export contains; nothing was changed.`,
  );
}

/** A table header read from the file: untrusted until its names are strings. */
function assertTableDocument(doc: JsonExportTable): void {
  const ok =
    typeof doc.schema === "string" &&
    typeof doc.table === "string" &&
    typeof doc.name === "string" &&
    Array.isArray(doc.columns) &&
    doc.columns.every((c) => typeof c?.column === "string" && typeof c.field === "string");
  if (!ok) throw new RestoreRefusedError("The JSON export has a malformed table header (nothing was changed).");
}

/** Only ordinary tables of the application's schemas can be restored, never the system catalogs. */
async function assertUserTable(client: pg.ClientBase, qualified: string, doc: JsonExportTable): Promise<void> {
  const { rows } = await client.query<{ schema: string; kind: string }>(
    "select n.nspname as schema, c.relkind::text as kind from pg_class c join pg_namespace n on n.oid = c.relnamespace where c.oid = to_regclass($1)",
    [qualified],
  );
  const row = rows[0];
  if (!row) throw new RestoreRefusedError(`Table ${doc.schema}.${doc.table} does not exist in the database; restore the schema first (nothing was changed).`);
  if (["pg_catalog", "information_schema"].includes(row.schema) || row.schema.startsWith("pg_") || !["r", "p"].includes(row.kind)) {
    throw new RestoreRefusedError(`${doc.schema}.${doc.table} is not an application table; a JSON restore never writes system catalogs (nothing was changed).`);
  }
}

type ForeignKey = { child: string; parent: string; childCols: string[]; parentCols: string[] };

async function foreignKeys(client: pg.ClientBase): Promise<ForeignKey[]> {
  const { rows } = await client.query<{ child: string; parent: string; child_cols: string[]; parent_cols: string[] }>(
    `select c.conrelid::regclass::text as child, c.confrelid::regclass::text as parent,
            array(select quote_ident(a.attname) from unnest(c.conkey) with ordinality k(n, i) join pg_attribute a on a.attrelid = c.conrelid and a.attnum = k.n order by k.i) as child_cols,
            array(select quote_ident(a.attname) from unnest(c.confkey) with ordinality k(n, i) join pg_attribute a on a.attrelid = c.confrelid and a.attnum = k.n order by k.i) as parent_cols
       from pg_constraint c where c.contype = 'f'`,
  );
  return rows.map((r) => ({ child: r.child, parent: r.parent, childCols: r.child_cols, parentCols: r.parent_cols }));
}

/** The primary key's columns, quoted the same way as every other column name here (pg.escapeIdentifier). */
async function primaryKey(client: pg.ClientBase, qualified: string): Promise<string[]> {
  const { rows } = await client.query<{ col: string }>(
    `select a.attname as col from pg_index i join unnest(i.indkey) with ordinality k(n, o) on true
       join pg_attribute a on a.attrelid = i.indrelid and a.attnum = k.n
      where i.indrelid = $1::regclass and i.indisprimary order by k.o`,
    [qualified],
  );
  return rows.map((r) => pg.escapeIdentifier(r.col));
}

/** regclass text of a table as PostgreSQL prints it (schema-qualified only off the search path). */
async function regclassName(client: pg.ClientBase, qualified: string): Promise<string> {
  const { rows } = await client.query<{ name: string }>("select $1::regclass::text as name", [qualified]);
  return rows[0]!.name;
}

async function applyTables(client: pg.ClientBase, selected: TableState[]): Promise<RestoreJsonResult["tables"]> {
  const fks = await foreignKeys(client);
  const byName = new Map<string, TableState>();
  for (const state of selected) byName.set(await regclassName(client, state.qualified), state);
  const order = topologicalOrder([...byName.keys()], fks);

  const keys = new Map<string, string[]>();
  for (const name of order) keys.set(name, await primaryKey(client, byName.get(name)!.qualified));

  // Rows to delete = live rows whose key is not in the export. Refuse if any row of a table that
  // was not chosen references one of them: the delete would cascade, null or fail there.
  for (const name of order) {
    const state = byName.get(name)!;
    const pk = keys.get(name)!;
    const doomed = pk.length
      ? `select t.* from ${state.qualified} t where not exists (select 1 from ${state.temp} s where ${pk.map((c) => `s.${c} = t.${c}`).join(" and ")})`
      : `select t.* from ${state.qualified} t`;
    for (const fk of fks.filter((f) => f.parent === name && !byName.has(f.child))) {
      const match = fk.childCols.map((c, i) => `c.${c} = d.${fk.parentCols[i]}`).join(" and ");
      const { rows } = await client.query<{ n: string }>(`select count(*) as n from ${fk.child} c where exists (select 1 from (${doomed}) d where ${match})`);
      const n = Number(rows[0]?.n ?? 0);
      if (n > 0) {
        throw new RestoreRefusedError(
          `Restoring ${state.doc.table} would remove rows that ${n} row(s) of ${fk.child} still reference, and ${fk.child} was not chosen. ` +
            `Add it to --tables, or restore every table (nothing was changed).`,
        );
      }
    }
  }

  const results = new Map<string, { table: string; rows: number; deleted: number; upserted: number }>();
  // Children first for deletes, parents first for inserts.
  for (const name of [...order].reverse()) {
    const state = byName.get(name)!;
    const pk = keys.get(name)!;
    const deleted = pk.length
      ? await client.query(
          `delete from ${state.qualified} t where not exists (select 1 from ${state.temp} s where ${pk.map((c) => `s.${c} = t.${c}`).join(" and ")})`,
        )
      : await client.query(`delete from ${state.qualified}`);
    results.set(name, { table: state.doc.table, rows: state.rows, deleted: deleted.rowCount ?? 0, upserted: 0 });
  }
  for (const name of order) {
    const state = byName.get(name)!;
    const pk = keys.get(name)!;
    const cols = state.doc.columns.map((c) => pg.escapeIdentifier(c.column));
    const nonKey = cols.filter((c) => !pk.includes(c));
    const conflict = !pk.length
      ? ""
      : nonKey.length
        ? ` on conflict (${pk.join(", ")}) do update set ${nonKey.map((c) => `${c} = excluded.${c}`).join(", ")}`
        : ` on conflict (${pk.join(", ")}) do nothing`;
    const upserted = await client.query(
      `insert into ${state.qualified} (${cols.join(", ")}) overriding system value select ${cols.join(", ")} from ${state.temp}${conflict}`,
    );
    results.get(name)!.upserted = upserted.rowCount ?? 0;
    await resetSequences(client, state.qualified);
  }
  return order.map((name) => results.get(name)!);
}

async function resetSequences(client: pg.ClientBase, qualified: string): Promise<void> {
  const { rows } = await client.query<{ col: string; seq: string }>(
    `select quote_ident(a.attname) as col, pg_get_serial_sequence($1, a.attname) as seq
       from pg_attribute a where a.attrelid = $1::regclass and a.attnum > 0 and not a.attisdropped
        and pg_get_serial_sequence($1, a.attname) is not null`,
    [qualified],
  );
  for (const row of rows) {
    await client.query(`select setval($1::regclass, coalesce((select max(${row.col}) from ${qualified}), 0) + 1, false)`, [row.seq]);
  }
}

/** Parents before children among the chosen tables; self-references and cycles keep input order. */
export function topologicalOrder(tables: string[], fks: { child: string; parent: string }[]): string[] {
  const set = new Set(tables);
  const order: string[] = [];
  const state = new Map<string, "visiting" | "done">();
  const visit = (table: string) => {
    if (state.get(table)) return;
    state.set(table, "visiting");
    for (const fk of fks) if (fk.child === table && fk.parent !== table && set.has(fk.parent)) visit(fk.parent);
    state.set(table, "done");
    order.push(table);
  };
  for (const table of tables) visit(table);
  return order;
}
