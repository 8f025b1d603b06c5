import { createReadStream } from "node:fs";
import path from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { decryptStream } from "../crypto/age";
import { LifeboatError } from "../errors";
import { ChildProcessError, signalChildGroup, spawnChild } from "../process/spawn-child";

/**
 * zstd as a child process between two streams: multi-threaded, so compressing a dump no longer
 * holds pg_dump to one core (gzip inside pg_dump is what bounds a logical backup, issue 12).
 * `output` is the transformed stream; `done` settles when zstd has exited (rejects on failure).
 */
export function zstdTransform(source: Readable, args: string[], signal?: AbortSignal | undefined): { output: Readable; done: Promise<void> } {
  const zstd = spawnChild("zstd", ["-q", ...args], { stdio: ["pipe", "pipe", "pipe"] });
  let stderr = "";
  zstd.stderr!.setEncoding("utf8").on("data", (c: string) => (stderr = (stderr + c).slice(-4000)));
  const stop = () => signalChildGroup(zstd, "SIGKILL");
  signal?.addEventListener("abort", stop, { once: true });
  const exited = new Promise<void>((resolve, reject) => {
    zstd.once("error", (e) => reject(new LifeboatError("COMMAND_FAILED", `zstd could not run: ${e.message} (install zstd)`)));
    zstd.once("close", (code, sig) => (code === 0 ? resolve() : reject(new ChildProcessError("zstd", code, stderr, sig))));
  });
  const fed = pipeline(source, zstd.stdin!).catch((error: unknown) => {
    stop();
    throw error;
  });
  const done = Promise.all([fed, exited]).then(
    () => signal?.removeEventListener("abort", stop),
    (error: unknown) => {
      signal?.removeEventListener("abort", stop);
      throw error;
    },
  );
  // Whoever reads `output` also learns of a failure upstream.
  done.catch((error: unknown) => zstd.stdout!.destroy(error as Error));
  return { output: zstd.stdout!, done };
}

/**
 * zstd settings of a streamed dump: level 3 with 2 threads (about gzip -6's size at a fraction of its
 * time), in 4 MiB jobs: zstd's default job size for two workers held ~55 MB during the largest backup
 * (issue 12's memory target), 4 MiB about 30 MB, for a file about 0.4% larger and no slower.
 */
export const DUMP_ZSTD = { args: ["-3", "-T2", "-B4M", "-c"], describe: "zstd:3 (stream, 2 threads)" };

/** Whether a full dump's file is a zstd stream (full_backup_<time>.dump.zst[.age]). */
export function isZstdDump(file: string): boolean {
  return /\.dump\.zst(\.age)?$/.test(file);
}

/**
 * A full dump as pg_restore reads it on stdin: decrypted (age) and/or decompressed (zstd); or
 * undefined when pg_restore can read the file itself (a plain .dump or a .dir).
 */
export async function openDumpStream(
  file: string,
  options: { encrypted: boolean; identities: string[]; signal?: AbortSignal | undefined },
): Promise<{ stream: Readable; done: Promise<void> } | undefined> {
  if (!options.encrypted && !isZstdDump(file)) return undefined;
  const raw = createReadStream(file);
  const plain = options.encrypted ? await decryptStream(raw, options.identities) : raw;
  if (!isZstdDump(file)) return { stream: plain, done: Promise.resolve() };
  const { output, done } = zstdTransform(plain, ["-d", "-c"], options.signal);
  const named = done.catch((error: unknown) => {
    if (options.signal?.aborted) throw error;
    const detail = error instanceof ChildProcessError ? error.stderr.trim().split("\n").at(-1) : (error as Error).message;
    throw new LifeboatError(
      "DUMP_UNREADABLE",
      `${path.basename(file)} could not be decompressed for pg_restore (zstd: ${detail}): the file is damaged.`,
      {},
      { cause: error },
    );
  });
  return { stream: output, done: named };
}
