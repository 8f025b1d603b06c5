import { readFile, stat } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { createPassfile, escapePassfileField, passfileLine, withPassfile } from "./passfile";

const connection = { host: "127.0.0.1", port: 5433, database: "app", user: "us:er", password: "pa:ss\\word" };

describe("passfile", () => {
  it("escapes colons and backslashes", () => {
    expect(escapePassfileField("a:b\\c")).toBe("a\\:b\\\\c");
    expect(passfileLine(connection)).toBe("127.0.0.1:5433:*:us\\:er:pa\\:ss\\\\word");
  });

  it("is written 0600 in a 0700 folder and removed by dispose", async () => {
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
});
