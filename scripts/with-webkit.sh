#!/usr/bin/env bash
# Run a command with WebKitGTK's WebDriver (WebKitWebDriver, Debian's webkit2gtk-driver)
# on a free loopback port, drawing MiniBrowser on a private Xvfb display, so no display
# is needed on the machine. Exports SAFARIDRIVER_REMOTE (what wasm-bindgen-test-runner
# reads) and PWA_SYNC_WEBKIT_DRIVER (for the e2e tests), both http://127.0.0.1:PORT;
# stops the driver and Xvfb when the command ends, and exits with the command's status.
#
#   scripts/with-webkit.sh scripts/with-server.sh cargo test --target wasm32-unknown-unknown
set -euo pipefail

if [ $# -eq 0 ]; then
  echo "usage: $0 COMMAND [ARGS...]" >&2
  exit 2
fi
command -v Xvfb >/dev/null || { echo "with-webkit: Xvfb missing (scripts/setup.sh browsers)" >&2; exit 1; }
command -v WebKitWebDriver >/dev/null || { echo "with-webkit: WebKitWebDriver missing (scripts/setup.sh browsers)" >&2; exit 1; }

# shellcheck source=procs.sh
. "$(dirname "${BASH_SOURCE[0]}")/procs.sh"
TMP="$(mktemp -d "${TMPDIR:-/tmp}/pwa-sync-webkit.XXXXXX")"
trap 'stop_started "$TMP"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Xvfb picks a free display itself and writes its number to the fd given to -displayfd.
Xvfb -displayfd 3 -screen 0 1280x1024x24 -nolisten tcp 3>"$TMP/display" 2>"$TMP/xvfb.log" &
PIDS+=($!)
for _ in $(seq 1 200); do
  [ -s "$TMP/display" ] && break
  kill -0 "${PIDS[-1]}" 2>/dev/null || { echo "with-webkit: Xvfb exited:" >&2; cat "$TMP/xvfb.log" >&2; exit 1; }
  sleep 0.05
done
[ -s "$TMP/display" ] || { echo "with-webkit: Xvfb did not report its display" >&2; exit 1; }
export DISPLAY=":$(tr -d '[:space:]' <"$TMP/display")"

URL=""
for _ in 1 2 3 4 5 6 7 8; do
  PORT=$((20000 + RANDOM % 40000))
  port_free "$PORT" || continue
  WebKitWebDriver --port="$PORT" --host=127.0.0.1 >"$TMP/driver.log" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 1 200); do
    if ! port_free "$PORT"; then URL="http://127.0.0.1:$PORT"; break; fi
    kill -0 "${PIDS[-1]}" 2>/dev/null || break
    sleep 0.05
  done
  [ -n "$URL" ] && break
done
[ -n "$URL" ] || { echo "with-webkit: WebKitWebDriver did not start:" >&2; cat "$TMP/driver.log" >&2; exit 1; }
export SAFARIDRIVER_REMOTE="$URL" PWA_SYNC_WEBKIT_DRIVER="$URL"
echo "with-webkit: WebKitWebDriver $URL on display $DISPLAY"

set +e
"$@"
status=$?
set -e
exit "$status"
