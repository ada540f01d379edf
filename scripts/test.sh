#!/usr/bin/env bash
# The whole test suite: set-up, type-check, lint, format check, unit and integration tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
echo "==> lint (eslint) and format check (prettier)" >&2
npx eslint . || { echo "error: lint failed" >&2; exit 1; }
npx prettier --check --log-level warn . || { echo "error: formatting differs: run 'npm run format'" >&2; exit 1; }
echo "==> API reference (docs/api) from doc comments; every export must have one" >&2
node scripts/gen-api-docs.mjs --check || { echo "error: exports without doc comments (listed above)" >&2; exit 1; }
echo "==> tests" >&2
mapfile -t files < <(find dist/test -name '*.test.js' | sort)
[ ${#files[@]} -gt 0 ] || { echo "error: no test files found" >&2; exit 1; }
node --test --test-concurrency=1 "$@" "${files[@]}"
