#!/usr/bin/env bash
# Run a command with a throwaway PostgreSQL server:
#
#   scripts/with-postgres.sh cargo test -p pwa-sync-server
#
# Installs Debian's postgresql if it is missing, initialises a cluster in a temp dir,
# starts it on a free port listening only on 127.0.0.1 (trust auth), creates a database,
# exports PWA_SYNC_TEST_POSTGRES=postgres://postgres@127.0.0.1:PORT/pwa_sync_test, runs
# the command, and always stops the cluster and removes the dir. Exits with the
# command's status.
set -euo pipefail

if [ $# -eq 0 ]; then
  echo "usage: $0 COMMAND [ARGS...]" >&2
  exit 2
fi

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo "$@"
  else echo "with-postgres: need root (or sudo) to run: $*" >&2; exit 1; fi
}

pg_bin() {
  local d
  d="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
  if [ -n "$d" ] && [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then echo "$d"; fi
}

PGBIN="$(pg_bin)"
if [ -z "$PGBIN" ]; then
  echo "with-postgres: installing Debian's postgresql" >&2
  export DEBIAN_FRONTEND=noninteractive
  if ! as_root apt-get install -y -qq --no-install-recommends postgresql >/dev/null 2>&1; then
    as_root apt-get update -qq
    as_root apt-get install -y -qq --no-install-recommends postgresql >/dev/null
  fi
  PGBIN="$(pg_bin)"
  [ -n "$PGBIN" ] || { echo "with-postgres: postgresql installed but no initdb found" >&2; exit 1; }
fi

# initdb refuses to run as root: run the server tools as the `postgres` OS user then.
if [ "$(id -u)" -eq 0 ]; then
  id postgres >/dev/null 2>&1 || { echo "with-postgres: no 'postgres' OS user" >&2; exit 1; }
  AS_PG=(runuser -u postgres --)
else
  AS_PG=()
fi

TMP="$(mktemp -d "${TMPDIR:-/tmp}/pwa-sync-pg.XXXXXX")"
DATA="$TMP/data"
STARTED=0
cleanup() {
  if [ "$STARTED" -eq 1 ]; then
    (cd "$TMP" && "${AS_PG[@]}" "$PGBIN/pg_ctl" -D "$DATA" -m immediate -w stop >/dev/null 2>&1) || true
  fi
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

[ "$(id -u)" -eq 0 ] && chown postgres: "$TMP"
(cd "$TMP" && "${AS_PG[@]}" "$PGBIN/initdb" -D "$DATA" -U postgres --auth=trust --no-locale -E UTF8 --no-sync \
  >"$TMP/initdb.log" 2>&1) || { cat "$TMP/initdb.log" >&2; exit 1; }

# shellcheck source=procs.sh
. "$(dirname "${BASH_SOURCE[0]}")/procs.sh"

for attempt in 1 2 3 4 5 6 7 8; do
  PORT=$((20000 + RANDOM % 40000))
  port_free "$PORT" || continue
  if (cd "$TMP" && "${AS_PG[@]}" "$PGBIN/pg_ctl" -D "$DATA" -l "$TMP/server.log" -w -t 60 \
      -o "-p $PORT -k $TMP -c listen_addresses=127.0.0.1 -c max_connections=300 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
      start >/dev/null); then
    STARTED=1
    break
  fi
  STARTED=1  # a half-started server is stopped by cleanup
  (cd "$TMP" && "${AS_PG[@]}" "$PGBIN/pg_ctl" -D "$DATA" -m immediate -w stop >/dev/null 2>&1) || true
  STARTED=0
done
if [ "$STARTED" -ne 1 ]; then
  echo "with-postgres: could not start PostgreSQL; its log:" >&2
  cat "$TMP/server.log" >&2 || true
  exit 1
fi

(cd "$TMP" && "${AS_PG[@]}" "$PGBIN/createdb" -h 127.0.0.1 -p "$PORT" -U postgres pwa_sync_test)
export PWA_SYNC_TEST_POSTGRES="postgres://postgres@127.0.0.1:$PORT/pwa_sync_test"
echo "with-postgres: PostgreSQL $("$PGBIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$PORT" >&2

set +e
"$@"
status=$?
set -e
exit "$status"
