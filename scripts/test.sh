#!/usr/bin/env bash
# Runs the whole test suite (unit, API over HTTP, openstack CLI, network tests in namespaces).
# Expects a build (scripts/setup.sh does it). Files run one at a time: network tests share the kernel.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p artifacts
# Formatting, lint rules and the folder layering (.dependency-cruiser.cjs) first: they fail fast.
npm run --silent lint
files=$(find dist/test -name '*.test.js' | sort)
exec node --test --test-concurrency=1 --test-reporter=spec $files
