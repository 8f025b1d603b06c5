import pg from "pg";
import type { Writable } from "node:stream";
import { copyOut } from "../pg/copy-out";
import { listColumns, type ColumnInfo, type TableInfo } from "./catalog-queries";
import { writeChunk } from "./artifact-sink";
import type { PrismaNaming } from "./prisma-naming";
import { throwIfAborted } from "../errors";

/**
 * The JSON export: one document per export, written one line per row so that it streams both
 * ways with flat memory. Values are PostgreSQL's own text form (exact for numeric, bigint, bytea,
 * timestamptz, jsonb, arrays), except integer/smallint (JSON numbers) and boolean; SQL NULL is
 * JSON null, so a jsonb `null` value ("null") stays distinct from a missing value.
 *
 *   {"format":"lifeboat-json-export",...,"tables":[
 *   {"schema":"public","table":"users","name":"User","columns":[...],"rows":[
 *   {"id":1,"email":"a@b"}
 *   ,{"id":2,"email":"c@d"}
 *   ],"rowCount":2}
 *   ,{"schema":...,"rows":[
 *   ],"rowCount":0}
 *   ]}
 */
export const JSON_EXPORT_FORMAT = "lifeboat-json-export";

export type JsonExportHeader = {
  format: typeof JSON_EXPORT_FORMAT;
  version: 1;
  target: string;
  database: string;
  serverVersion: string;
  exportedAt: string;
  /** "prisma" when names come from the app's schema.prisma, else "postgres". */
  naming: "prisma" | "postgres";
};

export type JsonExportColumn = { column: string; field: string; type: string };

export type JsonExportTable = {
  schema: string;
  table: string;
  /** Model name (Prisma naming) or table name. */
  name: string;
  columns: JsonExportColumn[];
};

/** Types written as JSON values (numbers, true/false); every other value is its text form, a string. */
const NATIVE = new Set(["smallint", "integer", "boolean"]);
const PROGRESS_EVERY = 1000;
const NEWLINE = 0x0a;

/**
 * The COPY that writes a table's rows exactly as the format above says, one per line, each after a
 * comma (the caller drops the first one). PostgreSQL encodes them (row_to_json, keys in column
 * order, escaped as JSON.stringify does): no value is parsed or encoded in JavaScript, which made the
 * export 5-10x slower than COPY (issue 12). CSV with delimiter and quote characters that never occur
 * in JSON text (controls are escaped there) leaves each line exactly as row_to_json wrote it.
 */
export function exportRowsSql(table: TableInfo, columns: (ColumnInfo & { field: string })[]): string {
  const values = columns.map((c) => `t.${pg.escapeIdentifier(c.name)}${NATIVE.has(c.type) ? "" : "::text"} as ${pg.escapeIdentifier(c.field)}`);
  return (
    `copy (select ',' || row_to_json(r)::text from (select ${values.join(", ")} from only ${table.qualified} t) r) ` +
    `to stdout with (format csv, delimiter E'\\x01', quote E'\\x02')`
  );
}

function countLines(chunk: Buffer): number {
  let lines = 0;
  for (let i = chunk.indexOf(NEWLINE); i !== -1; i = chunk.indexOf(NEWLINE, i + 1)) lines += 1;
  return lines;
}

export async function exportJson(options: {
  client: pg.ClientBase;
  tables: TableInfo[];
  header: Omit<JsonExportHeader, "format" | "version" | "naming">;
  naming?: PrismaNaming | undefined;
  output: Writable;
  signal?: AbortSignal | undefined;
  onRows?: ((rowsSoFar: number) => void) | undefined;
}): Promise<Record<string, number>> {
  const { client, output } = options;
  const header: JsonExportHeader = { format: JSON_EXPORT_FORMAT, version: 1, ...options.header, naming: options.naming ? "prisma" : "postgres" };
  const headerJson = JSON.stringify(header);
  await writeChunk(output, `${headerJson.slice(0, -1)},"tables":[\n`);

  const counts: Record<string, number> = {};
  let total = 0;
  let reported = 0;
  for (const [index, table] of options.tables.entries()) {
    const columns = await listColumns(client, table);
    const model = table.schema === "public" ? options.naming?.get(table.name) : undefined;
    const described: JsonExportColumn[] = columns.map((c) => ({ column: c.name, field: model?.fields.get(c.name) ?? c.name, type: c.type }));
    const tableDoc: JsonExportTable = { schema: table.schema, table: table.name, name: model?.model ?? table.name, columns: described };
    const tableJson = JSON.stringify(tableDoc);
    await writeChunk(output, `${index === 0 ? "" : ","}${tableJson.slice(0, -1)},"rows":[\n`);

    let count = 0;
    let first = true;
    await copyOut(
      client,
      exportRowsSql(
        table,
        columns.map((c, i) => ({ ...c, field: described[i]!.field })),
      ),
      async (chunk) => {
        throwIfAborted(options.signal);
        const lines = countLines(chunk);
        // Every row comes after a comma; the table's first one must not.
        await writeChunk(output, first ? chunk.subarray(1) : chunk);
        first = false;
        count += lines;
        total += lines;
        if (total - reported >= PROGRESS_EVERY) {
          reported = total;
          options.onRows?.(total);
        }
      },
    );
    counts[table.qualified] = count;
    await writeChunk(output, `],"rowCount":${count}}\n`);
  }
  await writeChunk(output, "]}\n");
  return counts;
}
