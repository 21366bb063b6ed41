#!/usr/bin/env bash
# Run a command and fail if any process it started outlives it.
#
#   scripts/no-leftovers.sh make test-steps
#
# Every process started under the command inherits PWA_SYNC_RUN=<random id> in its
# environment (servers, proxies, drivers, browsers, Xvfb, PostgreSQL: everything the
# harness spawns, however deep). When the command has ended, any process still carrying
# that id in /proc/PID/environ outlived it: after a grace period (processes that were
# told to stop may still be exiting) each is listed, killed, and the run fails. Exits
# with the command's status if it failed, else 1 if something was left behind.
set -euo pipefail

if [ $# -eq 0 ]; then
  echo "usage: $0 COMMAND [ARGS...]" >&2
  exit 2
fi

RUN_ID="$$-$RANDOM$RANDOM"
export PWA_SYNC_RUN="$RUN_ID"

# PIDs of processes whose environment carries this run's id (not this script itself).
survivors() {
  local dir pid
  for dir in /proc/[0-9]*; do
    pid="${dir#/proc/}"
    [ "$pid" = "$$" ] && continue
    # environ is NUL-separated (grep -z); unreadable entries (other users, exited) are
    # skipped. No pipe: under pipefail a `grep -q` that stops early fails the pipeline.
    if grep -qzx "PWA_SYNC_RUN=$RUN_ID" "$dir/environ" 2>/dev/null; then
      # A zombie has already exited; its parent just has not reaped it.
      [ "$(awk '{print $3}' "$dir/stat" 2>/dev/null)" = "Z" ] && continue
      echo "$pid"
    fi
  done
}

set +e
"$@"
status=$?
set -e

# Up to 5 s of grace, by the clock (one scan of /proc takes a while).
left=()
deadline=$((SECONDS + 5))
while :; do
  mapfile -t left < <(survivors)
  [ "${#left[@]}" -eq 0 ] || [ "$SECONDS" -ge "$deadline" ] && break
  sleep 0.2
done

if [ "${#left[@]}" -gt 0 ]; then
  echo "error: ${#left[@]} process(es) started by '$*' outlived it:" >&2
  for pid in "${left[@]}"; do
    echo "  $pid $(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | cut -c1-200)" >&2
  done
  for pid in "${left[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  [ "$status" -ne 0 ] || status=1
else
  echo "no-leftovers: every process started by '$*' has exited"
fi
exit "$status"
