import { execFile } from "node:child_process";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterEach, beforeEach, describe, expect, it } from "vitest";

const run = promisify(execFile);
const script = path.resolve(import.meta.dirname, "archive-wal");

describe("bin/archive-wal", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), "lifeboat-archive-"));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("archives a segment, and accepts the same segment again", async () => {
    const src = path.join(dir, "src");
    await writeFile(src, "segment-bytes");
    await run(script, [src, path.join(dir), "000000010000000000000001"]);
    await run(script, [src, path.join(dir), "000000010000000000000001"]);
    expect(await readFile(path.join(dir, "000000010000000000000001"), "utf8")).toBe("segment-bytes");
    expect((await readdir(dir)).filter((f) => f.includes(".tmp"))).toEqual([]);
  });

  it("refuses a different segment under an archived name and never overwrites it", async () => {
    const first = path.join(dir, "first");
    const second = path.join(dir, "second");
    await writeFile(first, "original");
    await writeFile(second, "impostor");
    await run(script, [first, dir, "000000010000000000000002"]);
    const error = await run(script, [second, dir, "000000010000000000000002"]).catch((e: { code: number; stderr: string }) => e);
    expect(error).toMatchObject({ code: 1 });
    expect((error as { stderr: string }).stderr).toMatch(/different content/);
    expect(await readFile(path.join(dir, "000000010000000000000002"), "utf8")).toBe("original");
  });

  it("--zstd stores <name>.zst, dedupes by content, and restore-wal gives the original bytes back", async () => {
    const src = path.join(dir, "src");
    const other = path.join(dir, "other");
    await writeFile(src, Buffer.alloc(64 * 1024, 7));
    await writeFile(other, Buffer.alloc(64 * 1024, 8));
    const archive = path.join(dir, "archive");
    await run("mkdir", [archive]);
    await run(script, ["--zstd", src, archive, "000000010000000000000003"]);
    expect(await readdir(archive)).toEqual(["000000010000000000000003.zst"]);
    await run(script, ["--zstd", src, archive, "000000010000000000000003"]);
    await run(script, [src, archive, "000000010000000000000003"]); // plain re-push of the same bytes
    await expect(run(script, ["--zstd", other, archive, "000000010000000000000003"])).rejects.toMatchObject({ code: 1 });
    const restoreWal = path.resolve(import.meta.dirname, "restore-wal");
    await run(restoreWal, [archive, "000000010000000000000003", path.join(dir, "restored")]);
    expect(await readFile(path.join(dir, "restored"))).toEqual(await readFile(src));
    await expect(run(restoreWal, [archive, "000000010000000000000009", path.join(dir, "nope")])).rejects.toMatchObject({ code: 1, stderr: "" });
  });

  it("refuses a file name that could leave the archive", async () => {
    await writeFile(path.join(dir, "src"), "x");
    await expect(run(script, [path.join(dir, "src"), dir, "../escape"])).rejects.toMatchObject({ code: 2 });
  });
});
