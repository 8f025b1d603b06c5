import { runPgTool } from "../pg/run-pg-tool";
import type { ArtifactWriter, WriterInput } from "../backup/types";
import { streamIntoFile } from "./artifact-sink";
import { DUMP_ZSTD, zstdTransform } from "./zstd-stream";

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

/**
 * pg_dump's custom format, uncompressed, through a multi-threaded zstd into
 * full_backup_<time>.dump.zst (then age when encrypted): `zstd -d` gives back a standard .dump.
 */
async function writeZstdDump(input: WriterInput): Promise<void> {
  const { staged, recipients, settings, target } = input;
  await runPgTool({
    tool: "pg_dump",
    args: ["--format=custom", "--compress=0", ...snapshotArgs(input)],
    connection: target.connection,
    pgBinDir: settings.pgBinDir,
    signal: input.signal,
    onProgress: (p) => input.progress("dumping", { bytes: p.bytes }),
    stdoutConsumer: async (stdout) => {
      const { output, done } = zstdTransform(stdout, DUMP_ZSTD.args, input.signal);
      await Promise.all([streamIntoFile(output, staged.tempPath, { recipients }), done]);
    },
  });
}

export const writeFullDump: ArtifactWriter = async (input) => {
  const { settings } = input;
  const parallel = settings.dumpJobs > 1;
  if (!parallel && settings.dumpCompression === "zstd") {
    await writeZstdDump(input);
    return { compression: DUMP_ZSTD.describe, toolVersions: pgDumpVersion(input) };
  }
  const args = parallel
    ? ["--format=directory", `--jobs=${settings.dumpJobs}`, `--compress=${settings.compressionLevel}`, ...snapshotArgs(input)]
    : ["--format=custom", `--compress=${settings.compressionLevel}`, ...snapshotArgs(input)];
  await runDump(input, args, !parallel);
  return {
    compression: settings.compressionLevel === 0 ? "none" : `gzip:${settings.compressionLevel} (pg_dump)`,
    toolVersions: pgDumpVersion(input),
  };
};

export const writeSchemaDump: ArtifactWriter = async (input) => {
  await runDump(input, ["--schema-only", "--format=plain", ...snapshotArgs(input)], true);
  return { compression: "none", toolVersions: pgDumpVersion(input) };
};
