import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { signalChildGroup, spawnChild } from "@/lib/engine/process/spawn-child";

/** bin/lifeboat-guard as Lifeboat runs it (spawnChild with guard: true): the tool's contract, not the script's lines. */

const guard = path.resolve(import.meta.dirname, "lifeboat-guard");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type Outcome = { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string };

function collect(child: ChildProcess): Promise<Outcome> {
  let stdout = "";
  let stderr = "";
  child.stdout?.setEncoding("utf8").on("data", (c: string) => (stdout += c));
  child.stderr?.setEncoding("utf8").on("data", (c: string) => (stderr += c));
  return new Promise((resolve, reject) => {
    child.once("error", reject);
    child.once("close", (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/** Alive = exists and is not a zombie (a killed process may wait a moment for its reaper). */
function isRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return !["Z", "X"].includes(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[0]!);
  } catch {
    return false;
  }
}

async function waitUntilGone(pids: number[], withinMs: number): Promise<number[]> {
  const deadline = Date.now() + withinMs;
  while (pids.some(isRunning) && Date.now() < deadline) await sleep(50);
  return pids.filter(isRunning);
}

/** A tool that forks two sleepers, prints their pids and waits for them. */
const FORKING_TOOL = ["-c", "sleep 60 & a=$!; sleep 61 & echo $a $!; wait"];

async function forkedPids(child: ChildProcess): Promise<number[]> {
  const line = await new Promise<string>((resolve) => child.stdout!.setEncoding("utf8").once("data", resolve));
  return line.trim().split(" ").map(Number);
}

describe.runIf(process.platform === "linux")("bin/lifeboat-guard (spawnChild guard: true)", () => {
  it("passes stdin to the tool, its output back and its exit code on", async () => {
    const child = spawnChild("/bin/sh", ["-c", "wc -c; echo oops >&2; exit 3"], { guard: true, stdio: ["pipe", "pipe", "pipe"] });
    child.stdin!.end(Buffer.alloc(3_000_000, 97));
    const outcome = await collect(child);
    expect(outcome).toEqual({ code: 3, signal: null, stdout: "3000000\n", stderr: "oops\n" });
  });

  it("gives the tool its arguments untouched (no shell interprets them)", async () => {
    const args = ["$(touch /tmp/lifeboat-guard-pwned)", "*", "a b", "", ";ls", "'\"", "--watch-parent"];
    const outcome = await collect(spawnChild("/usr/bin/printf", ["%s|", ...args], { guard: true, stdio: ["ignore", "pipe", "pipe"] }));
    expect(outcome).toMatchObject({ code: 0, stdout: args.map((a) => `${a}|`).join("") });
  });

  it("runs the named file, not a shell builtin of the same name, and reports one that cannot run", async () => {
    const missing = await collect(spawnChild("/nonexistent/pg_dump", [], { guard: true, stdio: ["ignore", "pipe", "pipe"] }));
    expect(missing.code).toBe(127);
    expect(missing.stderr).toMatch(/nonexistent\/pg_dump/);
  });

  it("dies of the signal that killed the tool, and says nothing of it on stderr", async () => {
    for (const signal of ["SIGTERM", "SIGUSR1", "SIGKILL"] as const) {
      const outcome = await collect(spawnChild("/bin/sh", ["-c", `kill -${signal.slice(3)} $$`], { guard: true, stdio: ["ignore", "pipe", "pipe"] }));
      expect(outcome, signal).toEqual({ code: null, signal, stdout: "", stderr: "" });
    }
  });

  it("a cancel (SIGTERM to the group) takes down the tool and everything it forked", async () => {
    const child = spawnChild("/bin/sh", FORKING_TOOL, { guard: true, stdio: ["ignore", "pipe", "pipe"] });
    const done = collect(child);
    const forked = await forkedPids(child);
    expect(forked.every(isRunning)).toBe(true);
    signalChildGroup(child, "SIGTERM");
    expect((await done).signal).toBe("SIGKILL");
    expect(await waitUntilGone(forked, 2_000)).toEqual([]);
  });

  it("SIGTERM to the guard alone (Lifeboat's death, through setpriv --pdeathsig) kills the whole group", async () => {
    const child = spawnChild("/bin/sh", FORKING_TOOL, { guard: true, stdio: ["ignore", "pipe", "pipe"] });
    const done = collect(child);
    const forked = await forkedPids(child);
    process.kill(child.pid!, "SIGTERM");
    expect((await done).signal).toBe("SIGKILL");
    expect(await waitUntilGone(forked, 2_000)).toEqual([]);
  });

  it("costs a few MB, not a Node process", async () => {
    const child = spawnChild("/bin/sh", FORKING_TOOL, { guard: true, stdio: ["ignore", "pipe", "pipe"] });
    const done = collect(child);
    await forkedPids(child);
    // The recorded child is setpriv's pid, which became the guard (setpriv execs).
    const status = readFileSync(`/proc/${child.pid}/status`, "utf8");
    const rssKiB = Number(/^VmRSS:\s+(\d+)/m.exec(status)?.[1]);
    signalChildGroup(child, "SIGKILL");
    await done;
    expect(status).not.toMatch(/^Name:\s+node/m);
    expect(rssKiB).toBeLessThan(8 * 1024);
  });

  it("with --watch-parent (no parent-death signal), an orphaned guard kills its group within seconds", async () => {
    // A parent that starts the guard in a group of its own, prints the tool's forks, and dies.
    const parent = spawn("/bin/sh", ["-c", `setsid /bin/sh '${guard}' --watch-parent /bin/sh ${FORKING_TOOL.map((a) => `'${a}'`).join(" ")} & sleep 0.5`], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    const forked = await forkedPids(parent);
    await new Promise((r) => parent.once("exit", r));
    expect(forked.every(isRunning)).toBe(true);
    expect(await waitUntilGone(forked, 4_000)).toEqual([]);
  });
});
