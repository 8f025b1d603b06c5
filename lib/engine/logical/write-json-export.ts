import { readFile } from "node:fs/promises";
import path from "node:path";
import type { ArtifactWriter } from "../backup/types";
import { openArtifactSink } from "./artifact-sink";
import { exportJson } from "./export-json";
import { parsePrismaNaming } from "./prisma-naming";

/** gzip level of JSON exports. */
const JSON_GZIP_LEVEL = 3;

/** The JSON export of every table, in the set's snapshot, gzipped (and age-encrypted when asked). */
export const writeJsonExport: ArtifactWriter = async (input) => {
  const { target, snapshot } = input;
  const naming = target.prismaSchemaPath ? parsePrismaNaming(await readFile(target.prismaSchemaPath, "utf8")) : undefined;
  const sink = await openArtifactSink(input.staged.tempPath, { gzip: { level: JSON_GZIP_LEVEL }, recipients: input.recipients });
  let rowCounts: Record<string, number>;
  try {
    rowCounts = await exportJson({
      client: snapshot!.client,
      tables: snapshot!.tables,
      naming,
      header: {
        target: target.name,
        database: target.connection.database,
        serverVersion: input.server.version.text,
        exportedAt: new Date().toISOString(),
      },
      output: sink.input,
      signal: input.signal,
      onRows: (rows) => input.progress("exporting", { rows }),
    });
  } catch (error) {
    sink.input.destroy(error as Error);
    await sink.done.catch(() => undefined);
    throw error;
  }
  sink.input.end();
  await sink.done;
  return {
    compression: `gzip:${JSON_GZIP_LEVEL} (parallel members)`,
    toolVersions: { lifeboat: "json-export/1" },
    tableRowCounts: rowCounts,
    notes: naming ? [`names from ${path.basename(target.prismaSchemaPath!)}`] : undefined,
  };
};
