#!/usr/bin/env bash
# Checks scripts/wasm-test-runner.sh's WebKit rerun and scripts/webkit-reruns.sh with a
# stand-in for wasm-bindgen-test-runner (no browser): a suite that fails once passes on
# its rerun and is logged; one that fails twice fails; without WebKit or without a log
# there is no rerun. Run by `make test-host`.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
work="$(mktemp -d "${TMPDIR:-/tmp}/pwa-sync-rerun.XXXXXX")"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/bin" "$work/deps"
printf '\0asm\1\0\0\0' >"$work/deps/window-0123456789abcdef.wasm"
module="$work/deps/window-0123456789abcdef.wasm"
# The stand-in: the Nth call exits with the Nth status of $STAND_IN_STATUSES, printing a
# failed run's report (two failed tests) when that status is not 0.
cat >"$work/bin/wasm-bindgen-test-runner" <<'STANDIN'
#!/usr/bin/env bash
calls=$(( $(cat "$STAND_IN_CALLS" 2>/dev/null || echo 0) + 1 ))
echo "$calls" >"$STAND_IN_CALLS"
read -r -a statuses <<<"$STAND_IN_STATUSES"
status=${statuses[$((calls - 1))]:-0}
if [ "$status" -ne 0 ]; then
  printf 'failures:\n\n---- common::a output ----\n    error output:\n        panicked\n\nfailures:\n\n    common::a\n    common::b\n\ntest result: FAILED. 137 passed; 2 failed; 0 ignored; 0 filtered out; finished in 1.00s\n'
else
  echo "test result: ok. 139 passed; 0 failed"
fi
exit "$status"
STANDIN
chmod +x "$work/bin/wasm-bindgen-test-runner"
failures=0
# run NAME EXPECTED_STATUS EXPECTED_CALLS STATUSES [VAR=VALUE...]: one runner call.
run() {
  local name=$1 want_status=$2 want_calls=$3 statuses=$4 status
  shift 4
  rm -f "$work/calls"
  set +e
  env PATH="$work/bin:$PATH" STAND_IN_CALLS="$work/calls" STAND_IN_STATUSES="$statuses" "$@" \
    "$here/wasm-test-runner.sh" "$module" >"$work/out" 2>&1
  status=$?
  set -e
  local calls
  calls=$(cat "$work/calls")
  if [ "$status" -ne "$want_status" ] || [ "$calls" -ne "$want_calls" ]; then
    echo "FAIL $name: exit $status (want $want_status), runner called $calls times (want $want_calls)"
    failures=$((failures + 1))
  else
    echo "ok   $name"
  fi
}
expect_log() {
  local name=$1 pattern=$2
  if grep -qE -- "$pattern" "$work/out"; then echo "ok   $name"; else
    echo "FAIL $name: no line matching '$pattern' in:"; sed 's/^/  /' "$work/out"
    failures=$((failures + 1))
  fi
}
log="$work/reruns.log"
run "WebKit: fails once, passes on the rerun" 0 2 "1 0" SAFARIDRIVER_REMOTE=http://x PWA_SYNC_WEBKIT_RERUNS="$log"
"$here/webkit-reruns.sh" "$log" >"$work/out"
expect_log "the rerun is reported with the first run's failed tests" \
  '^  .* WebKit window: first run failed \(exit 1\): common::a common::b$'
expect_log "and with the first run's result line" '^  test result: FAILED\. 137 passed; 2 failed'
expect_log "and counted" '^webkit-reruns: 1 WebKit suite run'
run "WebKit: fails twice, fails" 1 2 "1 1" SAFARIDRIVER_REMOTE=http://x PWA_SYNC_WEBKIT_RERUNS="$work/reruns2.log"
run "WebKit: passes at once, no rerun" 0 1 "0" SAFARIDRIVER_REMOTE=http://x PWA_SYNC_WEBKIT_RERUNS="$work/reruns3.log"
run "WebKit without the Makefile's log: no rerun" 1 1 "1 0" SAFARIDRIVER_REMOTE=http://x PWA_SYNC_WEBKIT_RERUNS=
run "Chromium: no rerun" 1 1 "1 0" SAFARIDRIVER_REMOTE= PWA_SYNC_WEBKIT_RERUNS="$work/reruns4.log" CHROMEDRIVER=/bin/true
"$here/webkit-reruns.sh" "$work/missing.log" >"$work/out"
expect_log "no log: none" '^webkit-reruns: none'
if [ "$failures" -ne 0 ]; then
  echo "test-webkit-rerun: $failures failed"
  exit 1
fi
echo "test-webkit-rerun: all passed"
