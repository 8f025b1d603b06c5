import { runPgTool } from "../pg/run-pg-tool";
import type { ArtifactWriter, WriterInput } from "../backup/types";
import { streamIntoFile } from "./artifact-sink";

/**
 * pg_dump in the set's snapshot: the full dump (custom format, or directory format with parallel
 * jobs) or the schema. Encrypted artifacts stream pg_dump's stdout through age; plain ones let
 * pg_dump write the file itself.
 */
async function runDump(input: WriterInput, args: string[], watch: boolean): Promise<void> {
  const { staged, recipients, settings, target } = input;
  const onProgress = (p: { bytes: number }) => input.progress("dumping", { bytes: p.bytes });
  if (recipients.length) {
    await runPgTool({
      tool: "pg_dump",
      args,
      connection: target.connection,
      pgBinDir: settings.pgBinDir,
      signal: input.signal,
      onProgress,
      stdoutConsumer: (stdout) => streamIntoFile(stdout, staged.tempPath, { recipients }),
    });
    return;
  }
  await runPgTool({
    tool: "pg_dump",
    args: [...args, `--file=${staged.tempPath}`],
    connection: target.connection,
    pgBinDir: settings.pgBinDir,
    signal: input.signal,
    watchFile: watch ? staged.tempPath : undefined,
    onProgress,
  });
}

/**
 * pg_dump reads the set's snapshot, whose session already holds every table's lock. pg_dump still
 * asks for its own, and a migration queued for an exclusive lock in between would make it wait
 * behind that migration, which waits for us: the bounded wait turns that into a clear failure.
 */
function snapshotArgs(input: WriterInput): string[] {
  return [`--snapshot=${input.snapshot!.id}`, `--lock-wait-timeout=${input.settings.lockTimeoutSeconds * 1000}`];
}

function pgDumpVersion(input: WriterInput): Record<string, string> {
  return { pg_dump: input.toolVersions.pg_dump ?? "unknown" };
}

export const writeFullDump: ArtifactWriter = async (input) => {
  const { settings } = input;
  const parallel = settings.dumpJobs > 1;
  const args = parallel
    ? ["--format=directory", `--jobs=${settings.dumpJobs}`, `--compress=${settings.compressionLevel}`, ...snapshotArgs(input)]
    : ["--format=custom", `--compress=${settings.compressionLevel}`, ...snapshotArgs(input)];
  await runDump(input, args, !parallel);
  return {
    compression: settings.compressionLevel === 0 ? "none" : `gzip:${settings.compressionLevel} (pg_dump)`,
    toolVersions: pgDumpVersion(input),
    tableRowCounts: input.rowCounts,
    tableChecksums: input.tableChecksums,
  };
};

export const writeSchemaDump: ArtifactWriter = async (input) => {
  await runDump(input, ["--schema-only", "--format=plain", ...snapshotArgs(input)], true);
  return { compression: "none", toolVersions: pgDumpVersion(input), tableRowCounts: input.rowCounts };
};
