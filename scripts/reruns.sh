#!/usr/bin/env bash
# Print what was recorded of browsers started again and suites run again (the Makefile's
# RERUNS_* logs): by scripts/wasm-test-runner.sh, a browser that did not start or a
# WebKit suite that failed; by e2e/browser-start.mjs, a browser of the end-to-end tests
# that did not start. A rerun is never silent: each target calls this at its end with its
# own log, and `make test` once more with all of them as its last word.
set -euo pipefail
[ $# -gt 0 ] || { echo "usage: reruns.sh LOG..." >&2; exit 2; }
lines=$(cat -- "$@" 2>/dev/null || true)
if [ -n "$lines" ]; then
  echo "browser-reruns: $(grep -c ': try [0-9]*' <<<"$lines") failed try(s), each tried again; what ran after them passed:"
  sed 's/^/  /' <<<"$lines"
else
  echo "browser-reruns: none (every browser started the first time, every suite passed the first time)"
fi
