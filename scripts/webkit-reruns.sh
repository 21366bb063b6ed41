#!/usr/bin/env bash
# Print what scripts/wasm-test-runner.sh recorded of WebKit suites that failed and ran
# again (the Makefile's WEBKIT_RERUNS), so that a rerun is never silent: `make
# test-webkit` calls it at its end and `make test` once more as its last word.
set -euo pipefail
log="${1:?usage: webkit-reruns.sh LOG}"
if [ -s "$log" ]; then
  echo "webkit-reruns: $(grep -c 'first run failed' "$log") WebKit suite run(s) failed and ran again and passed the second time:"
  sed 's/^/  /' "$log"
else
  echo "webkit-reruns: none (every WebKit suite passed the first time)"
fi
