#!/usr/bin/env bash
# `make demo`: the reference server on 127.0.0.1:$PORT serving the demo (www/dist) with the
# sync API on the same origin, data in data/sync.db. Every attendee reads the
# `conference` space (`--everyone`); the user "organiser" owns it (granted through the
# admin API once the server answers). DEMO_ADMIN_TOKEN is the admin token to use with curl.
set -euo pipefail
PORT="${PORT:-8787}"
ADMIN="${DEMO_ADMIN_TOKEN:-demo-admin}"
BASE="http://127.0.0.1:$PORT"

mkdir -p data
target/release/pwa-sync-server --listen "127.0.0.1:$PORT" --database sqlite://data/sync.db \
  --static www/dist --dev-auth --everyone conference=reader --admin-token "$ADMIN" &
SERVER=$!
trap 'kill "$SERVER" 2>/dev/null || true' EXIT INT TERM
for _ in $(seq 100); do
  curl -fsS -o /dev/null "$BASE/sync/health" 2>/dev/null && break
  sleep 0.1
done
curl -fsS -o /dev/null -X PUT -H "Authorization: Bearer $ADMIN" -H 'Content-Type: application/json' \
  -d '{"role":"owner"}' "$BASE/sync/admin/spaces/conference/members/organiser"

cat <<MSG

  pwa-sync demo: $BASE/
  Sign in with a name; the same name in another tab or browser is another device.
  Sign in as "organiser" to edit the programme; every attendee's screen follows.
  An organiser's change to ana's breakouts (her Now / Next card follows):
    curl -s -H 'Authorization: Bearer $ADMIN' -d '{"writes": [{"space": "user:ana",
      "collection": "attendees", "key": "ana", "op": "patch", "value": {"breakouts": ["b1b"]}}]}' \\
      $BASE/sync/admin/writes

MSG
wait "$SERVER"
