#!/usr/bin/env bash
# Runs every benchmark (each `bench:*` script of package.json) one after another and keeps
# their output under artifacts/bench/. Expects a build (scripts/setup.sh does it).
set -uo pipefail
cd "$(dirname "$0")/.."
mkdir -p artifacts/bench
status=0
for name in $(node -e "for (const k of Object.keys(require('./package.json').scripts)) if (k.startsWith('bench:')) console.log(k.slice(6))"); do
  echo "=== bench:$name ==="
  if [ -f "dist/bench/$name.js" ]; then
    node "dist/bench/$name.js" 2>&1 | tee "artifacts/bench/$name.txt" || status=1
  else
    echo "missing dist/bench/$name.js" >&2; status=1
  fi
done
exit $status
