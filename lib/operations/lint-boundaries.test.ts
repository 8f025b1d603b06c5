import { execFile } from "node:child_process";
import path from "node:path";
import { promisify } from "node:util";
import { ESLint } from "eslint";
import { beforeAll, describe, expect, it } from "vitest";

const exec = promisify(execFile);
const repo = path.resolve(import.meta.dirname, "..", "..");

/**
 * The layer boundaries of ARCHITECTURE.md are enforced by ESLint's no-restricted-imports
 * (eslint.config.mjs). These lint made-up files at real paths of the tree, so the rule is proven
 * to bite where it must and to stay quiet where imports are allowed.
 */
describe("layer boundaries (eslint no-restricted-imports)", () => {
  let eslint: ESLint;

  beforeAll(() => {
    eslint = new ESLint({ cwd: repo });
  });

  /** The no-restricted-imports messages ESLint reports for `code` as the file at `file` (relative to the repository). */
  const restricted = async (file: string, code: string) => {
    const filePath = path.join(repo, file);
    // A file the configuration ignores would lint clean and prove nothing.
    expect(await eslint.isPathIgnored(filePath), `${file} is ignored by eslint.config.mjs`).toBe(false);
    const [result] = await eslint.lintText(code, { filePath });
    const fatal = result!.messages.filter((m) => m.fatal);
    expect(fatal, `${file} did not parse`).toEqual([]);
    return result!.messages.filter((m) => m.ruleId === "no-restricted-imports");
  };
  const importing = (specifier: string) => `import * as imported from ${JSON.stringify(specifier)};\n\nexport const used = imported;\n`;

  const ENGINE_FILE = "lib/engine/backup/boundary-probe.ts";

  for (const specifier of ["next/navigation", "react", "@/app/page", "@/components/x", "@/lib/db/client", "@/lib/operations"]) {
    it(`an engine file importing ${specifier} is an error`, async () => {
      const messages = await restricted(ENGINE_FILE, importing(specifier));
      expect(messages).toHaveLength(1);
      expect(messages[0]).toMatchObject({ severity: 2, line: 1 });
      expect(messages[0]!.message).toMatch(/lib\/engine is plain Node/);
    });
  }

  for (const specifier of ["@/lib/env", "node:fs"]) {
    it(`an engine file may import ${specifier}`, async () => {
      expect(await restricted(ENGINE_FILE, importing(specifier))).toEqual([]);
    });
  }

  it("a side-effect import or a re-export from the web app in the engine is caught too", async () => {
    expect(await restricted(ENGINE_FILE, 'import "react";\n')).toHaveLength(1);
    expect(await restricted(ENGINE_FILE, 'export { redirect } from "next/navigation";\n')).toHaveLength(1);
  });

  it("a CLI file importing next/server is an error", async () => {
    const messages = await restricted("cli/boundary-probe.ts", importing("next/server"));
    expect(messages).toHaveLength(1);
    expect(messages[0]).toMatchObject({ severity: 2 });
    expect(messages[0]!.message).toMatch(/CLI and scripts must work while the dashboard is down/);
  });

  it("a CLI file may import the operations layer", async () => {
    expect(await restricted("cli/boundary-probe.ts", importing("@/lib/operations"))).toEqual([]);
  });

  it("the operations layer may not import the web app or the CLI", async () => {
    expect(await restricted("lib/operations/boundary-probe.ts", importing("next/server"))).toHaveLength(1);
    expect(await restricted("lib/operations/boundary-probe.ts", importing("@/cli/context"))).toHaveLength(1);
  });

  it("npx eslint . passes on the whole tree", async () => {
    const eslintBin = path.join(repo, "node_modules", ".bin", "eslint");
    const result = await exec(eslintBin, ["."], { cwd: repo, timeout: 110_000, maxBuffer: 16 * 1024 * 1024 }).then(
      () => ({ code: 0, output: "" }),
      (error: { code?: number; stdout?: string; stderr?: string }) => ({ code: error.code ?? 1, output: `${error.stdout ?? ""}${error.stderr ?? ""}` }),
    );
    expect(result.output).toBe("");
    expect(result.code).toBe(0);
  }, 120_000);
});
