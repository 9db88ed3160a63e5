#!/usr/bin/env bash
# Runs the test suite (or the test files given) with CPU hogs beside it, the way a busy
# machine runs it: a test that waits for a guessed time instead of an event fails here.
# Hogs: Debian's stress-ng when installed (`apt-get install stress-ng`), else busy loops.
#   npm run test:load                          # the whole suite, 2 hogs
#   LOAD_HOGS=4 npm run test:load -- test/lock-partition.e2e.test.ts
set -euo pipefail
cd "$(dirname "$0")/.."

hogs="${LOAD_HOGS:-2}"
hog_pids=()

stop_hogs() {
  # Only the processes this script started, by their ids.
  for pid in "${hog_pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${hog_pids[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap stop_hogs EXIT INT TERM

if command -v stress-ng >/dev/null 2>&1; then
  # stress-ng stops its workers when it gets SIGTERM.
  stress-ng --cpu "$hogs" --quiet &
  hog_pids+=("$!")
  echo "test-under-load: stress-ng --cpu $hogs beside the tests" >&2
else
  for _ in $(seq 1 "$hogs"); do
    node -e 'for (;;) {}' &
    hog_pids+=("$!")
  done
  echo "test-under-load: $hogs busy loops beside the tests (install stress-ng for Debian's own)" >&2
fi

npx vitest run "$@"
