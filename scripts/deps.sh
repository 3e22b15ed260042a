#!/usr/bin/env bash
# Installs the npm dependencies (when missing or stale) and builds. Run by start.sh and test.sh.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "installing npm dependencies…"
  # --ignore-scripts: npm 11 would ask before install scripts; Temporal's core bridge ships prebuilt.
  npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
fi
npm run --silent build
