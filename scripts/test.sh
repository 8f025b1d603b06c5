#!/usr/bin/env bash
# README's second command: the whole test suite. Installs what it needs (npm packages; Debian's
# chromium and age when missing), then: type check, unit + integration tests (real PostgreSQL
# clusters), a production build and Playwright end-to-end tests in /usr/bin/chromium.
set -euo pipefail
cd "$(dirname "$0")/.."
export NEXT_TELEMETRY_DISABLED=1

bash scripts/ensure-deps.sh

missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v age >/dev/null 2>&1 || missing+=(age)
command -v zstd >/dev/null 2>&1 || missing+=(zstd)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "Missing Debian packages: ${missing[*]} (install them: sudo apt-get install -y ${missing[*]})" >&2
    exit 1
  fi
  echo "Installing ${missing[*]}…"
  apt-get update -qq && apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if ! node -e 'const s=require("net").connect(5432,"127.0.0.1");s.on("connect",()=>process.exit(0));s.on("error",()=>process.exit(1))'; then
  echo "The tests keep Lifeboat's metadata in throwaway databases on PostgreSQL at 127.0.0.1:5432 (or LIFEBOAT_TEST_PG_URL); nothing answers there." >&2
  exit 1
fi

mkdir -p .test-reports
rm -f .test-reports/vitest.json .test-reports/playwright.json

echo "== type check"
node_modules/.bin/tsc --noEmit -p tsconfig.json

echo "== lint (ESLint with the layer boundaries, Prettier)"
node_modules/.bin/eslint .
node_modules/.bin/prettier --check . --log-level warn

echo "== unit and integration tests"
status=0
node_modules/.bin/vitest run --reporter=default --reporter=json --outputFile.json=.test-reports/vitest.json || status=$?

echo "== production build"
node_modules/.bin/next build >.test-reports/next-build.log 2>&1 || { cat .test-reports/next-build.log; exit 1; }

echo "== end-to-end tests (Chromium)"
PLAYWRIGHT_JSON_OUTPUT_NAME=.test-reports/playwright.json node_modules/.bin/playwright test --reporter=list,json || status=$?

node scripts/test-summary.mjs .test-reports/vitest.json .test-reports/playwright.json || status=1

echo "== failure scenarios (docs/SCENARIOS.md: each covered by a passing test)"
node --import tsx scripts/test-scenarios.ts || status=1
exit $status
