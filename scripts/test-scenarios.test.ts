import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { formatReport, matchScenarios, parseScenarios, playwrightTests, scenarioTags, vitestTests } from "./test-scenarios";

const exec = promisify(execFile);
const repo = path.resolve(import.meta.dirname, "..");
const fixtures = path.join(repo, "test", "fixtures", "scenarios");
const fixture = (name: string) => readFileSync(path.join(fixtures, name), "utf8");

/** npm run test:scenarios on files of the test's choosing: exit code and output. */
async function runReport(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await exec(path.join(repo, "node_modules", ".bin", "tsx"), [path.join(repo, "scripts", "test-scenarios.ts"), ...args], {
      cwd: repo,
      timeout: 60_000,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe("npm run test:scenarios", () => {
  it("reads numbered scenarios with their sections, and titles up to the first sentence end", () => {
    const scenarios = parseScenarios(fixture("SCENARIOS.md"));
    expect(scenarios).toEqual([
      {
        number: 1,
        section: "Point-in-time recovery",
        title: 'Recover to a time, a named restore point, an LSN and "latest"; check exact row counts at each (write marker rows between targets)',
      },
      { number: 2, section: "Point-in-time recovery", title: "A target past the end of the archive" },
      { number: 3, section: "Backup integrity", title: "Damage each way" },
      { number: 4, section: "Backup integrity", title: "Nobody covers this one, e.g. a scenario still to write" },
    ]);
    expect(() => parseScenarios("1. one\n1. again\n")).toThrow(/scenario 1 twice/);
  });

  it("reads the real SCENARIOS.md: 28 scenarios, numbered 1 to 28", () => {
    const scenarios = parseScenarios(readFileSync(path.join(repo, "docs", "SCENARIOS.md"), "utf8"));
    expect(scenarios.map((s) => s.number)).toEqual(Array.from({ length: 28 }, (_, i) => i + 1));
    expect(scenarios[13]?.title).toBe("A backup killed with SIGKILL halfway, or the disk filling up");
  });

  it("every scenario of docs/SCENARIOS.md is tagged on at least one test in the tree, and no tag names a scenario it lacks (read from the sources)", async () => {
    const numbers = parseScenarios(readFileSync(path.join(repo, "docs", "SCENARIOS.md"), "utf8")).map((s) => s.number);
    const skip = new Set(["node_modules", ".next", ".git", "test-results", "playwright-report", ".lifeboat", "backups", "fixtures"]);
    const sources: string[] = [];
    const walk = async (dir: string) => {
      for (const entry of await readdir(dir, { withFileTypes: true })) {
        if (skip.has(entry.name)) continue;
        const full = path.join(dir, entry.name);
        if (entry.isDirectory()) await walk(full);
        else if (/\.(test|spec)\.ts$/.test(entry.name) && entry.name !== "test-scenarios.test.ts") sources.push(await readFile(full, "utf8"));
      }
    };
    await walk(repo);
    const stdout = sources.join("\n");
    const tagged = new Set(scenarioTags(stdout));
    expect(numbers.filter((n) => !tagged.has(n))).toEqual([]);
    expect([...tagged].filter((n) => !numbers.includes(n))).toEqual([]);
  });

  it("finds [S<n>] tags in titles, several per title", () => {
    expect(scenarioTags("fails past the archive [S2] [S1] [S2]")).toEqual([1, 2]);
    expect(scenarioTags("[S14][S27] full disk")).toEqual([14, 27]);
    expect(scenarioTags("SCENARIOS 11–14, S3, [s4], [S]")).toEqual([]);
  });

  it("reads Vitest's and Playwright's JSON reports: skipped and pending are not passed, a flaky retry is", () => {
    const vitest = vitestTests(JSON.parse(fixture("vitest.json")), "/repo");
    expect(vitest.map((t) => [t.file, t.status, t.scenarios])).toEqual([
      ["lib/engine/pitr/pitr.integration.test.ts", "passed", [1]],
      ["lib/engine/pitr/pitr.integration.test.ts", "failed", [1, 2]],
      ["lib/engine/pitr/pitr.integration.test.ts", "passed", []],
      ["test/scenarios/damage.test.ts", "passed", [3]],
      ["test/scenarios/damage.test.ts", "skipped", [3]],
      ["test/scenarios/damage.test.ts", "passed", [99]],
    ]);
    const playwright = playwrightTests(JSON.parse(fixture("playwright.json")));
    expect(playwright).toEqual([
      {
        runner: "playwright",
        file: "e2e/auth/sign-in.spec.ts",
        title: "[AUTH] a wrong password is refused [S2]",
        status: "passed",
        durationMs: 900,
        scenarios: [2],
      },
      {
        runner: "playwright",
        file: "e2e/auth/sign-in.spec.ts",
        title: "[AUTH] flaky but passed on retry [S3]",
        status: "passed",
        durationMs: 300,
        scenarios: [3],
      },
    ]);
  });

  it("fails a scenario with no test, a failed test or a skipped one; passes one whose every test passed", () => {
    const tests = [...vitestTests(JSON.parse(fixture("vitest.json")), "/repo"), ...playwrightTests(JSON.parse(fixture("playwright.json")))];
    const { results, unknownTags } = matchScenarios(parseScenarios(fixture("SCENARIOS.md")), tests);
    expect(results.map((r) => [r.number, r.ok, r.problem, r.tests.length])).toEqual([
      [1, false, "1 failed", 2],
      [2, false, "1 failed", 2],
      [3, false, "1 skipped", 3],
      [4, false, "no test covers it", 0],
    ]);
    expect(unknownTags.map((t) => t.title)).toEqual(["tagged with a scenario that does not exist [S99]"]);
    const text = formatReport(results, unknownTags);
    expect(text).toContain("FAIL S4. Nobody covers this one, e.g. a scenario still to write  (no test covers it)");
    expect(text).toContain("✗ lib/engine/pitr/pitr.integration.test.ts › fails past the archive [S2] [S1]  1.2 s");
    expect(text).toContain("0 of 4 scenarios covered and passing");

    const allPassed = matchScenarios(
      parseScenarios(fixture("SCENARIOS.md")).slice(0, 1),
      tests.filter((t) => t.status === "passed"),
    );
    expect(allPassed.results[0]).toMatchObject({ number: 1, ok: true, problem: undefined });
  });

  it("exits 0 when every scenario passes, 1 when one does not, 2 without a report", async () => {
    const work = await mkdtemp(path.join(os.tmpdir(), "lifeboat-scenario-report-"));
    try {
      const passing = path.join(work, "vitest.json");
      await writeFile(
        passing,
        JSON.stringify({
          testResults: [
            {
              name: path.join(repo, "x.test.ts"),
              assertionResults: [
                { title: "a [S1] [S2]", status: "passed", duration: 1 },
                { title: "b [S3] [S4]", status: "passed", duration: 1 },
              ],
            },
          ],
        }),
      );
      const scenarios = path.join(fixtures, "SCENARIOS.md");
      const playwright = path.join(fixtures, "playwright.json");
      const ok = await runReport(["--scenarios", scenarios, "--vitest", passing, "--playwright", playwright]);
      expect(ok.code, ok.stderr).toBe(0);
      expect(ok.stdout).toContain("PASS S3. Damage each way");
      expect(ok.stdout).toContain("4 of 4 scenarios covered and passing");

      const failing = await runReport(["--scenarios", scenarios, "--vitest", path.join(fixtures, "vitest.json"), "--playwright", playwright]);
      expect(failing.code).toBe(1);
      expect(failing.stdout).toContain("FAIL S4.");

      const missing = await runReport(["--scenarios", scenarios, "--vitest", path.join(work, "absent.json"), "--playwright", playwright]);
      expect(missing.code).toBe(2);
      expect(missing.stderr).toMatch(/absent\.json.*run npm test first/);
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  });
});
