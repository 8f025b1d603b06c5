// scripts/setup-cron.js as users run it: a real `node` process on a copy of the script in a throwaway
// checkout, against a fake `crontab` (a small sh script keeping the crontab in a file and counting
// writes), since the machine running the tests may have no cron at all.
import { spawnSync } from "node:child_process";
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const SCRIPT = path.join(import.meta.dirname, "setup-cron.js");
const temps: string[] = [];

afterAll(() => {
  for (const dir of temps) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = realpathSync(mkdtempSync(path.join(os.tmpdir(), "lifeboat-setup-cron-")));
  temps.push(dir);
  return dir;
}

/** A checkout holding only the script and a package.json whose scripts say where they ran. */
function makeCheckout(name = "lifeboat"): string {
  const checkout = path.join(tempDir(), name);
  mkdirSync(path.join(checkout, "scripts"), { recursive: true });
  copyFileSync(SCRIPT, path.join(checkout, "scripts", "setup-cron.js"));
  const echo = (script: string) => `echo "ran ${script} in [$(pwd)]"`;
  const scripts = { backup: echo("backup"), cleanup: echo("cleanup"), verify: echo("verify") };
  writeFileSync(path.join(checkout, "package.json"), JSON.stringify({ name: "lifeboat-copy", private: true, type: "module", scripts }, null, 2));
  return checkout;
}

interface FakeCrontab {
  bin: string;
  stored: () => string | null;
  writes: () => number;
  failWrites: () => void;
}

function makeFakeCrontab(initial?: string): FakeCrontab {
  const dir = tempDir();
  const bin = path.join(dir, "crontab");
  writeFileSync(
    bin,
    `#!/bin/sh
dir=$(dirname "$0")
case "$1" in
  -l)
    if [ -f "$dir/store" ]; then cat "$dir/store"; else echo "no crontab for root" >&2; exit 1; fi ;;
  -)
    if [ -f "$dir/fail" ]; then echo '"-":3: bad minute' >&2; echo "errors in crontab file, can't install." >&2; exit 1; fi
    cat > "$dir/store.tmp" && mv "$dir/store.tmp" "$dir/store"
    echo $(( $(cat "$dir/writes" 2>/dev/null || echo 0) + 1 )) > "$dir/writes" ;;
  *)
    echo "fake crontab: unsupported arguments: $*" >&2; exit 1 ;;
esac
`,
  );
  chmodSync(bin, 0o755);
  if (initial !== undefined) writeFileSync(path.join(dir, "store"), initial);
  return {
    bin,
    stored: () => (existsSync(path.join(dir, "store")) ? readFileSync(path.join(dir, "store"), "utf8") : null),
    writes: () => (existsSync(path.join(dir, "writes")) ? Number(readFileSync(path.join(dir, "writes"), "utf8")) : 0),
    failWrites: () => writeFileSync(path.join(dir, "fail"), ""),
  };
}

function setupCron(checkout: string, args: string[], env: Record<string, string> = {}) {
  const result = spawnSync(process.execPath, [path.join(checkout, "scripts", "setup-cron.js"), ...args], {
    cwd: os.tmpdir(),
    env: { ...process.env, ...env },
    encoding: "utf8",
    input: "",
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

const USER_LINES = "MAILTO=ops@example.com\n# my own job, not Lifeboat's\n*/5 * * * * /usr/local/bin/ping-home --quiet\n";

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

function scheduleLines(text: string): string[] {
  return text.split("\n").filter((line) => /^\d/.test(line));
}

describe("node scripts/setup-cron.js", () => {
  it("--dry-run prints the seed's three schedules for this checkout and installs nothing", () => {
    const checkout = makeCheckout();
    const crontab = makeFakeCrontab(USER_LINES);
    const { code, stdout, stderr } = setupCron(checkout, ["--dry-run"], { LIFEBOAT_CRONTAB_BIN: crontab.bin });

    expect(code).toBe(0);
    expect(stderr).toBe("");
    const lines = stdout.trimEnd().split("\n");
    expect(lines[0]).toBe(`# BEGIN lifeboat (${checkout})`);
    expect(lines.at(-1)).toBe(`# END lifeboat (${checkout})`);
    const schedules = scheduleLines(stdout);
    expect(schedules).toHaveLength(3);
    const expected: [string, string][] = [
      ["0 2 * * *", "backup"],
      ["0 3 * * 0", "cleanup"],
      ["0 4 1 * *", "verify"],
    ];
    expected.forEach(([fields, script], i) => {
      const line = schedules[i] ?? "";
      expect(line.startsWith(`${fields} cd '${checkout}' && `)).toBe(true);
      expect(line).toMatch(new RegExp(`npm'? run ${script} >> ${escapeRegExp(`'${checkout}/logs/cron.log'`)} 2>&1$`));
    });
    expect(crontab.writes()).toBe(0);
    expect(crontab.stored()).toBe(USER_LINES);
    expect(existsSync(path.join(checkout, "logs"))).toBe(false);
  });

  it("calls the npm found on PATH by its absolute path, since cron's PATH is minimal", () => {
    const checkout = makeCheckout();
    const { stdout } = setupCron(checkout, ["--dry-run"]);
    const npm = /&& (?:PATH=\S+ )?(\S+) run backup/.exec(stdout)?.[1] ?? "";
    expect(path.isAbsolute(npm)).toBe(true);
    expect(path.basename(npm)).toBe("npm");
  });

  it("warns when the checkout has no npm script for a schedule (the real checkout today: cleanup and verify)", () => {
    const checkout = makeCheckout();
    const pkg = JSON.parse(readFileSync(path.join(checkout, "package.json"), "utf8")) as { scripts: Record<string, string> };
    delete pkg.scripts.verify;
    writeFileSync(path.join(checkout, "package.json"), JSON.stringify(pkg));
    const { code, stdout, stderr } = setupCron(checkout, ["--dry-run"]);
    expect(code).toBe(0);
    expect(scheduleLines(stdout)).toHaveLength(3);
    expect(stderr).toContain('package.json has no "verify" script');
    expect(stderr).not.toContain('"backup"');
  });

  it("--yes installs the block after the user's own lines, keeps them byte for byte, and a second run changes nothing", () => {
    const checkout = makeCheckout();
    const crontab = makeFakeCrontab(USER_LINES);
    const env = { LIFEBOAT_CRONTAB_BIN: crontab.bin };
    const block = setupCron(checkout, ["--dry-run"], env).stdout;

    const first = setupCron(checkout, ["--yes"], env);
    expect(first.stderr).toBe("");
    expect(first.code).toBe(0);
    expect(crontab.stored()).toBe(USER_LINES + block);
    expect(crontab.writes()).toBe(1);
    expect(existsSync(path.join(checkout, "logs"))).toBe(true);

    const second = setupCron(checkout, ["--yes"], env);
    expect(second.code).toBe(0);
    expect(second.stdout).toContain("already installed; nothing changed");
    expect(crontab.writes()).toBe(1);
    expect(crontab.stored()).toBe(USER_LINES + block);
  });

  it("treats 'no crontab for root' as an empty crontab", () => {
    const checkout = makeCheckout();
    const crontab = makeFakeCrontab();
    const env = { LIFEBOAT_CRONTAB_BIN: crontab.bin };
    const { code } = setupCron(checkout, ["--yes"], env);
    expect(code).toBe(0);
    expect(crontab.stored()).toBe(setupCron(checkout, ["--dry-run"], env).stdout);
  });

  it("replaces an outdated block in place, and two checkouts keep a block each; --remove --yes takes out only its own", () => {
    const one = makeCheckout("one");
    const two = makeCheckout("two");
    const stale = `# BEGIN lifeboat (${one})\n0 1 * * * cd '${one}' && npm run backup\n# END lifeboat (${one})\n`;
    const crontab = makeFakeCrontab(stale + USER_LINES);
    const env = { LIFEBOAT_CRONTAB_BIN: crontab.bin };
    const blockOne = setupCron(one, ["--dry-run"], env).stdout;
    const blockTwo = setupCron(two, ["--dry-run"], env).stdout;

    expect(setupCron(one, ["--yes"], env).code).toBe(0);
    expect(crontab.stored()).toBe(blockOne + USER_LINES);
    expect(setupCron(two, ["--yes"], env).code).toBe(0);
    expect(crontab.stored()).toBe(blockOne + USER_LINES + blockTwo);

    const removed = setupCron(one, ["--remove", "--yes"], env);
    expect(removed.code).toBe(0);
    expect(crontab.stored()).toBe(USER_LINES + blockTwo);
    expect(crontab.writes()).toBe(3);

    const again = setupCron(one, ["--remove", "--yes"], env);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain("nothing changed");
    expect(crontab.writes()).toBe(3);

    expect(setupCron(two, ["--remove", "--yes"], env).code).toBe(0);
    expect(crontab.stored()).toBe(USER_LINES);
  });

  it("asks on a terminal and changes nothing unless the answer is yes; without a terminal it requires --yes", () => {
    const checkout = makeCheckout();
    const crontab = makeFakeCrontab(USER_LINES);
    const env = { LIFEBOAT_CRONTAB_BIN: crontab.bin };

    const noTerminal = setupCron(checkout, [], env);
    expect(noTerminal.code).toBe(2);
    expect(noTerminal.stderr).toContain("--yes");
    expect(crontab.writes()).toBe(0);

    // script(1) gives the process a pseudo-terminal and types the answer into it.
    const onTerminal = (answer: string) =>
      spawnSync("script", ["-qec", `node '${path.join(checkout, "scripts", "setup-cron.js")}'`, "/dev/null"], {
        env: { ...process.env, ...env },
        encoding: "utf8",
        input: `${answer}\n`,
      });
    const declined = onTerminal("n");
    expect(declined.stdout).toContain("Install these 3 lines into your crontab? [y/N]");
    expect(declined.status).toBe(1);
    expect(crontab.writes()).toBe(0);

    const accepted = onTerminal("y");
    expect(accepted.status).toBe(0);
    expect(crontab.writes()).toBe(1);
    expect(crontab.stored()?.startsWith(USER_LINES)).toBe(true);
  });

  it("escapes a checkout path with spaces, quotes, $ and %: the installed line runs the CLI in that folder from cron's bare environment", () => {
    const checkout = makeCheckout("it's 100% $HOME");
    const crontab = makeFakeCrontab(USER_LINES);
    const { code, stderr } = setupCron(checkout, ["--yes"], { LIFEBOAT_CRONTAB_BIN: crontab.bin });
    expect(stderr).toBe("");
    expect(code).toBe(0);

    const stored = crontab.stored() ?? "";
    expect(stored).toContain(`# BEGIN lifeboat (${checkout})\n`);
    const backup = scheduleLines(stored).find((line) => line.startsWith("0 2 * * * ")) ?? "";
    expect(backup).toContain(`cd '${checkout.replace("it's", "it'\\''s").replace("%", "\\%")}' && `);

    // What cron does with the line (crontab(5)): drop the five time fields, turn \% into %, run the
    // rest with /bin/sh in a bare environment whose PATH is /usr/bin:/bin.
    const command = backup.split(" ").slice(5).join(" ").replaceAll("\\%", "%");
    const home = tempDir();
    const ran = spawnSync("/usr/bin/env", ["-i", "PATH=/usr/bin:/bin", `HOME=${home}`, "SHELL=/bin/sh", "/bin/sh", "-c", command], {
      cwd: home,
      encoding: "utf8",
    });
    expect(ran.stderr).toBe("");
    expect(ran.status).toBe(0);
    expect(readFileSync(path.join(checkout, "logs", "cron.log"), "utf8")).toContain(`ran backup in [${checkout}]`);
  });

  it("--platform windows --dry-run prints the three schtasks commands and touches no crontab", () => {
    const checkout = makeCheckout();
    const crontab = makeFakeCrontab(USER_LINES);
    const { code, stdout } = setupCron(checkout, ["--platform", "windows", "--dry-run"], { LIFEBOAT_CRONTAB_BIN: crontab.bin });
    expect(code).toBe(0);
    const lines = stdout.trimEnd().split("\n");
    expect(lines).toHaveLength(3);
    const log = path.join(checkout, "logs", "cron.log");
    const tr = (script: string) => `/TR "cmd /d /c \\"cd /d \\"${checkout}\\" && npm run ${script} >> \\"${log}\\" 2>&1\\"" /F`;
    expect(lines[0]).toBe(`schtasks /Create /TN "Lifeboat backup" /SC DAILY /ST 02:00 ${tr("backup")}`);
    expect(lines[1]).toBe(`schtasks /Create /TN "Lifeboat cleanup" /SC WEEKLY /D SUN /ST 03:00 ${tr("cleanup")}`);
    expect(lines[2]).toBe(`schtasks /Create /TN "Lifeboat verify" /SC MONTHLY /D 1 /ST 04:00 ${tr("verify")}`);
    expect(crontab.writes()).toBe(0);
    expect(crontab.stored()).toBe(USER_LINES);
  });

  it("--platform windows --yes runs schtasks with one argument per option, never through a shell", () => {
    const checkout = makeCheckout("with space");
    const dir = tempDir();
    const schtasks = path.join(dir, "schtasks");
    writeFileSync(schtasks, `#!/bin/sh\nfor a in "$@"; do printf '%s\\n' "$a"; done >> "${dir}/calls"\necho >> "${dir}/calls"\n`);
    chmodSync(schtasks, 0o755);
    const { code } = setupCron(checkout, ["--platform", "windows", "--yes"], { LIFEBOAT_SCHTASKS_BIN: schtasks });
    expect(code).toBe(0);
    const calls = readFileSync(path.join(dir, "calls"), "utf8").trimEnd().split("\n\n");
    expect(calls).toHaveLength(3);
    const log = path.join(checkout, "logs", "cron.log");
    expect(calls[0]?.split("\n")).toEqual([
      "/Create",
      "/TN",
      "Lifeboat backup",
      "/SC",
      "DAILY",
      "/ST",
      "02:00",
      "/TR",
      `cmd /d /c "cd /d "${checkout}" && npm run backup >> "${log}" 2>&1"`,
      "/F",
    ]);
  });

  it("fails with one clear line when crontab is missing or refuses the new crontab, and exits 2 on bad arguments", () => {
    const checkout = makeCheckout();
    const missing = setupCron(checkout, ["--yes"], { LIFEBOAT_CRONTAB_BIN: path.join(tempDir(), "no-such-crontab") });
    expect(missing.code).toBe(1);
    expect(missing.stderr.trimEnd().split("\n")).toEqual([expect.stringMatching(/^setup-cron: crontab not found .*LIFEBOAT_CRONTAB_BIN/)]);

    const crontab = makeFakeCrontab(USER_LINES);
    crontab.failWrites();
    const refused = setupCron(checkout, ["--yes"], { LIFEBOAT_CRONTAB_BIN: crontab.bin });
    expect(refused.code).toBe(1);
    expect(refused.stderr.trimEnd()).toBe('setup-cron: crontab - failed: "-":3: bad minute');
    expect(crontab.stored()).toBe(USER_LINES);

    expect(setupCron(checkout, ["--bogus"]).code).toBe(2);
    expect(setupCron(checkout, ["--platform", "solaris", "--dry-run"]).code).toBe(2);
    expect(setupCron(checkout, ["extra"]).code).toBe(2);
    const help = setupCron(checkout, ["--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("--dry-run");
  });

  it("refuses a crontab whose markers for this checkout do not pair up, changing nothing", () => {
    const checkout = makeCheckout();
    const broken = `${USER_LINES}# BEGIN lifeboat (${checkout})\n0 2 * * * true\n`;
    const crontab = makeFakeCrontab(broken);
    const { code, stderr } = setupCron(checkout, ["--yes"], { LIFEBOAT_CRONTAB_BIN: crontab.bin });
    expect(code).toBe(1);
    expect(stderr).toContain("do not pair up");
    expect(crontab.writes()).toBe(0);
  });
});
