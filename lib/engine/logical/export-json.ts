import pg from "pg";
import Cursor from "pg-cursor";
import type { Writable } from "node:stream";
import { listColumns, type TableInfo } from "./catalog-queries";
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

const NATIVE_NUMBER = new Set(["smallint", "integer"]);
const BATCH = 1000;

function encodeValue(value: string | null, type: string): string | number | boolean | null {
  if (value === null) return null;
  if (NATIVE_NUMBER.has(type)) return Number(value);
  if (type === "boolean") return value === "t" || value === "true";
  return value;
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
  for (const [index, table] of options.tables.entries()) {
    const columns = await listColumns(client, table);
    const model = table.schema === "public" ? options.naming?.get(table.name) : undefined;
    const described: JsonExportColumn[] = columns.map((c) => ({ column: c.name, field: model?.fields.get(c.name) ?? c.name, type: c.type }));
    const tableDoc: JsonExportTable = { schema: table.schema, table: table.name, name: model?.model ?? table.name, columns: described };
    const tableJson = JSON.stringify(tableDoc);
    await writeChunk(output, `${index === 0 ? "" : ","}${tableJson.slice(0, -1)},"rows":[\n`);

    const select = columns.length ? columns.map((c) => `${pg.escapeIdentifier(c.name)}::text`).join(", ") : "null";
    const cursor = client.query(new Cursor(`select ${select} from only ${table.qualified}`, [], { rowMode: "array" }));
    let count = 0;
    try {
      for (;;) {
        throwIfAborted(options.signal);
        const rows = (await cursor.read(BATCH)) as (string | null)[][];
        if (rows.length === 0) break;
        let chunk = "";
        for (const row of rows) {
          const object: Record<string, unknown> = {};
          described.forEach((column, i) => {
            object[column.field] = encodeValue(row[i] ?? null, column.type);
          });
          chunk += `${count === 0 ? "" : ","}${JSON.stringify(object)}\n`;
          count += 1;
        }
        await writeChunk(output, chunk);
        total += rows.length;
        options.onRows?.(total);
      }
    } finally {
      await cursor.close();
    }
    counts[table.qualified] = count;
    await writeChunk(output, `],"rowCount":${count}}\n`);
  }
  await writeChunk(output, "]}\n");
  return counts;
}
