import os from "node:os";
import { Transform, type TransformCallback } from "node:stream";
import { promisify } from "node:util";
import { gzip } from "node:zlib";

const gzipAsync = promisify(gzip);

export type ParallelGzipOptions = {
  level: number;
  /** Bytes of input per gzip member. */
  blockSize?: number | undefined;
  /** Members compressed at once (in libuv's thread pool). */
  concurrency?: number | undefined;
};

/**
 * gzip on every core: the input is cut into blocks that are compressed at once in the thread pool
 * and written in order, each as a complete gzip member. A file of several members is one gzip
 * file (RFC 1952 §2.2): gunzip, zcat, Node's createGunzip and Python's gzip read it whole. One
 * zlib stream is one core, and at the JSON export's rates it was the whole export's limit (issue 12).
 * Memory stays flat: at most `concurrency` blocks in flight plus the one being filled.
 */
export function createParallelGzip(options: ParallelGzipOptions): Transform {
  const level = options.level;
  const blockSize = options.blockSize ?? 1024 * 1024;
  const concurrency = options.concurrency ?? Math.max(2, Math.min(4, os.availableParallelism()));
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let empty = true;
  const inflight: Promise<Buffer>[] = [];

  const submit = () => {
    const block = Buffer.concat(pending, pendingBytes);
    pending = [];
    pendingBytes = 0;
    // One output buffer per member: the default 16 KiB would make each member many trips to the pool.
    const job = gzipAsync(block, { level, chunkSize: blockSize + 64 * 1024 });
    // Awaited in order later; until then a failure must not count as unhandled.
    job.catch(() => undefined);
    inflight.push(job);
  };

  return new Transform({
    transform(chunk: Buffer | string, encoding: BufferEncoding, callback: TransformCallback) {
      const buffer = typeof chunk === "string" ? Buffer.from(chunk, encoding) : chunk;
      pending.push(buffer);
      pendingBytes += buffer.length;
      empty &&= buffer.length === 0;
      if (pendingBytes < blockSize) return callback();
      submit();
      // Accept more input only while fewer than `concurrency` blocks are being compressed.
      const emit = async () => {
        while (inflight.length > concurrency) this.push(await inflight.shift()!);
      };
      emit().then(() => callback(), callback);
    },
    flush(callback: TransformCallback) {
      // Empty input still makes a gzip file (one empty member), as gzip itself does.
      if (pendingBytes > 0 || empty) submit();
      const emitAll = async () => {
        while (inflight.length) this.push(await inflight.shift()!);
      };
      emitAll().then(() => callback(), callback);
    },
  });
}
