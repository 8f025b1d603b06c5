#!/usr/bin/env node
// node scripts/setup-cron.js [--dry-run] [--yes] [--remove] [--platform unix|windows]
//
// The seed's "Automated Setup" (backup-strategy.md) for people who do not run Lifeboat's worker:
// the three schedules go into the user's crontab, or into Windows Task Scheduler, each calling
// this checkout's CLI. Plain JavaScript on Node's standard library so it runs with plain `node`
// (no tsx, no npm install); that is also why it reads process.env itself instead of lib/env.ts.
import { spawn } from "node:child_process";
import { accessSync, constants, mkdirSync, readFileSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { createInterface } from "node:readline/promises";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const SCHEDULES = [
  { script: "backup", when: "daily at 02:00", cron: "0 2 * * *", task: "Lifeboat backup", schtasks: ["/SC", "DAILY", "/ST", "02:00"] },
  { script: "cleanup", when: "Sundays at 03:00", cron: "0 3 * * 0", task: "Lifeboat cleanup", schtasks: ["/SC", "WEEKLY", "/D", "SUN", "/ST", "03:00"] },
  {
    script: "verify",
    when: "the 1st of each month at 04:00",
    cron: "0 4 1 * *",
    task: "Lifeboat verify",
    schtasks: ["/SC", "MONTHLY", "/D", "1", "/ST", "04:00"],
  },
];

// What cron gives its jobs on Debian, RHEL (cronie) and macOS: npm's `#!/usr/bin/env node` fails
// there when node lives anywhere else (nvm, /usr/local/bin), so such a node's folder is prepended.
const CRON_PATH = ["/usr/bin", "/bin"];
// schtasks refuses a longer /TR value.
const SCHTASKS_TR_MAX = 261;

const HELP = `Usage: node scripts/setup-cron.js [--dry-run] [--yes] [--remove] [--platform unix|windows]

Schedules this checkout's backups (seed backup-strategy.md) for setups without Lifeboat's worker
(do not use both, or every backup runs twice):
${SCHEDULES.map((s) => `  npm run ${s.script.padEnd(8)} ${s.when}`).join("\n")}
Output goes to logs/cron.log in the checkout. Times are the machine's local time.

Unix: a block marked "# BEGIN lifeboat (<checkout>)" … "# END lifeboat (<checkout>)" in your
crontab is added or replaced; every other line is kept as it is. Windows: the scheduled tasks
"Lifeboat backup", "Lifeboat cleanup" and "Lifeboat verify" are created (or overwritten).

  --dry-run            print what would be installed (or removed); change nothing
  --yes, -y            do not ask (required when not run from a terminal)
  --remove             take the schedules out again
  --platform NAME      unix or windows (default: this machine's)
  --help, -h           this text

Environment: LIFEBOAT_CRONTAB_BIN (default crontab), LIFEBOAT_SCHTASKS_BIN (default schtasks).
Exit codes: 0 done or nothing to do, 1 failed or declined, 2 bad arguments.`;

class UsageError extends Error {}
class SetupError extends Error {}

function parseOptions(argv) {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: false,
      options: {
        "dry-run": { type: "boolean", default: false },
        yes: { type: "boolean", short: "y", default: false },
        remove: { type: "boolean", default: false },
        platform: { type: "string" },
        help: { type: "boolean", short: "h", default: false },
      },
    });
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  const { values } = parsed;
  const platform = values.platform ?? (process.platform === "win32" ? "windows" : "unix");
  if (platform !== "unix" && platform !== "windows") throw new UsageError(`--platform must be unix or windows, not ${JSON.stringify(platform)}`);
  return { dryRun: values["dry-run"], yes: values.yes, remove: values.remove, platform, help: values.help };
}

// ---- the commands -------------------------------------------------------------------------------

/** sh single quotes: everything literal; a ' inside becomes '\'' (close, escaped quote, reopen). */
function shQuote(value) {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

function shWord(value) {
  return /^[A-Za-z0-9_/.,:@+=-]+$/.test(value) ? value : shQuote(value);
}

/** One argument as Windows programs (and libuv, when Node spawns them) read it: MSVCRT rules. */
function winArg(value) {
  if (value !== "" && !/[\s"]/.test(value)) return value;
  let out = '"';
  let backslashes = 0;
  for (const ch of value) {
    if (ch === "\\") {
      backslashes += 1;
      continue;
    }
    out += ch === '"' ? "\\".repeat(backslashes * 2 + 1) + '"' : "\\".repeat(backslashes) + ch;
    backslashes = 0;
  }
  return `${out}${"\\".repeat(backslashes * 2)}"`;
}

function isExecutableFile(file) {
  try {
    if (!statSync(file).isFile()) return false;
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The absolute path of a program on this PATH (cron's own PATH is minimal), or null. */
function findOnPath(name) {
  const dirs = (process.env.PATH ?? process.env.Path ?? "").split(path.delimiter).filter((dir) => path.isAbsolute(dir));
  const extensions = process.platform === "win32" ? (process.env.PATHEXT ?? ".COM;.EXE;.BAT;.CMD").split(";").filter(Boolean) : [""];
  for (const dir of dirs) {
    for (const ext of extensions) {
      const file = path.join(dir, name + ext.toLowerCase());
      if (isExecutableFile(file)) return file;
    }
  }
  return null;
}

function checkoutFolder() {
  return path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
}

/** The npm to call: found on PATH now, when this script runs for the machine it schedules on. */
function resolveNpm(platform) {
  const native = (platform === "windows") === (process.platform === "win32");
  const found = native ? findOnPath("npm") : null;
  if (native && !found) warn('npm is not on PATH; the schedules call plain "npm", which the scheduler must find on its own PATH');
  return found ?? "npm";
}

function cronLines(checkout, npm) {
  if (/[\r\n]/.test(checkout)) throw new SetupError(`the checkout path contains a line break, which a crontab line cannot hold: ${JSON.stringify(checkout)}`);
  const nodeDir = path.dirname(process.execPath);
  const pathPrefix = CRON_PATH.includes(nodeDir) ? "" : `PATH=${shWord(nodeDir)}:"$PATH" `;
  const log = path.posix.join(checkout, "logs", "cron.log");
  return SCHEDULES.map((s) => {
    const command = `cd ${shQuote(checkout)} && ${pathPrefix}${shWord(npm)} run ${s.script} >> ${shQuote(log)} 2>&1`;
    // crontab(5): an unescaped % in the command ends it (the rest becomes stdin); \% is a literal %.
    return `${s.cron} ${command.replaceAll("%", "\\%")}`;
  });
}

function markers(checkout) {
  return { begin: `# BEGIN lifeboat (${checkout})`, end: `# END lifeboat (${checkout})` };
}

function cronBlock(checkout, npm) {
  const { begin, end } = markers(checkout);
  return [begin, "# The seed's schedules (backup-strategy.md); `node scripts/setup-cron.js --remove` takes them out.", ...cronLines(checkout, npm), end];
}

function schtasksCreations(checkout, npm) {
  // cmd expands %VAR% even inside quotes, and a Windows path cannot hold a double quote.
  if (/[%"\r\n]/.test(checkout))
    throw new SetupError(`the checkout path contains a character a scheduled task's command cannot hold safely (% or "): ${checkout}`);
  const log = path.join(checkout, "logs", "cron.log");
  const npmWord = /[\s&()^<>|,;=]/.test(npm) ? `"${npm}"` : npm;
  return SCHEDULES.map((s) => {
    // cmd /c strips the outer quotes and runs the rest as one command line.
    const tr = `cmd /d /c "cd /d "${checkout}" && ${npmWord} run ${s.script} >> "${log}" 2>&1"`;
    if (tr.length > SCHTASKS_TR_MAX)
      warn(`the command for "${s.task}" is ${tr.length} characters; schtasks accepts at most ${SCHTASKS_TR_MAX} (use a shorter checkout path)`);
    return { task: s.task, args: ["/Create", "/TN", s.task, ...s.schtasks, "/TR", tr, "/F"] };
  });
}

function commandLine(program, args) {
  return [program, ...args].map(winArg).join(" ");
}

// ---- the crontab text ---------------------------------------------------------------------------

/** Where this checkout's block sits in the crontab's lines, or null when it has none. */
function findBlock(lines, checkout) {
  const { begin, end } = markers(checkout);
  const bare = lines.map((line) => line.replace(/\r$/, ""));
  const starts = bare.flatMap((line, i) => (line === begin ? [i] : []));
  const ends = bare.flatMap((line, i) => (line === end ? [i] : []));
  if (starts.length === 0 && ends.length === 0) return null;
  const [start] = starts;
  const [stop] = ends;
  if (starts.length !== 1 || ends.length !== 1 || start === undefined || stop === undefined || stop < start) {
    throw new SetupError(`the crontab's "${begin}" and "${end}" lines do not pair up; fix them with crontab -e, then run this again`);
  }
  return { start, stop };
}

/** The crontab with this checkout's block replaced, appended, or (block null) removed; nothing else changes. */
function withBlock(current, checkout, block) {
  const lines = current.split("\n");
  const found = findBlock(lines, checkout);
  if (found) {
    lines.splice(found.start, found.stop - found.start + 1, ...(block ?? []));
    return lines.join("\n");
  }
  if (!block) return current;
  const text = `${block.join("\n")}\n`;
  if (current === "") return text;
  return `${current.endsWith("\n") ? current : `${current}\n`}${text}`;
}

function installedBlock(content, checkout) {
  const lines = content.split("\n");
  const found = findBlock(lines, checkout);
  return found ? lines.slice(found.start, found.stop + 1) : null;
}

// ---- processes ----------------------------------------------------------------------------------

/** Runs a program with an argument array (never a shell), feeding `input` on stdin. */
function run(file, args, input = "") {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { stdio: ["pipe", "pipe", "pipe"], windowsHide: true });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (chunk) => (stdout += chunk));
    child.stderr.setEncoding("utf8").on("data", (chunk) => (stderr += chunk));
    child.on("error", reject);
    child.on("close", (code, signal) => resolve({ code: code ?? 1, signal, stdout, stderr }));
    child.stdin.on("error", () => {
      // EPIPE when the program exits without reading its input: its exit status says what went wrong.
    });
    child.stdin.end(input);
  });
}

function firstLine(text) {
  return (
    text
      .split("\n")
      .map((line) => line.trim())
      .find(Boolean) ?? ""
  );
}

async function runTool(label, file, args, input) {
  try {
    return await run(file, args, input);
  } catch (error) {
    const code = error && typeof error === "object" && "code" in error ? error.code : undefined;
    if (code === "ENOENT")
      throw new SetupError(`${label} not found (${file}): ${label === "crontab" ? "install cron, or set LIFEBOAT_CRONTAB_BIN" : "set LIFEBOAT_SCHTASKS_BIN"}`);
    throw new SetupError(`${label} could not be started (${file}): ${error instanceof Error ? error.message : String(error)}`);
  }
}

function failure(what, result) {
  const why = firstLine(result.stderr) || firstLine(result.stdout) || (result.signal ? `killed by ${result.signal}` : `exit status ${result.code}`);
  return new SetupError(`${what} failed: ${why}`);
}

function crontabBin() {
  return process.env.LIFEBOAT_CRONTAB_BIN || "crontab";
}

async function readCrontab() {
  const result = await runTool("crontab", crontabBin(), ["-l"]);
  if (result.code === 0) return result.stdout;
  // Every cron prints this (with the user's name) when the user has no crontab yet.
  if (/no crontab for /i.test(result.stderr)) return "";
  throw failure("crontab -l", result);
}

async function writeCrontab(content) {
  const result = await runTool("crontab", crontabBin(), ["-"], content);
  if (result.code !== 0) throw failure("crontab -", result);
}

// ---- talking to the user ------------------------------------------------------------------------

function say(line = "") {
  process.stdout.write(`${line}\n`);
}

function warn(line) {
  process.stderr.write(`setup-cron: warning: ${line}\n`);
}

async function confirm(question, options) {
  if (options.yes) return true;
  if (!process.stdin.isTTY || !process.stdout.isTTY) throw new UsageError("not run from a terminal: add --yes to go ahead without asking");
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  try {
    return /^y(es)?$/i.test((await rl.question(`${question} [y/N] `)).trim());
  } finally {
    rl.close();
  }
}

/** Warns about schedules whose npm script this checkout does not have (the job would fail every time). */
function checkScripts(checkout) {
  let scripts;
  try {
    scripts = JSON.parse(readFileSync(path.join(checkout, "package.json"), "utf8")).scripts ?? {};
  } catch (error) {
    warn(`cannot read ${path.join(checkout, "package.json")} (${error instanceof Error ? error.message : String(error)}); is this a Lifeboat checkout?`);
    return;
  }
  for (const s of SCHEDULES) {
    if (typeof scripts[s.script] !== "string")
      warn(`package.json has no "${s.script}" script: "npm run ${s.script}" (${s.when}) will fail, into logs/cron.log, until it exists`);
  }
}

function ensureLogFolder(checkout) {
  mkdirSync(path.join(checkout, "logs"), { recursive: true, mode: 0o700 });
}

// ---- the two platforms --------------------------------------------------------------------------

async function unix(checkout, options) {
  const block = options.remove ? null : cronBlock(checkout, resolveNpm("unix"));
  if (options.dryRun && block) {
    for (const line of block) say(line);
    return 0;
  }

  const current = await readCrontab();
  const next = withBlock(current, checkout, block);
  const before = installedBlock(current, checkout);
  if (next === current) {
    say(
      block
        ? `Lifeboat's schedules for ${checkout} are already installed; nothing changed.`
        : `No Lifeboat schedules for ${checkout} in the crontab; nothing changed.`,
    );
    return 0;
  }

  const kept = current.split("\n").filter(Boolean).length - (before?.length ?? 0);
  say(`Crontab of ${os.userInfo().username}, Lifeboat block for ${checkout} (${kept} other line${kept === 1 ? "" : "s"} unchanged):`);
  for (const line of before ?? []) say(`- ${line}`);
  for (const line of block ?? []) say(`+ ${line}`);
  if (options.dryRun) return 0;

  const question = block ? `Install these ${SCHEDULES.length} lines into your crontab?` : "Remove these lines from your crontab?";
  if (!(await confirm(question, options))) {
    say("Nothing changed.");
    return 1;
  }
  if (block) ensureLogFolder(checkout);
  await writeCrontab(next);

  const after = installedBlock(await readCrontab(), checkout);
  if (JSON.stringify(after) !== JSON.stringify(block))
    throw new SetupError("crontab - succeeded but crontab -l does not show the expected lines; check crontab -l");
  say(
    block
      ? `Installed: ${SCHEDULES.map((s) => `npm run ${s.script} ${s.when}`).join(", ")}; output in ${path.join(checkout, "logs", "cron.log")}.`
      : "Removed.",
  );
  return 0;
}

async function windows(checkout, options) {
  const schtasks = process.env.LIFEBOAT_SCHTASKS_BIN || "schtasks";
  const commands = options.remove
    ? SCHEDULES.map((s) => ({ task: s.task, args: ["/Delete", "/TN", s.task, "/F"] }))
    : schtasksCreations(checkout, resolveNpm("windows"));
  for (const command of commands) say(commandLine("schtasks", command.args));
  if (options.dryRun) return 0;

  const question = options.remove
    ? "Delete these scheduled tasks?"
    : `Create these ${commands.length} scheduled tasks (an existing task of the same name is replaced)?`;
  if (!(await confirm(question, options))) {
    say("Nothing changed.");
    return 1;
  }
  if (!options.remove) ensureLogFolder(checkout);
  for (const command of commands) {
    if (options.remove) {
      const query = await runTool("schtasks", schtasks, ["/Query", "/TN", command.task]);
      if (query.code !== 0) {
        say(`"${command.task}" is not scheduled; skipped.`);
        continue;
      }
    }
    const result = await runTool("schtasks", schtasks, command.args);
    if (result.code !== 0) throw failure(`schtasks ${command.args[0]} "${command.task}"`, result);
  }
  say(options.remove ? "Removed." : "Scheduled tasks created.");
  return 0;
}

async function main(argv) {
  const options = parseOptions(argv);
  if (options.help) {
    say(HELP);
    return 0;
  }
  const checkout = checkoutFolder();
  if (!options.remove) checkScripts(checkout);
  return options.platform === "windows" ? windows(checkout, options) : unix(checkout, options);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error) => {
    if (error instanceof UsageError) {
      process.stderr.write(`setup-cron: ${error.message} (see --help)\n`);
      process.exitCode = 2;
      return;
    }
    process.stderr.write(
      `setup-cron: ${error instanceof SetupError ? error.message : error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exitCode = 1;
  },
);
