import { copyFile, mkdir, readdir, rename, rm, stat } from "node:fs/promises";
import path from "node:path";
import { handToOsUser } from "../cluster/os-user";
import { LifeboatError, OperationAbortedError } from "../errors";
import type { PgConnection } from "../pg/connection";
import { PgToolError, runPgTool } from "../pg/run-pg-tool";
import { holdsSegment } from "./wal-names";

/**
 * Continuous WAL streaming (Barman's way): pg_receivewal on a replication slot writes the current
 * segment into `<repository>/stream/` as it is written (`<segment>.partial`, flushed at once), so a
 * disaster loses seconds, not the minute or more archive_timeout leaves in the current segment.
 * archive_command still archives every completed segment; the stream only covers the newest one.
 * The slot keeps the server from recycling WAL the stream has not received yet.
 */
export function streamSlotName(targetName: string): string {
  return `lifeboat_${targetName.replace(/-/g, "_")}`;
}

export async function streamWal(options: {
  connection: PgConnection;
  streamDir: string;
  slot: string;
  pgBinDir?: string | undefined;
  signal: AbortSignal;
  onEvent?: ((message: string) => void) | undefined;
  /** Wait before reconnecting after the server went away (doubles up to a minute). */
  retryMs?: number | undefined;
}): Promise<void> {
  await mkdir(options.streamDir, { recursive: true, mode: 0o700 });
  let retry = options.retryMs ?? 1_000;
  while (!options.signal.aborted) {
    const started = Date.now();
    try {
      // On every (re)connect: a cluster recovered from a base backup has no replication slots.
      await runPgTool({
        tool: "pg_receivewal",
        args: ["--create-slot", "--if-not-exists", `--slot=${options.slot}`, "--no-password"],
        connection: options.connection,
        pgBinDir: options.pgBinDir,
        signal: options.signal,
      });
      options.onEvent?.(`streaming WAL into ${options.streamDir} (slot ${options.slot})`);
      await runPgTool({
        tool: "pg_receivewal",
        args: [`--directory=${options.streamDir}`, `--slot=${options.slot}`, "--synchronous", "--no-loop", "--no-password", "--status-interval=1"],
        connection: options.connection,
        pgBinDir: options.pgBinDir,
        signal: options.signal,
      });
    } catch (error) {
      if (options.signal.aborted || error instanceof OperationAbortedError) return;
      const reason = error instanceof PgToolError ? error.message : (error as Error).message;
      options.onEvent?.(`streaming stopped (${reason}); reconnecting in ${Math.round(retry / 1000)} s`);
    }
    if (Date.now() - started > 60_000) retry = options.retryMs ?? 1_000;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, retry);
      options.signal.addEventListener("abort", () => (clearTimeout(timer), resolve()), { once: true });
    });
    retry = Math.min(retry * 2, 60_000);
  }
}

/** The newest streamed segment still being written (`<segment>.partial`), if any. */
export async function newestPartial(streamDir: string): Promise<string | undefined> {
  const names = (await readdir(streamDir).catch(() => [] as string[])).filter((n) => /^[0-9A-F]{24}\.partial$/.test(n)).sort();
  return names.at(-1);
}

/**
 * Put the stream's newest partial segment into the archive as `<segment>.stream`, for a recovery
 * when the server cannot be asked to archive its current segment (it crashed): restore-wal hands it
 * out when recovery asks for that segment and the whole one is not there. Skipped when the archive
 * already holds the whole segment. (`.partial` is left to PostgreSQL, which archives the old
 * timeline's last segment under that name at a promotion.)
 */
export async function adoptStreamedWal(options: { streamDir: string; archiveDir: string; osUser: string }): Promise<string | undefined> {
  const partial = await newestPartial(options.streamDir);
  if (!partial) return undefined;
  const segment = partial.slice(0, -".partial".length);
  const archived = await readdir(options.archiveDir).catch(() => [] as string[]);
  if (holdsSegment(archived, segment)) return undefined;
  const size = (await stat(path.join(options.streamDir, partial))).size;
  if (size === 0) throw new LifeboatError("STREAM_EMPTY", `${partial} in the stream is empty`);
  const adopted = `${segment}.stream`;
  const temp = path.join(options.archiveDir, `.${adopted}.tmp`);
  await copyFile(path.join(options.streamDir, partial), temp);
  await handToOsUser(options.osUser, temp);
  await rename(temp, path.join(options.archiveDir, adopted));
  // Older adopted segments are superseded by whole ones archive_command wrote since.
  for (const name of archived.filter((n) => n.endsWith(".stream") && n !== adopted)) await rm(path.join(options.archiveDir, name), { force: true });
  return adopted;
}
