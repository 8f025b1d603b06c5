#!/usr/bin/env node
// lifeboat-guard FILE ARGS...: the leader of one tool's process group. It runs the tool as its
// child and, when Lifeboat dies (the kernel sends SIGTERM through `setpriv --pdeathsig`, or this
// process finds itself orphaned), kills the whole group: the tool and whatever the tool forked
// (pg_basebackup's WAL streamer, pg_dump -j workers), which the kernel's parent-death signal alone
// would not reach. The tool's exit code or signal is passed on unchanged. No shell is involved.
import { spawn } from "node:child_process";

const [file, ...args] = process.argv.slice(2);
if (!file) {
  process.stderr.write("lifeboat-guard: no command given\n");
  process.exit(2);
}
const parent = process.ppid;
const killGroup = () => {
  try {
    process.kill(0, "SIGKILL"); // our own process group: the tool, its children, and us
  } catch {
    process.exit(137);
  }
};
process.on("SIGTERM", killGroup);
process.on("SIGINT", killGroup);
process.on("SIGHUP", killGroup);
// Without a parent-death signal (not Linux), notice being orphaned instead.
setInterval(() => {
  if (process.ppid !== parent) killGroup();
}, 500).unref();

const child = spawn(file, args, { stdio: "inherit" });
child.on("error", (error) => {
  process.stderr.write(`lifeboat-guard: cannot run ${file}: ${error.message}\n`);
  process.exit(127);
});
child.on("exit", (code, signal) => {
  if (signal) {
    process.removeAllListeners(signal);
    process.kill(process.pid, signal);
    return;
  }
  process.exit(code ?? 1);
});
