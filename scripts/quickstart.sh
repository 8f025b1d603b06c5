#!/usr/bin/env bash
# README's first command: the quickstart sandbox (demo PostgreSQL on 15432 with WAL archiving,
# Lifeboat's own metadata cluster on 15433, dashboard on http://localhost:3000).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-deps.sh
export NEXT_TELEMETRY_DISABLED=1
exec node --import tsx scripts/quickstart.ts "$@"
