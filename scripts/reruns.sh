#!/usr/bin/env bash
# Print what scripts/wasm-test-runner.sh recorded of browser suites that ran more than
# once (the Makefile's RERUNS_* logs): a browser that did not start, a WebKit suite that
# failed and ran again. A rerun is never silent: each browser target calls this at its
# end with its own log, and `make test` once more with all of them as its last word.
set -euo pipefail
[ $# -gt 0 ] || { echo "usage: reruns.sh LOG..." >&2; exit 2; }
lines=$(cat -- "$@" 2>/dev/null || true)
if [ -n "$lines" ]; then
  echo "browser-reruns: $(grep -c ': try [0-9]*' <<<"$lines") failed try(s), each run again; the suites passed after them:"
  sed 's/^/  /' <<<"$lines"
else
  echo "browser-reruns: none (every browser suite ran once and passed)"
fi
