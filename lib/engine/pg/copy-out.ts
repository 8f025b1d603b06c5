import type pg from "pg";
import { to as copyTo } from "pg-copy-streams";

/**
 * Run `COPY … TO STDOUT` on `client`, handing each chunk of its output to `onChunk` as it arrives;
 * the next chunk is read only when onChunk's promise settles, so a slow consumer slows the server
 * instead of filling memory. The client may be inside a transaction (a backup's snapshot).
 *
 * A client cannot stop a COPY short of closing the connection: if onChunk throws, the rest of the
 * output is read and dropped, so that the session stays usable (and the transaction can be ended),
 * and then the error is thrown.
 */
export async function copyOut(client: pg.ClientBase, sql: string, onChunk: (chunk: Buffer) => Promise<void> | void): Promise<void> {
  const stream = client.query(copyTo(sql));
  await new Promise<void>((resolve, reject) => {
    let failure: { error: unknown } | undefined;
    let ended = false;
    const resume = () => {
      // pg-copy-streams cannot read on after its query failed (it throws from _read).
      if (!ended) stream.resume();
    };
    const fail = (error: unknown) => {
      failure ??= { error };
    };
    stream.on("data", (chunk: Buffer) => {
      if (failure) return;
      let result: Promise<void> | void;
      try {
        result = onChunk(chunk);
      } catch (error) {
        fail(error);
        return;
      }
      if (!result) return;
      stream.pause();
      result.then(resume, (error: unknown) => {
        fail(error);
        resume();
      });
    });
    stream.once("end", () => {
      ended = true;
      if (failure) reject(failure.error);
      else resolve();
    });
    // `on`, not `once`: a stream that failed (the connection closed by a cancel) can emit again.
    stream.on("error", (error) => {
      ended = true;
      reject(failure ? failure.error : error);
    });
  });
}
