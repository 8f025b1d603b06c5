import { spawn } from "node:child_process";
import { createWriteStream } from "node:fs";
import { readdir, readFile } from "node:fs/promises";

/**
 * The reference tools are run the plainest way: an argument array, their output to a file or
 * /dev/null, a deadline. (Lifeboat's own runs go through its operations, as the CLI's do.)
 */
export async function run(
  command: string,
  args: string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string; stdoutFile?: string; timeoutMs?: number; input?: string } = {},
): Promise<{ stdout: string; stderr: string }> {
  const timeoutMs = options.timeoutMs ?? 30 * 60_000;
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      env: options.env ?? process.env,
      cwd: options.cwd,
      stdio: [options.input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    if (!child.stdout || !child.stderr) throw new Error("no pipes");
    if (options.stdoutFile) child.stdout.pipe(createWriteStream(options.stdoutFile));
    else child.stdout.setEncoding("utf8").on("data", (c: string) => (stdout = (stdout + c).slice(-1_000_000)));
    child.stderr.setEncoding("utf8").on("data", (c: string) => (stderr = (stderr + c).slice(-20_000)));
    if (options.input !== undefined) child.stdin!.end(options.input);
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.once("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.once("close", (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve({ stdout, stderr });
      else reject(new Error(`${command} ${args.join(" ")} failed (${signal ?? code}): ${stderr.trim().slice(-2000)}`));
    });
  });
}

const PAGE = 4096;

/** Resident memory of a process and all its descendants, from /proc (bytes), and each one's share. */
export async function treeRss(root: number): Promise<{ total: number; parts: { command: string; bytes: number }[] }> {
  const parents = new Map<number, number>();
  const rss = new Map<number, number>();
  const names = new Map<number, string>();
  for (const name of await readdir("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    try {
      const stat = await readFile(`/proc/${pid}/stat`, "utf8");
      // The command name may contain spaces and parentheses: fields start after the last ')'.
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      parents.set(pid, Number(fields[1]));
      names.set(pid, stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")")));
      rss.set(pid, Number(fields[21]) * PAGE);
    } catch {
      // the process ended meanwhile
    }
  }
  let total = 0;
  const parts: { command: string; bytes: number }[] = [];
  for (const [pid, bytes] of rss) {
    for (let p: number | undefined = pid; p !== undefined && p > 1; p = parents.get(p)) {
      if (p === root) {
        total += bytes;
        parts.push({ command: names.get(pid) ?? "?", bytes });
        break;
      }
    }
  }
  return { total, parts: parts.sort((a, b) => b.bytes - a.bytes) };
}

/** Sample a process tree's RSS every `everyMs` until stopped; returns the peak and who held it. */
export function sampleTreeRss(root: number, everyMs = 100): { stop: () => Promise<{ total: number; parts: { command: string; bytes: number }[] }> } {
  let peak: { total: number; parts: { command: string; bytes: number }[] } = { total: 0, parts: [] };
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      const now = await treeRss(root).catch(() => ({ total: 0, parts: [] }));
      if (now.total > peak.total) peak = now;
      await new Promise((r) => setTimeout(r, everyMs));
    }
  })();
  return {
    stop: async () => {
      stopped = true;
      await loop;
      return peak;
    },
  };
}
