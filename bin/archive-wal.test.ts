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

  it("archives a segment, and accepts the same segment again [S7]", async () => {
    const src = path.join(dir, "src");
    await writeFile(src, "segment-bytes");
    await run(script, [src, path.join(dir), "000000010000000000000001"]);
    await run(script, [src, path.join(dir), "000000010000000000000001"]);
    expect(await readFile(path.join(dir, "000000010000000000000001"), "utf8")).toBe("segment-bytes");
    expect((await readdir(dir)).filter((f) => f.includes(".tmp"))).toEqual([]);
  });

  it("refuses a different segment under an archived name and never overwrites it [S7]", async () => {
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

  it("--zstd stores <name>.zst, dedupes by content, and restore-wal gives the original bytes back [S7]", async () => {
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

  it("refuses a file name that could leave the archive [S22]", async () => {
    await writeFile(path.join(dir, "src"), "x");
    await expect(run(script, [path.join(dir, "src"), dir, "../escape"])).rejects.toMatchObject({ code: 2 });
  });

  it("--encrypt stores segments as age ciphertext, recognises a re-push, and restore-wal decrypts only with the identity [S7] [S20]", async () => {
    const keys = await run("age-keygen", []).then((r) => r.stdout);
    const identity = path.join(dir, "identity.txt");
    await writeFile(identity, keys, { mode: 0o600 });
    const recipient = /public key: (age1\w+)/.exec(keys)![1]!;
    const recipients = path.join(dir, "recipients.txt");
    await writeFile(recipients, `${recipient}\n`);
    const archive = path.join(dir, "archive");
    await run("mkdir", [archive]);
    const src = path.join(dir, "src");
    const marker = "a row's secret payload";
    await writeFile(src, Buffer.concat([Buffer.from(marker), Buffer.alloc(64 * 1024, 3)]));
    for (const [flags, name] of [
      [[], "000000010000000000000004"],
      [["--zstd"], "000000010000000000000005"],
    ] as const) {
      await run(script, [...flags, "--encrypt", recipients, src, archive, name]);
      await run(script, [...flags, "--encrypt", recipients, src, archive, name]); // same bytes again: fine
      const stored = (await readdir(archive)).filter((n) => n.startsWith(name)).sort();
      expect(stored).toEqual([flags.length ? `${name}.sha256` : `${name}.age`, flags.length ? `${name}.zst.age` : `${name}.sha256`].sort());
      const ciphertext = await readFile(
        path.join(
          archive,
          stored.find((n) => n.endsWith(".age"))!,
        ),
      );
      expect(ciphertext.subarray(0, 21).toString()).toBe("age-encryption.org/v1");
      expect(ciphertext.includes(Buffer.from(marker))).toBe(false);
      // Different bytes under the same name: refused, never overwritten.
      await writeFile(path.join(dir, "other"), "different");
      await expect(run(script, ["--encrypt", recipients, path.join(dir, "other"), archive, name])).rejects.toMatchObject({ code: 1 });

      const restoreWal = path.resolve(import.meta.dirname, "restore-wal");
      const out = path.join(dir, `restored-${name}`);
      await expect(run(restoreWal, [archive, name, out])).rejects.toMatchObject({ code: 2 });
      await run(restoreWal, ["--identity", identity, archive, name, out]);
      expect(await readFile(out)).toEqual(await readFile(src));
    }
    // Timeline history files hold positions, not rows: they stay readable for planning.
    await writeFile(path.join(dir, "history"), "1\t0/3000000\tno recovery target specified\n");
    await run(script, ["--encrypt", recipients, path.join(dir, "history"), archive, "00000002.history"]);
    expect(await readFile(path.join(archive, "00000002.history"), "utf8")).toMatch(/no recovery target/);
  });
});
