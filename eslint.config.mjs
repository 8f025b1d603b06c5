// ESLint: TypeScript rules plus the import boundaries of ARCHITECTURE.md. The layering is the
// point: the engine stays plain Node (usable by the CLI with the dashboard down), and the CLI
// never pulls in the web app.
import js from "@eslint/js";
import globals from "globals";
import tseslint from "typescript-eslint";

const WEB = ["next", "next/*", "next-auth", "next-auth/*", "react", "react/*", "react-dom", "react-dom/*", "server-only"];
const APP = ["@/app/*", "@/components/*", "**/app/*", "**/components/*"];
const ABOVE_ENGINE = [
  "@/lib/db",
  "@/lib/db/*",
  "@/lib/auth/*",
  "@/lib/jobs/*",
  "@/lib/operations",
  "@/lib/operations/*",
  "@/lib/audit/*",
  "@/lib/catalog/*",
  "@/lib/targets/*",
  "@/lib/users/*",
  "@/lib/sandbox/*",
  "@/cli/*",
];

const restrict = (groups, message) => ["error", { patterns: [{ group: groups, message }] }];

export default tseslint.config(
  {
    ignores: [
      "node_modules/",
      ".next/",
      "drizzle/",
      "backups/",
      ".lifeboat/",
      "test-results/",
      "playwright-report/",
      "e2e/.artifacts/",
      ".test-reports/",
      "next-env.d.ts",
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node, ...globals.browser } },
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_", destructuredArrayIgnorePattern: "^_" }],
      "@typescript-eslint/no-explicit-any": "error",
      "no-empty": ["error", { allowEmptyCatch: false }],
    },
  },
  {
    files: ["lib/engine/**/*.ts"],
    ignores: ["lib/engine/**/*.test.ts"],
    rules: {
      "no-restricted-imports": restrict(
        [...WEB, ...APP, ...ABOVE_ENGINE, "../../db/*", "../../../db/*", "../../operations/*", "../../jobs/*", "../../auth/*"],
        "lib/engine is plain Node: it never imports the web app, auth, jobs, operations, the catalog or the database (ARCHITECTURE.md).",
      ),
    },
  },
  {
    files: ["cli/**/*.ts", "scripts/**/*.ts", "bin/**/*.ts"],
    rules: {
      "no-restricted-imports": restrict([...WEB, ...APP], "The CLI and scripts must work while the dashboard is down: they never import the web app."),
    },
  },
  {
    files: [
      "lib/operations/**/*.ts",
      "lib/jobs/**/*.ts",
      "lib/targets/**/*.ts",
      "lib/catalog/**/*.ts",
      "lib/health/**/*.ts",
      "lib/metrics/**/*.ts",
      "lib/notify/**/*.ts",
    ],
    rules: {
      "no-restricted-imports": restrict(
        [...WEB, ...APP, "@/cli/*"],
        "The operations layer is shared by the CLI, the worker and the dashboard: no web or CLI imports.",
      ),
    },
  },
);
