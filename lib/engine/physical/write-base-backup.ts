import { mkdir, readdir, readFile } from "node:fs/promises";
import path from "node:path";
import type { ArtifactWriter, WriterInput } from "../backup/types";
import { LifeboatError } from "../errors";
import { streamIntoFile } from "../logical/artifact-sink";
import { runPgTool } from "../pg/run-pg-tool";
import { WAL_SEGMENT_SIZE_SQL, withClient } from "../pg/server-info";
import { execChild } from "../process/spawn-child";
import { folderSize } from "../repository/walk";

/** Fields of a backup_label file ("START WAL LOCATION: 0/2000028 (file 000000010000000000000002)"). */
export function parseBackupLabel(text: string): { startLsn: string; timeline: number; startTime: string } {
  const startLsn = /^START WAL LOCATION: ([0-9A-F]+\/[0-9A-F]+)/m.exec(text)?.[1];
  const timeline = /^START TIMELINE: (\d+)/m.exec(text)?.[1];
  const startTime = /^START TIME: (.+)$/m.exec(text)?.[1];
  if (!startLsn || !timeline || !startTime) throw new LifeboatError("BASE_BACKUP_INVALID", "backup_label is incomplete");
  return { startLsn, timeline: Number(timeline), startTime };
}

/** The single file of a streamed (encrypted) base backup, inside its folder. */
export const BASE_STREAM_FILE = "base.tar.zst.age";

/**
 * pg_basebackup's --compress for a compressed (tar) base backup, and the archive it writes. The
 * server compresses (zstd with 2 workers), so the data crosses the connection once, already small.
 */
export const BASE_COMPRESSION: Record<"zstd" | "lz4", { compress: string; file: string; describe: string }> = {
  zstd: { compress: "server-zstd:level=3,workers=2", file: "base.tar.zst", describe: "zstd:3 (pg_basebackup server, 2 workers)" },
  lz4: { compress: "server-lz4", file: "base.tar.lz4", describe: "lz4 (pg_basebackup server)" },
};

/** The arguments of an unencrypted base backup into `dir` (also what the benchmark runs plain pg_basebackup with). */
export function baseBackupArgs(dir: string, compression: "zstd" | "lz4" | "none", label: string): string[] {
  const common = [`--pgdata=${dir}`, "--wal-method=stream", "--checkpoint=fast", "--manifest-checksums=SHA256", "--no-password", `--label=${label}`];
  return compression === "none" ? [...common, "--format=plain"] : [...common, "--format=tar", `--compress=${BASE_COMPRESSION[compression].compress}`];
}

/** How long pg_basebackup may wait for the archiver to take the backup's last WAL segment. */
const ARCHIVE_WAIT_MS = 10 * 60 * 1000;

async function walSegmentSize(input: WriterInput): Promise<number> {
  return withClient(input.target.connection, async (c) => {
    const { rows } = await c.query<{ size: string }>(`select ${WAL_SEGMENT_SIZE_SQL} as size`);
    return Number(rows[0]?.size ?? 16 * 1024 * 1024);
  });
}

/**
 * A physical base backup for PITR.
 *
 * Plain (default): pg_basebackup (plain format, WAL streamed in, SHA-256 manifest, fast
 * checkpoint) into the staged folder, checked with pg_verifybackup before it is committed.
 *
 * Encrypted (LIFEBOAT_ENCRYPT_BACKUPS): no plaintext may touch the repository, so pg_basebackup
 * writes one tar stream to stdout (its backup_manifest inside), compressed with zstd by the client
 * and encrypted with age on the way to `base/<time>/base.tar.zst.age`. It carries no WAL
 * (`-X none`): pg_basebackup waits until the archiver holds every segment the backup needs (and
 * its backup history file), so the archive completes it.
 */
export const writeBaseBackup: ArtifactWriter = async (input) => {
  const { settings, target, staged } = input;
  const segmentSize = await walSegmentSize(input);
  const common = ["--checkpoint=fast", "--manifest-checksums=SHA256", "--no-password", `--label=lifeboat ${input.timestamp}`];
  await mkdir(staged.tempPath, { mode: 0o700 });
  const toolVersions = { pg_basebackup: input.toolVersions.pg_basebackup ?? "unknown" };

  if (input.recipients.length > 0) {
    if (input.server.archiveMode === "off") {
      throw new LifeboatError("ARCHIVING_OFF", "An encrypted base backup relies on the WAL archive, and archive_mode is off on this server.");
    }
    const phase = "streaming the data directory (zstd, age)";
    input.progress(phase);
    // Once the data is written, pg_basebackup waits for the archiver to take the backup's WAL:
    // that wait, and only that, has a deadline.
    const archiveWait = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    try {
      await runPgTool({
        tool: "pg_basebackup",
        args: ["--pgdata=-", "--format=tar", "--wal-method=none", "--compress=client-zstd:level=3", ...common],
        connection: target.connection,
        pgBinDir: settings.pgBinDir,
        signal: input.signal ? AbortSignal.any([input.signal, archiveWait.signal]) : archiveWait.signal,
        onProgress: (p) => input.progress(phase, { bytes: p.bytes }),
        stdoutConsumer: async (stdout) => {
          stdout.once("end", () => {
            input.progress("waiting for the archiver to take the backup's WAL");
            timer = setTimeout(() => archiveWait.abort(), ARCHIVE_WAIT_MS);
          });
          await streamIntoFile(stdout, path.join(staged.tempPath, BASE_STREAM_FILE), { recipients: input.recipients });
        },
      });
    } catch (error) {
      if (archiveWait.signal.aborted && !input.signal?.aborted) {
        throw new LifeboatError(
          "ARCHIVE_WAIT_TIMEOUT",
          `pg_basebackup waited ${ARCHIVE_WAIT_MS / 60_000} minutes for the archiver to take the backup's WAL; check archiving (npm run wal:status).`,
          {},
          { cause: error },
        );
      }
      throw error;
    } finally {
      if (timer) clearTimeout(timer);
    }
    return {
      compression: "zstd:3 (pg_basebackup client)",
      toolVersions,
      extra: { ...(await walRangeFromArchive(input)), walSegmentSize: segmentSize },
      notes: ["tar stream, encrypted; its WAL is in the archive"],
    };
  }

  const compression = settings.baseCompression ?? "none";
  const backupLabel = `lifeboat ${input.timestamp}`;
  if (compression !== "none") {
    // In tar format each tablespace is a tar of its own, and recovery lays down only base.tar:
    // PostgreSQL would then follow tablespace_map to the original tablespace's folder (on this host,
    // the live cluster's files). Refuse rather than write a backup that recovers into production.
    const tablespaces = await withClient(target.connection, async (c) =>
      (await c.query<{ spcname: string }>("select spcname from pg_tablespace where spcname not in ('pg_default', 'pg_global') order by 1")).rows.map(
        (r) => r.spcname,
      ),
    );
    if (tablespaces.length)
      throw new LifeboatError(
        "TABLESPACES_UNSUPPORTED",
        `The cluster has tablespaces (${tablespaces.join(", ")}), which a compressed base backup cannot carry safely yet: set LIFEBOAT_BASE_COMPRESSION=none, or back it up with pg_basebackup --tablespace-mapping by hand.`,
      );
    // pg_basebackup writes base.tar.<zst|lz4>, pg_wal.tar (the WAL streamed during the backup)
    // and backup_manifest. pg_verifybackup reads only plain backups before PostgreSQL 18: every
    // file's sha256 is in Lifeboat's manifest instead, checked before any restore, and a drill
    // recovers from it.
    input.progress("copying the data directory (compressed by the server)");
    await runPgTool({
      tool: "pg_basebackup",
      args: baseBackupArgs(staged.tempPath, compression, backupLabel),
      connection: target.connection,
      pgBinDir: settings.pgBinDir,
      signal: input.signal,
    });
    // The server compresses only the data directory's tar; the WAL streamed during the backup
    // arrives as pg_wal.tar, whole 16 MiB segments: zstd them too (often most of a small backup).
    input.progress("compressing the backup's WAL (zstd)");
    await execChild("zstd", ["-q", "-3", "-T2", "--rm", "pg_wal.tar", "-o", "pg_wal.tar.zst"], { cwd: staged.tempPath, signal: input.signal });
    const pgManifest = JSON.parse(await readFile(path.join(staged.tempPath, "backup_manifest"), "utf8")) as {
      "WAL-Ranges"?: { Timeline: number; "Start-LSN": string; "End-LSN": string }[];
    };
    const range = pgManifest["WAL-Ranges"]?.at(-1);
    if (!range) throw new LifeboatError("BASE_BACKUP_INVALID", "backup_manifest has no WAL range");
    return {
      compression: BASE_COMPRESSION[compression].describe,
      toolVersions,
      extra: { walStartLsn: range["Start-LSN"], walStopLsn: range["End-LSN"], timeline: range.Timeline, walSegmentSize: segmentSize },
      notes: [`tar format (${BASE_COMPRESSION[compression].file}, pg_wal.tar.zst, backup_manifest)`],
    };
  }

  input.progress("copying the data directory");
  await runPgTool({
    tool: "pg_basebackup",
    args: baseBackupArgs(staged.tempPath, "none", backupLabel),
    connection: target.connection,
    pgBinDir: settings.pgBinDir,
    signal: input.signal,
  });
  input.progress("verifying (pg_verifybackup)");
  await runPgTool({ tool: "pg_verifybackup", args: [staged.tempPath], pgBinDir: settings.pgBinDir, signal: input.signal });
  const label = parseBackupLabel(await readFile(path.join(staged.tempPath, "backup_label"), "utf8"));
  const pgManifest = JSON.parse(await readFile(path.join(staged.tempPath, "backup_manifest"), "utf8")) as {
    "WAL-Ranges"?: { Timeline: number; "Start-LSN": string; "End-LSN": string }[];
  };
  const range = pgManifest["WAL-Ranges"]?.at(-1);
  if (!range) throw new LifeboatError("BASE_BACKUP_INVALID", "backup_manifest has no WAL range");
  const artifact = staged.fileName;
  return {
    compression: "none",
    toolVersions,
    extra: {
      walStartLsn: label.startLsn,
      walStopLsn: range["End-LSN"],
      timeline: range.Timeline,
      walSegmentSize: segmentSize,
      verification: { tool: "pg_verifybackup", at: new Date().toISOString(), ok: true },
    },
    sizeBytes: await folderSize(staged.tempPath),
    // pg_verifybackup checked every file against backup_manifest; the manifest pins backup_manifest itself.
    describe: (files) => files.filter((f) => f.name === `${artifact}/backup_manifest`),
  };
};

/** A streamed backup's WAL range, from the backup history file the archiver took (<segment>.<offset>.backup). */
async function walRangeFromArchive(input: WriterInput): Promise<{ walStartLsn: string; walStopLsn: string; timeline: number }> {
  const archiveDir = input.repository.archiveDir;
  const names = (await readdir(archiveDir).catch(() => [] as string[])).filter((n) => /^[0-9A-F]{24}\.[0-9A-F]{8}\.backup(\.zst)?$/.test(n)).sort();
  for (const name of names.reverse()) {
    const file = path.join(archiveDir, name);
    const text = name.endsWith(".zst")
      ? await execChild("zstd", ["-dcq", file], { timeoutMs: 30_000 }).then(
          (r) => r.stdout,
          () => "",
        )
      : await readFile(file, "utf8").catch(() => "");
    if (!text.includes(`LABEL: lifeboat ${input.timestamp}`)) continue;
    const start = /^START WAL LOCATION: ([0-9A-F]+\/[0-9A-F]+)/m.exec(text)?.[1];
    const stop = /^STOP WAL LOCATION: ([0-9A-F]+\/[0-9A-F]+)/m.exec(text)?.[1];
    const timeline = /^STOP TIMELINE: (\d+)/m.exec(text)?.[1] ?? /^START TIMELINE: (\d+)/m.exec(text)?.[1];
    if (start && stop && timeline) return { walStartLsn: start, walStopLsn: stop, timeline: Number(timeline) };
  }
  throw new LifeboatError(
    "BASE_BACKUP_INVALID",
    `The archive (${archiveDir}) holds no backup history file for this base backup: an encrypted base backup needs the target's WAL archived into this repository.`,
  );
}
