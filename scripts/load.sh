#!/usr/bin/env bash
# The load run (issue 14, "Scale"): two release server processes on one throwaway
# PostgreSQL (scripts/with-postgres.sh), then server/examples/load.rs against both.
# LOAD_CLIENTS, LOAD_SPACE_SIZE, LOAD_SECONDS, LOAD_BATCH and LOAD_PAUSE_MS size the run;
# LOAD_PROFILE (release) picks the build, LOAD_TIMEOUT (LOAD_SECONDS + 300) bounds the
# load generator's run. It exits non-zero when a member did not converge, something
# applied was lost, or nothing was applied; it judges no times.
#
#   make load                      # 500 clients, 50 spaces of 10, 60 s
#   make load-smoke                # 50 clients for 5 s on a debug build (part of make test)
set -euo pipefail

if [ -z "${PWA_SYNC_TEST_POSTGRES:-}" ]; then
  exec "$(dirname "$0")/with-postgres.sh" "$0" "$@"
fi

PROFILE="${LOAD_PROFILE:-release}"
case "$PROFILE" in
  release) cargo build --release -p pwa-sync-server --bin pwa-sync-server --example load ;;
  debug) cargo build -p pwa-sync-server --bin pwa-sync-server --example load ;;
  *) echo "load: LOAD_PROFILE must be release or debug" >&2; exit 2 ;;
esac
TARGET="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/$PROFILE"
DIR="$(mktemp -d)"
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  rm -rf "$DIR"
}
trap cleanup EXIT

BASES=()
for i in 1 2; do
  RUST_LOG=pwa_sync_server=warn "$TARGET/pwa-sync-server" --listen 127.0.0.1:0 \
    --database "$PWA_SYNC_TEST_POSTGRES" --dev-auth --admin-token load-admin >"$DIR/server$i.out" 2>"$DIR/server$i.err" &
  PIDS+=("$!")
  for _ in $(seq 100); do
    if grep -q 'listening on' "$DIR/server$i.out"; then break; fi
    sleep 0.1
  done
  BASES+=("$(sed -n 's/^pwa-sync-server listening on //p' "$DIR/server$i.out")")
done
echo "load: servers ${BASES[*]}" >&2
LOAD_SERVERS="$(IFS=,; echo "${BASES[*]}")" LOAD_ADMIN_TOKEN=load-admin \
  timeout "${LOAD_TIMEOUT:-$(( ${LOAD_SECONDS:-60} + 300 ))}" "$TARGET/examples/load"
