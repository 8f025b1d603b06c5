import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { buffer } from "node:stream/consumers";
import { pipeline } from "node:stream/promises";
import { promisify } from "node:util";
import { createGunzip, gunzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { createParallelGzip } from "./parallel-gzip";

const exec = promisify(execFile);

async function compress(chunks: (string | Buffer)[], options: { blockSize: number; concurrency: number }): Promise<Buffer> {
  const gzip = createParallelGzip({ level: 3, ...options });
  const [out] = await Promise.all([buffer(gzip), pipeline(Readable.from(chunks), gzip)]);
  return out;
}

describe("parallel gzip", () => {
  // Text that compresses, and random bytes that do not (a member larger than its block).
  const text = Array.from({ length: 20_000 }, (_, i) => `{"id":${i},"body":"row ${i} ü \\"quoted\\""}\n`);
  const noise = [randomBytes(300_000), randomBytes(70_000)];

  it("writes a gzip file that every reader decompresses to the input, in order, whatever the block boundaries", async () => {
    for (const blockSize of [1, 4096, 65_536, 1024 * 1024]) {
      const chunks = [...text.slice(0, blockSize === 1 ? 300 : undefined), ...noise];
      const expected = Buffer.concat(chunks.map((c) => (typeof c === "string" ? Buffer.from(c) : c)));
      const gz = await compress(chunks, { blockSize, concurrency: 3 });
      expect(gunzipSync(gz).equals(expected)).toBe(true);
      expect((await buffer(Readable.from([gz]).pipe(createGunzip()))).equals(expected)).toBe(true);

      // The standard tool reads every member (RESTORE.md tells users to zcat a JSON export).
      const dir = await mkdtemp(path.join(os.tmpdir(), "lifeboat-pgzip-"));
      try {
        await writeFile(path.join(dir, "x.gz"), gz);
        const { stdout } = await exec("gzip", ["-dc", path.join(dir, "x.gz")], { encoding: "buffer", maxBuffer: 64 * 1024 * 1024 });
        expect(stdout.equals(expected)).toBe(true);
        await exec("gzip", ["-t", path.join(dir, "x.gz")]);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    }
  });

  it("compresses nothing into a valid, empty gzip file", async () => {
    const gz = await compress([], { blockSize: 1024, concurrency: 2 });
    expect(gunzipSync(gz).length).toBe(0);
  });
});
