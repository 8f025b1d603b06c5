import { spawnSync } from "node:child_process";
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { createPassfile, escapePassfileField, passfileLine, sweepStalePassfiles, withPassfile } from "./passfile";

const connection = { host: "127.0.0.1", port: 5433, database: "app", user: "us:er", password: "pa:ss\\word" };

describe("passfile", () => {
  it("escapes colons and backslashes", () => {
    expect(escapePassfileField("a:b\\c")).toBe("a\\:b\\\\c");
    expect(passfileLine(connection)).toBe("127.0.0.1:5433:*:us\\:er:pa\\:ss\\\\word");
  });

  it("is written 0600 in a 0700 folder and removed by dispose [S24]", async () => {
    const passfile = await createPassfile(connection);
    expect((await stat(passfile.path)).mode & 0o777).toBe(0o600);
    expect((await stat(path.dirname(passfile.path))).mode & 0o777).toBe(0o700);
    expect(await readFile(passfile.path, "utf8")).toContain("pa\\:ss");
    await passfile.dispose();
    await expect(stat(path.dirname(passfile.path))).rejects.toThrow(/ENOENT/);
  });

  it("is removed even when the job fails", async () => {
    let seen = "";
    await expect(
      withPassfile(connection, async (file) => {
        seen = file ?? "";
        throw new Error("job failed");
      }),
    ).rejects.toThrow("job failed");
    expect(seen).not.toBe("");
    await expect(stat(seen)).rejects.toThrow(/ENOENT/);
  });

  it("removes passfile folders left by a killed process, and only those", async () => {
    const root = await mkdtemp(path.join(os.tmpdir(), "lifeboat-sweep-"));
    try {
      // A pid that surely exited: a short child that is already gone.
      const dead = spawnSync("true").pid!;
      await mkdir(path.join(root, `lifeboat-pass-${dead}-abc`));
      await writeFile(path.join(root, `lifeboat-pass-${dead}-abc`, "pgpass"), "secret");
      await mkdir(path.join(root, `lifeboat-pass-${process.pid}-mine`));
      await mkdir(path.join(root, "someone-elses-folder"));
      expect(await sweepStalePassfiles(root)).toBe(1);
      expect((await readdir(root)).sort()).toEqual([`lifeboat-pass-${process.pid}-mine`, "someone-elses-folder"]);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});
