#!/usr/bin/env bash
# Run a command with the reference server and the fault proxy in front of it, both on
# free loopback ports, a throwaway SQLite database, dev auth and open CORS (browser
# tests run on another origin). Exports PWA_SYNC_TEST_SERVER and PWA_SYNC_TEST_PROXY;
# stops both and removes the data when the command ends.
#
#   scripts/with-server.sh cargo test --target wasm32-unknown-unknown --features testing
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

cargo build -q -p pwa-sync-server -p pwa-sync-fault-proxy
# cargo puts binaries under CARGO_TARGET_DIR when it is set (relative: to the workspace).
BIN="$(cd "$ROOT" && realpath -m "${CARGO_TARGET_DIR:-target}")/debug"

# shellcheck source=procs.sh
. "$ROOT/scripts/procs.sh"
DATA="$(mktemp -d)"
trap 'stop_started "$DATA"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Start a program that prints "<name> listening on http://ADDR" and store that URL in
# the variable named VAR. It runs in this shell, never inside `$(...)` (see procs.sh:
# every run used to leave its server and proxy behind).
#
#   start VAR LOG COMMAND [ARGS...]
start() {
  local var="$1" log="$2"; shift 2
  # Made here, not only by the child's redirection: on a busy machine the loop below can
  # read before the child has run, and a missing file ended the script (set -e, pipefail).
  : >"$log"; : >"$log.err"
  "$@" >"$log" 2>"$log.err" &
  PIDS+=($!)
  local url=""
  for _ in $(seq 1 200); do
    url="$(sed -n 's/.* listening on \(http:[^ ]*\).*/\1/p' "$log" | head -n1)"
    [ -n "$url" ] && break
    if ! kill -0 "${PIDS[-1]}" 2>/dev/null; then
      echo "error: $1 exited early:" >&2; cat "$log" "$log.err" >&2; exit 1
    fi
    sleep 0.05
  done
  [ -n "$url" ] || { echo "error: $1 did not report its address" >&2; cat "$log.err" >&2; exit 1; }
  printf -v "$var" '%s' "$url"
}

start PWA_SYNC_TEST_SERVER "$DATA/server.log" "$BIN/pwa-sync-server" --listen 127.0.0.1:0 \
  --database "sqlite://$DATA/sync.db" --dev-auth --cors-any-origin --admin-token test-admin-token
start PWA_SYNC_TEST_PROXY "$DATA/proxy.log" "$BIN/pwa-sync-fault-proxy" --listen 127.0.0.1:0 \
  --upstream "$PWA_SYNC_TEST_SERVER" --cors-any-origin
export PWA_SYNC_TEST_SERVER PWA_SYNC_TEST_PROXY
echo "server: $PWA_SYNC_TEST_SERVER  proxy: $PWA_SYNC_TEST_PROXY"

"$@"
