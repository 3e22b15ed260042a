#!/usr/bin/env bash
# `npm test`: installs and starts what is missing, builds, runs every test. The last line is
# "N passed, N failed".
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/deps.sh
bash scripts/stack.sh up
# The whole suite unless test files are named (`npm test -- dist/test/unit/x.test.js`); a spec in
# .mocharc would be run on top of named files.
case " $* " in *.js\ *) ;; *) set -- 'dist/test/**/*.test.js' "$@" ;; esac
exec npx mocha --reporter ./dist/test/summary-reporter.js "$@"
