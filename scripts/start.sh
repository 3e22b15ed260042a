#!/usr/bin/env bash
# `npm start`: installs dependencies, brings the local stack up, applies the backup schedules,
# starts the worker, and prints where to watch.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/deps.sh
bash scripts/stack.sh up
node dist/src/client.js schedules apply
node dist/src/client.js schedules list
cat <<MSG

Temporal Web UI:  http://127.0.0.1:8233   (recoveries, backups and schedules)
Take a backup:    npx titan backup        (in another terminal; or: node dist/src/client.js backup)
Stop the stack:   npm run stack -- down

MSG
exec node dist/src/worker.js
