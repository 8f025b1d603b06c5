import { AsyncLocalStorage } from "node:async_hooks";
import { spawn, spawnSync, type ChildProcess, type SpawnOptions } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { childProcessEnv } from "@/lib/env";
import { LifeboatError, OperationAbortedError } from "../errors";
import { binScript } from "./bin-script";

/**
 * Every process Lifeboat starts goes through here, so that none can outlive it:
 * - each child leads its own process group, so a cancel stops the tool and anything it forked
 *   (pg_dump -j workers, pg_basebackup's WAL streamer) with one signal;
 * - on Linux each child is started through `setpriv --pdeathsig SIGKILL`, so the kernel kills it
 *   when Lifeboat dies, even by SIGKILL or the OOM killer, and a pg_restore can never go on
 *   committing unsupervised; a tool that forks runs under bin/lifeboat-guard (POSIX sh), which gets
 *   SIGTERM instead and kills its whole group;
 * - the operation running it (an AsyncLocalStorage scope) learns its pid and start time, which the
 *   target lock records: a stale lock is never taken over while one of them still lives.
 * Arguments are always an array; nothing goes through a shell.
 */

export type ChildRecord = { pid: number; startTime: string | undefined; command: string };

export type ChildScope = {
  onSpawn: (record: ChildRecord) => void;
  onExit: (pid: number) => void;
};

const scopes = new AsyncLocalStorage<ChildScope>();

/** Run `fn` with every child it starts reported to `scope`. */
export function withChildScope<T>(scope: ChildScope, fn: () => Promise<T>): Promise<T> {
  return scopes.run(scope, fn);
}

let deathSignalTool: string | null | undefined;

/** setpriv from util-linux, when it supports --pdeathsig (Linux only). */
function findDeathSignalTool(): string | null {
  if (deathSignalTool !== undefined) return deathSignalTool;
  deathSignalTool = null;
  if (process.platform !== "linux") return deathSignalTool;
  for (const candidate of ["/usr/bin/setpriv", "/bin/setpriv"]) {
    const probe = spawnSync(candidate, ["--help"], { encoding: "utf8", timeout: 5_000, env: childProcessEnv() });
    if (probe.status === 0 && probe.stdout.includes("--pdeathsig")) {
      deathSignalTool = candidate;
      break;
    }
  }
  return deathSignalTool;
}

/** Fields of /proc/<pid>/stat after the command name (which may hold spaces and parentheses). */
function procStat(pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  } catch {
    return undefined;
  }
}

/** The kernel's start time of a process (clock ticks since boot), to tell a pid from its reuse. */
export function processStartTime(pid: number): string | undefined {
  return procStat(pid)?.[19];
}

/** A zombie (exited, not yet reaped by its parent) or dead process runs nothing. */
function isZombie(fields: string[] | undefined): boolean {
  return fields?.[0] === "Z" || fields?.[0] === "X";
}

/** Whether any live (not zombie) process belongs to process group `pgid`. */
function isGroupAlive(pgid: number): boolean {
  if (!existsSync("/proc/self/stat")) return signalQuietly(-pgid, 0);
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const fields = procStat(Number(entry));
    if (fields && fields[2] === String(pgid) && !isZombie(fields)) return true;
  }
  return false;
}

/**
 * Whether a recorded process (or what is left of its process group) still runs. Linux never hands
 * out a pid that is still some group's id, so a dead leader with a live group means orphans of
 * ours; a live pid with another start time is an unrelated process that reused the number. Zombies
 * (exited, waiting for a parent that may never reap them, e.g. under a container without an init)
 * run nothing and count as dead.
 */
export function isRecordedProcessAlive(record: { pid: number; startTime?: string | undefined }): boolean {
  const fields = procStat(record.pid);
  const exists = fields ? !isZombie(fields) : signalQuietly(record.pid, 0) && !existsSync("/proc/self/stat");
  if (!exists) return isGroupAlive(record.pid);
  if (record.startTime === undefined || fields === undefined) return true;
  // Another start time: the number was reused, which the kernel allows only once the old group is gone.
  return fields[19] === record.startTime;
}

function signalQuietly(pid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(pid, signal);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Signal a child's whole process group (falling back to the child alone). */
export function signalChildGroup(child: ChildProcess | { pid?: number | undefined }, signal: NodeJS.Signals): void {
  if (!child.pid) return;
  if (!signalQuietly(-child.pid, signal)) signalQuietly(child.pid, signal);
}

/** Kill the process groups of recorded children (left by a process that died), only if they are still the same processes. */
export async function killRecordedChildren(records: ChildRecord[], timeoutMs = 10_000): Promise<ChildRecord[]> {
  const alive = () => records.filter((r) => isRecordedProcessAlive(r));
  for (const record of alive()) signalChildGroup(record, "SIGKILL");
  const deadline = Date.now() + timeoutMs;
  while (alive().length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  return alive();
}

export type SpawnChildOptions = Omit<SpawnOptions, "detached" | "shell" | "env"> & {
  /**
   * Run the tool under bin/lifeboat-guard (a POSIX sh script, not a second Node process: ~1 MB
   * instead of 40-50 MB per tool), which leads the process group and kills all of it when Lifeboat
   * dies: for tools that fork (pg_basebackup, pg_dump/pg_restore -j). Its exit code, or the signal
   * that killed the tool, is the tool's; the tool reads the guard's stdin.
   */
  guard?: boolean | undefined;
  /** Extra environment on top of childProcessEnv() (an allow-list: PATH, locale, TZ). */
  env?: Record<string, string | undefined> | undefined;
  /** Replace the base environment entirely (still never a shell). */
  baseEnv?: NodeJS.ProcessEnv | undefined;
};

/** Start a child in its own process group, bound to Lifeboat's life. */
export function spawnChild(file: string, args: readonly string[], options: SpawnChildOptions = {}): ChildProcess {
  const wrapper = findDeathSignalTool();
  const { env, baseEnv, guard, ...rest } = options;
  // A guard gets SIGTERM (which it turns into SIGKILL for its whole group); a bare tool gets SIGKILL.
  // Without a parent-death signal (not Linux) the guard checks every second whether it was orphaned.
  // /bin/sh runs it, so the script needs no execute bit where it was copied.
  const target = guard ? ["/bin/sh", binScript("lifeboat-guard"), ...(wrapper ? [] : ["--watch-parent"]), file, ...args] : [file, ...args];
  const [command, argv] = wrapper ? [wrapper, ["--pdeathsig", guard ? "SIGTERM" : "SIGKILL", "--", ...target]] : [target[0]!, target.slice(1)];
  const child = spawn(command, argv, { ...rest, env: { ...(baseEnv ?? childProcessEnv()), ...env }, detached: true, shell: false });
  const scope = scopes.getStore();
  if (child.pid && scope) {
    const pid = child.pid;
    scope.onSpawn({ pid, startTime: processStartTime(pid), command: file.split("/").at(-1) ?? file });
    child.once("exit", () => scope.onExit(pid));
  }
  return child;
}

export class ChildProcessError extends LifeboatError {
  constructor(
    readonly command: string,
    readonly exitCode: number | null,
    readonly stderr: string,
    readonly signalName: NodeJS.Signals | null,
  ) {
    const last = stderr.trim().split("\n").filter(Boolean).slice(-3).join(" | ");
    super("COMMAND_FAILED", `${command} ${signalName ? `was stopped by ${signalName}` : `exited with code ${String(exitCode)}`}${last ? `: ${last}` : ""}`, {
      stderr,
    });
  }
}

export type ExecChildOptions = SpawnChildOptions & {
  signal?: AbortSignal | undefined;
  /** Kill the child (and fail) after this long. */
  timeoutMs?: number | undefined;
  maxBuffer?: number | undefined;
};

/** Run a command to completion and collect its output; rejects with ChildProcessError on failure. */
export function execChild(file: string, args: readonly string[], options: ExecChildOptions = {}): Promise<{ stdout: string; stderr: string }> {
  const { signal, timeoutMs, maxBuffer = 8 * 1024 * 1024, ...spawnOptions } = options;
  const name = file.split("/").at(-1) ?? file;
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason instanceof LifeboatError ? signal.reason : new OperationAbortedError("canceled"));
      return;
    }
    const child = spawnChild(file, args, { ...spawnOptions, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
      if (stdout.length < maxBuffer) stdout += chunk;
    });
    child.stderr!.setEncoding("utf8").on("data", (chunk: string) => {
      stderr = (stderr + chunk).slice(-maxBuffer);
    });
    let timedOut = false;
    const timer = timeoutMs
      ? setTimeout(() => {
          timedOut = true;
          signalChildGroup(child, "SIGKILL");
        }, timeoutMs)
      : undefined;
    const onAbort = () => signalChildGroup(child, "SIGKILL");
    signal?.addEventListener("abort", onAbort, { once: true });
    child.once("error", (error) => {
      if (timer) clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      reject(new LifeboatError("COMMAND_FAILED", `${name} could not be started: ${error.message}`, {}, { cause: error }));
    });
    child.once("close", (code, signalName) => {
      if (timer) clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      if (signal?.aborted) reject(signal.reason instanceof LifeboatError ? signal.reason : new OperationAbortedError("canceled"));
      else if (timedOut) reject(new LifeboatError("TIMEOUT", `${name} did not finish within ${Math.round(timeoutMs! / 1000)} s and was stopped`, { stderr }));
      else if (code === 0) resolve({ stdout, stderr });
      else reject(new ChildProcessError(name, code, stderr, signalName));
    });
  });
}
