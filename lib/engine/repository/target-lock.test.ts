import { spawn, spawnSync } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { hostname } from "node:os";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { TargetBusyError } from "../errors";
import { isRecordedProcessAlive, processStartTime } from "../process/spawn-child";
import { TargetLock } from "./target-lock";

describe("the target lock file", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), "lifeboat-lock-"));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("holds the target against a second taker, and is gone once released [S13]", async () => {
    const lock = await TargetLock.acquire(dir, "app", "backup");
    await expect(TargetLock.acquire(dir, "app", "restore")).rejects.toBeInstanceOf(TargetBusyError);
    await lock.release();
    await expect(readFile(path.join(dir, ".lock"), "utf8")).rejects.toThrow(/ENOENT/);
    await (await TargetLock.acquire(dir, "app", "restore")).release();
  });

  it("is taken over from a dead holder, whose journal the new holder inherits [S26]", async () => {
    const dead = spawnSync("true").pid!;
    const record = {
      format: "lifeboat-lock",
      host: hostname(),
      pid: dead,
      operation: "pitr",
      since: "x",
      runId: 7,
      children: [],
      journal: [{ id: "j1", action: "drop-database", database: "scratch" }],
    };
    await writeFile(path.join(dir, ".lock"), JSON.stringify(record));
    const lock = await TargetLock.acquire(dir, "app", "backup");
    expect(lock.pendingJournal).toEqual([{ id: "j1", action: "drop-database", database: "scratch" }]);
    await lock.resolve("j1");
    await lock.release();
  });

  it("keeps undo work it could not do for the next holder instead of throwing it away", async () => {
    const lock = await TargetLock.acquire(dir, "app", "restore");
    await lock.journal({ action: "drop-database", database: "half-restored" });
    await lock.release();
    // The lock stays, marked finished: the next operation takes it over at once and sees the work.
    const saved = JSON.parse(await readFile(path.join(dir, ".lock"), "utf8")) as { finished: boolean; journal: { action: string }[] };
    expect(saved.finished).toBe(true);
    const next = await TargetLock.acquire(dir, "app", "backup");
    expect(next.pendingJournal.map((e) => e.action)).toEqual(["drop-database"]);
    await next.resolve(next.pendingJournal[0]!.id);
    await next.release();
    await expect(readFile(path.join(dir, ".lock"), "utf8")).rejects.toThrow(/ENOENT/);
  });

  it("takes over an empty or unreadable lock file (no version of Lifeboat writes one) [S27]", async () => {
    await writeFile(path.join(dir, ".lock"), "");
    await (await TargetLock.acquire(dir, "app", "backup")).release();
  });

  it("a dead holder's child still running is stopped before the lock is taken over: the next holder never runs beside it [S26]", async () => {
    // The orphan a killed Lifeboat would leave: in a process group of its own, as spawnChild starts tools.
    const orphan = spawn("sleep", ["300"], { detached: true, stdio: "ignore" });
    const exited = new Promise<NodeJS.Signals | null>((resolve) => orphan.once("exit", (_code, signal) => resolve(signal)));
    try {
      const child = { pid: orphan.pid!, startTime: processStartTime(orphan.pid!), command: "sleep" };
      expect(child.startTime).toBeDefined();
      const record = {
        format: "lifeboat-lock",
        host: hostname(),
        pid: spawnSync("true").pid!,
        operation: "restore",
        since: "x",
        runId: 9,
        children: [child],
        journal: [],
      };
      await writeFile(path.join(dir, ".lock"), JSON.stringify(record));
      expect(isRecordedProcessAlive(child)).toBe(true);

      const lock = await TargetLock.acquire(dir, "app", "backup");
      // By the time the lock is ours, the orphan is gone (killed, not merely signalled).
      expect(isRecordedProcessAlive(child)).toBe(false);
      expect(await exited).toBe("SIGKILL");
      expect(JSON.parse(await readFile(path.join(dir, ".lock"), "utf8"))).toMatchObject({ pid: process.pid, operation: "backup", children: [] });
      await lock.release();
    } finally {
      if (orphan.exitCode === null && orphan.signalCode === null) orphan.kill("SIGKILL");
    }
  });

  it("a recorded child whose pid now belongs to another process (another start time) is left alone", async () => {
    const stranger = spawn("sleep", ["300"], { detached: true, stdio: "ignore" });
    try {
      const record = {
        format: "lifeboat-lock",
        host: hostname(),
        pid: spawnSync("true").pid!,
        operation: "restore",
        since: "x",
        runId: 9,
        // The same number, but not the process the dead holder started.
        children: [{ pid: stranger.pid!, startTime: "1", command: "pg_restore" }],
        journal: [],
      };
      await writeFile(path.join(dir, ".lock"), JSON.stringify(record));
      const lock = await TargetLock.acquire(dir, "app", "backup");
      await lock.release();
      expect(isRecordedProcessAlive({ pid: stranger.pid!, startTime: processStartTime(stranger.pid!) })).toBe(true);
      expect(stranger.exitCode).toBeNull();
      expect(stranger.signalCode).toBeNull();
    } finally {
      stranger.kill("SIGKILL");
    }
  });
});
