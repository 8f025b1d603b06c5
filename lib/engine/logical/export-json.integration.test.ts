import { PassThrough } from "node:stream";
import { text } from "node:stream/consumers";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { copyOut } from "../pg/copy-out";
import { withClient } from "../pg/server-info";
import { listColumns, listTables, type TableInfo } from "./catalog-queries";
import { exportJson } from "./export-json";
import type { PrismaNaming } from "./prisma-naming";
import { createTestTarget, type TestTarget } from "@/test/helpers/target";

/**
 * The export as the per-row JavaScript encoder wrote it before PostgreSQL took over (issue 12):
 * each value's text form, integer/smallint as numbers, boolean as true/false, NULL as null,
 * JSON.stringify'd. The new export must write exactly these bytes.
 */
async function referenceExport(client: pg.ClientBase, tables: TableInfo[], naming: PrismaNaming, header: Record<string, string>): Promise<string> {
  let out = `${JSON.stringify({ format: "lifeboat-json-export", version: 1, ...header, naming: "prisma" }).slice(0, -1)},"tables":[\n`;
  for (const [index, table] of tables.entries()) {
    const columns = await listColumns(client, table);
    const model = table.schema === "public" ? naming.get(table.name) : undefined;
    const described = columns.map((c) => ({ column: c.name, field: model?.fields.get(c.name) ?? c.name, type: c.type }));
    out += `${index === 0 ? "" : ","}${JSON.stringify({ schema: table.schema, table: table.name, name: model?.model ?? table.name, columns: described }).slice(0, -1)},"rows":[\n`;
    const select = columns.length ? columns.map((c) => `${pg.escapeIdentifier(c.name)}::text`).join(", ") : "null";
    const { rows } = await client.query<(string | null)[]>({ text: `select ${select} from only ${table.qualified}`, rowMode: "array" });
    rows.forEach((row, r) => {
      const object: Record<string, unknown> = {};
      described.forEach((column, i) => {
        const value = row[i] ?? null;
        object[column.field] =
          value === null ? null : ["smallint", "integer"].includes(column.type) ? Number(value) : column.type === "boolean" ? value === "true" : value;
      });
      out += `${r === 0 ? "" : ","}${JSON.stringify(object)}\n`;
    });
    out += `],"rowCount":${rows.length}}\n`;
  }
  return `${out}]}\n`;
}

describe("JSON export written by PostgreSQL", () => {
  let target: TestTarget;

  beforeAll(async () => {
    target = await createTestTarget();
    const controls = Array.from({ length: 31 }, (_, i) => String.fromCharCode(i + 1)).join("");
    await target.query(`
      create domain positive as integer check (value > 0);
      create schema "Other ""schema""";
      create table odd (id integer primary key, "say ""hi""" text, "ключ" jsonb, "é" varchar(10), pad char(8), small smallint, flag boolean,
                        n numeric, big bigint, b bytea, arr int[], d positive, ts timestamptz, f float8, js json, "a\\b" text);
      create table "Other ""schema""".wide (id bigint, body text);
      create table empty (id int);
      create table nocols ();
      insert into nocols default values; insert into nocols default values;`);
    await target.query(
      `insert into odd values
        (1, $1, '{"k": [1, 2.50, null], "s": "\\u0001\\"\\\\"}', 'ü€😀', 'ab', -32768, true, 12345678901234567890.000001, 9223372036854775807,
         '\\x00ff0102', '{1,NULL,-3}', 7, '2026-01-15 14:30:00.123456+07', 'NaN', '{"b":1,  "b":2}', '\\'),
        (2, ',', 'null', '', '', 0, false, -0.5, -9007199254740993, '\\x', '{}', 1, '-infinity', 1e308, 'null', ''),
        (3, null, null, null, null, null, null, null, null, null, null, null, null, null, null, null),
        (4, '"quoted" \\ back\\slash tab\there ' || chr(127) || chr(8232) || chr(8233) || ' end', '"\\u0002"', 'x', 'padded  ', 32767, true, 'Infinity', 0, '\\xdeadbeef', '{2147483647}', 2147483647, 'epoch', -0.0, '[]', ',\n')`,
      [`${controls} ,,, \x01\x02 "x"`],
    );
    // Rows far larger than one COPY chunk, and rows that start with commas, so chunk boundaries fall everywhere.
    await target.query(
      `insert into "Other ""schema""".wide select g, repeat(',' || chr(10) || '"\\' || chr(1), g * 7919 % 70000) from generate_series(1, 60) g`,
    );
  });

  afterAll(async () => {
    await target?.remove();
  });

  it("writes exactly the bytes of the per-row JavaScript encoder, for every type, name and control character", async () => {
    const naming: PrismaNaming = new Map([
      [
        "odd",
        {
          model: "Odd",
          fields: new Map([
            ['say "hi"', "sayHi"],
            ["ключ", "key"],
          ]),
        },
      ],
    ]);
    const header = { target: "app", database: "app", serverVersion: "15", exportedAt: "2026-01-15T02:00:00.000Z" };
    await withClient(target.connection, async (client) => {
      const tables = await listTables(client);
      expect(tables.map((t) => t.name).sort()).toEqual(["empty", "nocols", "odd", "wide"]);
      const expected = await referenceExport(client, tables, naming, header);
      const output = new PassThrough();
      const [written, counts] = await Promise.all([text(output), exportJson({ client, tables, header, naming, output }).finally(() => output.end())]);
      expect(counts).toEqual({ '"Other ""schema""".wide': 60, "public.empty": 0, "public.nocols": 2, "public.odd": 4 });
      expect(written.length).toBe(expected.length);
      expect(written).toBe(expected);
      // One JSON document, one row per line (restore json reads it line by line).
      const document = JSON.parse(written) as { tables: { rows: Record<string, unknown>[] }[] };
      expect(document.tables.map((t) => t.rows.length)).toEqual([60, 0, 2, 4]);
      expect(written.split("\n").length).toBe(1 + 4 * 2 + 60 + 2 + 4 + 1 + 1);
    });
  });

  it("a consumer that fails mid-COPY leaves the session usable: the rest is read and dropped", async () => {
    await withClient(target.connection, async (client) => {
      await client.query("begin isolation level repeatable read read only");
      let chunks = 0;
      const failing = copyOut(client, "copy (select repeat('x', 1000) from generate_series(1, 20000)) to stdout", async () => {
        chunks += 1;
        await new Promise((r) => setTimeout(r, 5));
        throw new Error("disk full");
      });
      await expect(failing).rejects.toThrow("disk full");
      expect(chunks).toBe(1);
      expect((await client.query<{ n: number }>("select count(*)::int as n from odd")).rows[0]!.n).toBe(4);
      await client.query("commit");
    });
  });

  it("a cancel that closes the session mid-COPY (as the snapshot's abort does) fails the COPY at once, without an unhandled error", async () => {
    const client = new pg.Client({ ...target.connection, password: target.connection.password ?? "" });
    client.on("error", () => undefined);
    await client.connect();
    await client.query("begin isolation level repeatable read read only");
    const started = Date.now();
    const cancelled = copyOut(client, "copy (select repeat('x', 1000) from generate_series(1, 2000000)) to stdout", async () => {
      void client.end().catch(() => undefined);
      await new Promise((r) => setTimeout(r, 20));
      throw new Error("cancelled");
    });
    // Whichever comes first: the closed connection or the consumer's own error.
    await expect(cancelled).rejects.toThrow(/cancelled|Connection terminated/);
    expect(Date.now() - started).toBeLessThan(10_000);
  });
});
