import { execFile } from "node:child_process";
import { mkdtemp, readFile, rename, rm, stat } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { BackupLog } from "./backup-log";

const exec = promisify(execFile);
const PASSWORD = `pa"ss\\word'9`;

/** The seed's own check: the lines `grep "ERROR\|FAILED"` prints (grep exits 1 when none match). */
async function grepFailures(file: string): Promise<string[]> {
  try {
    const { stdout } = await exec("grep", ["ERROR\\|FAILED", file]);
    return stdout.split("\n").filter(Boolean);
  } catch (error) {
    if ((error as { code?: number }).code === 1) return [];
    throw error;
  }
}

describe("BackupLog: backup.log for people, lifeboat.jsonl for machines", () => {
  let dir: string;
  let log: BackupLog;

  beforeEach(async () => {
    dir = path.join(await mkdtemp(path.join(os.tmpdir(), "lifeboat-log-")), "logs");
    log = new BackupLog(dir, [PASSWORD]);
  });
  afterEach(async () => {
    await rm(path.dirname(dir), { recursive: true, force: true });
  });

  const textLines = async () => (await readFile(log.file, "utf8")).split("\n").filter(Boolean);
  const jsonLines = async () =>
    (await readFile(log.jsonFile, "utf8"))
      .split("\n")
      .filter(Boolean)
      .map((line) => JSON.parse(line) as Record<string, unknown>);

  it("writes the seed's text line unchanged and the same entry as one JSON line", async () => {
    await log.write("INFO", "backup", {
      target: "app",
      status: "SUCCEEDED",
      run: 7,
      kinds: "full,json",
      note: "two words",
      empty: "",
      gone: undefined,
      none: null,
    });
    await log.write("ERROR", "backup", {
      target: "app",
      status: "FAILED",
      run: 8,
      error: `connection to 127.0.0.1:1 refused for password ${PASSWORD}\nsecond line`,
      dsn: `postgres://app:${PASSWORD}@127.0.0.1:1/app`,
    });
    await log.write("WARN", "backup", { target: "app", status: "CANCELED", time: "a field named like a JSON key" });

    const text = await textLines();
    expect(text).toHaveLength(3);
    expect(text[0]).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z INFO backup target=app status=SUCCEEDED run=7 kinds="full,json" note="two words"$/);
    expect(text[1]).toMatch(
      /^\S+Z ERROR backup target=app status=FAILED run=8 error="connection to 127.0.0.1:1 refused for password \[redacted\]\\nsecond line" dsn="postgres:\/\/app:\[redacted\]@127.0.0.1:1\/app"$/,
    );
    expect(text.join("\n")).not.toContain('pa\\"ss');
    expect(text.join("\n")).not.toContain("word'9");

    const json = await jsonLines();
    expect(json).toHaveLength(3);
    expect(json[0]).toEqual({
      level: "info",
      time: text[0]!.split(" ")[0],
      event: "backup",
      target: "app",
      status: "SUCCEEDED",
      run: 7,
      kinds: "full,json",
      note: "two words",
    });
    expect(json[1]).toMatchObject({ level: "error", event: "backup", status: "FAILED", run: 8 });
    expect(json[1]!.error).toBe("connection to 127.0.0.1:1 refused for password [redacted]\nsecond line");
    expect(json[1]!.dsn).toBe("postgres://app:[redacted]@127.0.0.1:1/app");
    expect(json[2]).toMatchObject({ level: "warn", field_time: "a field named like a JSON key" });
    expect(Date.parse(json[2]!.time as string)).not.toBeNaN();
    const raw = await readFile(log.jsonFile, "utf8");
    expect(raw).not.toContain("word'9");
    expect(raw).not.toContain("word\\u00279");

    // The seed's grep still finds the failure and only it.
    const failures = await grepFailures(log.file);
    expect(failures).toEqual([text[1]]);
    expect((await stat(log.file)).mode & 0o777).toBe(0o600);
    expect((await stat(log.jsonFile)).mode & 0o777).toBe(0o600);
  });

  it("keeps writing JSON lines after the file is rotated away, and shares one file between instances", async () => {
    await log.write("INFO", "cleanup", { target: "app", status: "SUCCEEDED" });
    await rename(log.jsonFile, `${log.jsonFile}.1`);
    await new BackupLog(dir).write("ERROR", "verify", { target: "app", status: "FAILED" });
    await log.write("INFO", "backup", { target: "app", status: "SUCCEEDED" });

    expect((await readFile(`${log.jsonFile}.1`, "utf8")).trim().split("\n")).toHaveLength(1);
    expect((await jsonLines()).map((entry) => `${entry.event} ${entry.status}`)).toEqual(["verify FAILED", "backup SUCCEEDED"]);
    expect(await textLines()).toHaveLength(3);
  });
});
