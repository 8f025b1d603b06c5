import { createWriteStream } from "node:fs";
import { PassThrough, type Readable, type Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { encryptStream } from "../crypto/age";
import { createParallelGzip } from "./parallel-gzip";

export type ArtifactSink = {
  /** Write the artifact's bytes here, then call end(). */
  input: Writable;
  /** Resolves when every byte is on disk (not yet fsynced: commitFile does that). */
  done: Promise<void>;
};

/**
 * A file sink for streamed artifacts: optional gzip (on every core, see createParallelGzip), then
 * optional age encryption, then a new 0600 file. Memory stays flat whatever the size.
 */
export async function openArtifactSink(
  file: string,
  options: { gzip?: { level: number } | undefined; recipients?: string[] | undefined },
): Promise<ArtifactSink> {
  const input = new PassThrough();
  let source: Readable = input;
  if (options.gzip) {
    const gzip = createParallelGzip({ level: options.gzip.level });
    source = source.pipe(gzip);
    input.once("error", (e) => gzip.destroy(e));
  }
  if (options.recipients?.length) source = await encryptStream(source, options.recipients);
  const done = pipeline(source, createWriteStream(file, { mode: 0o600, flags: "wx" }));
  // Surface a write failure (disk full) to whoever is still writing.
  done.catch((error: unknown) => input.destroy(error as Error));
  return { input, done };
}

/**
 * Stream a whole source (a tool's stdout, a tar stream) into a new artifact file. A failing
 * source fails the sink too (never a wait without end), and a failing write stops the source.
 */
export async function streamIntoFile(
  source: Readable | AsyncIterable<Buffer>,
  file: string,
  options: { gzip?: { level: number } | undefined; recipients?: string[] | undefined },
): Promise<void> {
  const sink = await openArtifactSink(file, options);
  await Promise.all([pipeline(source, sink.input), sink.done]);
}

/** Write respecting backpressure. */
export async function writeChunk(stream: Writable, chunk: string | Buffer): Promise<void> {
  if (stream.destroyed) throw stream.errored ?? new Error("the output stream was closed");
  if (!stream.write(chunk)) {
    await new Promise<void>((resolve, reject) => {
      const onDrain = () => {
        stream.off("error", onError);
        resolve();
      };
      const onError = (error: Error) => {
        stream.off("drain", onDrain);
        reject(error);
      };
      stream.once("drain", onDrain);
      stream.once("error", onError);
    });
  }
}
