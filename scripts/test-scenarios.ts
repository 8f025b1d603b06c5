/**
 * npm run test:scenarios - the failure suite's report: every scenario of docs/SCENARIOS.md with
 * the tests that cover it (tagged `[S<n>]` in their titles) and their results, from the JSON
 * reports scripts/test.sh writes (.test-reports/vitest.json, .test-reports/playwright.json).
 * Exits 1 when a scenario has no test, or a covering test failed, was skipped or did not run;
 * exits 2 when SCENARIOS.md or a report cannot be read.
 *
 *   npm run test:scenarios [-- --scenarios FILE --vitest FILE --playwright FILE]
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";

export type Scenario = { number: number; section: string; title: string };
export type TestStatus = "passed" | "failed" | "skipped";
export type TaggedTest = { runner: "vitest" | "playwright"; file: string; title: string; status: TestStatus; durationMs: number; scenarios: number[] };
export type ScenarioResult = Scenario & { tests: TaggedTest[]; ok: boolean; problem?: string | undefined };

const TAG = /\[S(\d+)\]/g;

/** The scenario numbers a test title is tagged with (`[S14]`, several allowed). */
export function scenarioTags(title: string): number[] {
  return [...new Set([...title.matchAll(TAG)].map((m) => Number(m[1])))].sort((a, b) => a - b);
}

/**
 * The numbered scenarios of SCENARIOS.md: `N. text` starts one (its continuation lines are
 * indented), `## heading` names the section. The title is the scenario's text up to its first
 * sentence end, on one line.
 */
export function parseScenarios(markdown: string): Scenario[] {
  const scenarios: Scenario[] = [];
  let section = "";
  let current: { number: number; section: string; lines: string[] } | undefined;
  const flush = () => {
    if (!current) return;
    scenarios.push({ number: current.number, section: current.section, title: firstSentence(current.lines.join(" ")) });
    current = undefined;
  };
  for (const line of markdown.split("\n")) {
    const heading = /^#{2,}\s+(.*)$/.exec(line);
    const item = /^(\d+)\.\s+(.*)$/.exec(line);
    if (heading) {
      flush();
      section = heading[1]!.trim();
    } else if (item) {
      flush();
      current = { number: Number(item[1]), section, lines: [item[2]!.trim()] };
    } else if (current && /^\s+\S/.test(line)) {
      current.lines.push(line.trim());
    } else {
      flush();
    }
  }
  flush();
  const seen = new Set<number>();
  for (const s of scenarios) {
    if (seen.has(s.number)) throw new Error(`SCENARIOS.md numbers scenario ${s.number} twice`);
    seen.add(s.number);
  }
  return scenarios;
}

function firstSentence(text: string): string {
  const clean = text.replace(/\s+/g, " ").trim();
  // A sentence ends at ". " or ": " followed by more text; "e.g." and the like do not end one.
  const end = /(?<!\be\.g|\bi\.e|\betc)[.:](?=\s)/.exec(clean);
  const sentence = end ? clean.slice(0, end.index) : clean.replace(/\.$/, "");
  return sentence.length > 160 ? `${sentence.slice(0, 157)}…` : sentence;
}

type VitestReport = {
  testResults?: { name: string; assertionResults?: { title: string; status: string; duration?: number | null }[] }[];
};

type PlaywrightSuite = {
  title?: string;
  file?: string;
  specs?: { title: string; file?: string; tests?: { status?: string; results?: { status?: string; duration?: number }[] }[] }[];
  suites?: PlaywrightSuite[];
};

/** Tests from Vitest's JSON reporter (`testResults[].assertionResults[]`). */
export function vitestTests(report: unknown, root: string): TaggedTest[] {
  const tests: TaggedTest[] = [];
  for (const file of (report as VitestReport).testResults ?? []) {
    for (const test of file.assertionResults ?? []) {
      tests.push({
        runner: "vitest",
        file: path.isAbsolute(file.name) ? path.relative(root, file.name) : file.name,
        title: test.title,
        // pending, skipped and todo all mean: it did not run.
        status: test.status === "passed" ? "passed" : test.status === "failed" ? "failed" : "skipped",
        durationMs: test.duration ?? 0,
        scenarios: scenarioTags(test.title),
      });
    }
  }
  return tests;
}

/** Tests from Playwright's JSON reporter (nested `suites[].specs[].tests[]`, one per project). */
export function playwrightTests(report: unknown): TaggedTest[] {
  const tests: TaggedTest[] = [];
  const walk = (suite: PlaywrightSuite, file: string | undefined) => {
    const here = suite.file ?? file;
    for (const spec of suite.specs ?? []) {
      for (const test of spec.tests ?? []) {
        const results = test.results ?? [];
        // expected (passed), flaky (passed on a retry), unexpected (failed), skipped.
        const status: TestStatus =
          test.status === "expected" || test.status === "flaky" ? "passed" : test.status === "skipped" || results.length === 0 ? "skipped" : "failed";
        tests.push({
          runner: "playwright",
          file: path.join("e2e", spec.file ?? here ?? "?"),
          title: spec.title,
          status,
          durationMs: results.reduce((sum, r) => sum + (r.duration ?? 0), 0),
          scenarios: scenarioTags(spec.title),
        });
      }
    }
    for (const child of suite.suites ?? []) walk(child, here);
  };
  for (const suite of (report as { suites?: PlaywrightSuite[] }).suites ?? []) walk(suite, undefined);
  return tests;
}

/** Each scenario with its tests; ok when it has at least one and every one passed. */
export function matchScenarios(scenarios: Scenario[], tests: TaggedTest[]): { results: ScenarioResult[]; unknownTags: TaggedTest[] } {
  const numbers = new Set(scenarios.map((s) => s.number));
  const results = scenarios.map((scenario): ScenarioResult => {
    const covering = tests.filter((t) => t.scenarios.includes(scenario.number));
    const failed = covering.filter((t) => t.status === "failed").length;
    const skipped = covering.filter((t) => t.status === "skipped").length;
    const problem =
      covering.length === 0
        ? "no test covers it"
        : failed || skipped
          ? [failed && `${failed} failed`, skipped && `${skipped} skipped`].filter(Boolean).join(", ")
          : undefined;
    return { ...scenario, tests: covering, ok: problem === undefined, problem };
  });
  const unknownTags = tests.filter((t) => t.scenarios.some((n) => !numbers.has(n)));
  return { results, unknownTags };
}

const MARK: Record<TestStatus, string> = { passed: "✓", failed: "✗", skipped: "-" };

export function formatReport(results: ScenarioResult[], unknownTags: TaggedTest[]): string {
  const lines: string[] = [];
  let section: string | undefined;
  for (const r of results) {
    if (r.section !== section) {
      section = r.section;
      lines.push("", `## ${section}`);
    }
    lines.push(`${r.ok ? "PASS" : "FAIL"} S${r.number}. ${r.title}${r.problem ? `  (${r.problem})` : ""}`);
    for (const t of r.tests) lines.push(`     ${MARK[t.status]} ${t.file} › ${t.title}  ${(t.durationMs / 1000).toFixed(1)} s`);
  }
  for (const t of unknownTags) lines.push(`warning: ${t.file} › ${t.title} is tagged with a scenario SCENARIOS.md does not have`);
  const passing = results.filter((r) => r.ok).length;
  lines.push("", `${passing} of ${results.length} scenarios covered and passing`);
  return lines.join("\n").trimStart();
}

function readJson(file: string): unknown {
  return JSON.parse(readFileSync(file, "utf8"));
}

function main(argv: string[]): number {
  const root = path.resolve(import.meta.dirname, "..");
  const option = (name: string, fallback: string) => {
    const at = argv.indexOf(name);
    return path.resolve(root, at >= 0 && argv[at + 1] ? argv[at + 1]! : fallback);
  };
  const scenariosFile = option("--scenarios", "docs/SCENARIOS.md");
  const vitestFile = option("--vitest", ".test-reports/vitest.json");
  const playwrightFile = option("--playwright", ".test-reports/playwright.json");
  let scenarios: Scenario[];
  const tests: TaggedTest[] = [];
  try {
    scenarios = parseScenarios(readFileSync(scenariosFile, "utf8"));
    if (scenarios.length === 0) throw new Error(`${scenariosFile} lists no numbered scenario`);
    tests.push(...vitestTests(readJson(vitestFile), root));
    tests.push(...playwrightTests(readJson(playwrightFile)));
  } catch (error) {
    console.error(`test:scenarios: ${(error as Error).message} (run npm test first: it writes the reports)`);
    return 2;
  }
  const { results, unknownTags } = matchScenarios(scenarios, tests);
  console.log(formatReport(results, unknownTags));
  return results.every((r) => r.ok) ? 0 : 1;
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) process.exit(main(process.argv.slice(2)));
