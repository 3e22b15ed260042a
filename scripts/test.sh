#!/usr/bin/env bash
# `npm test`: installs and starts what is missing, builds, runs every test. The last line is
# "N passed, N failed".
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/deps.sh
bash scripts/stack.sh up
exec npx mocha --reporter ./dist/test/summary-reporter.js "$@"
