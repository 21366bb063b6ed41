#!/usr/bin/env bash
# Checks scripts/wasm-test-runner.sh's reruns and scripts/reruns.sh with a stand-in for
# wasm-bindgen-test-runner (no browser): a browser that did not start is tried again, at
# most twice more, in every browser; a WebKit suite whose tests fail once passes on its
# rerun, one that fails twice fails, and Chromium's failed tests are not rerun; every
# rerun is logged; without the Makefile's log nothing is rerun; a suite that fails for
# good ends its output with what failed. Run by `make test-host`.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
work="$(mktemp -d "${TMPDIR:-/tmp}/pwa-sync-rerun.XXXXXX")"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/bin" "$work/deps"
printf '\0asm\1\0\0\0' >"$work/deps/window-0123456789abcdef.wasm"
module="$work/deps/window-0123456789abcdef.wasm"
# The stand-in: the Nth call answers as the Nth word of $STAND_IN_RUNS says: "ok" (all
# passed), "fail" (two tests failed, exit 1), "nostart" (the session was not created,
# as wasm-bindgen-test-runner 0.2.130 reports a Chromium that exited at start).
cat >"$work/bin/wasm-bindgen-test-runner" <<'STANDIN'
#!/usr/bin/env bash
calls=$(( $(cat "$STAND_IN_CALLS" 2>/dev/null || echo 0) + 1 ))
echo "$calls" >"$STAND_IN_CALLS"
read -r -a runs <<<"$STAND_IN_RUNS"
case "${runs[$((calls - 1))]:-ok}" in
  ok) echo "test result: ok. 139 passed; 0 failed"; exit 0 ;;
  fail)
    printf 'failures:\n\n---- common::a output ----\n    error output:\n        panicked\n\nfailures:\n\n    common::a\n    common::b\n\ntest result: FAILED. 137 passed; 2 failed; 0 ignored; 0 filtered out; finished in 1.00s\n'
    exit 1 ;;
  nostart)
    printf 'Running headless tests in Chrome on `http://127.0.0.1:1/`\ndriver status: signal: 9 (SIGKILL)\nError: failed to create a Chrome session: session not created: Chrome instance exited. Examine ChromeDriver verbose log to determine the cause.\n' >&2
    exit 1 ;;
esac
STANDIN
chmod +x "$work/bin/wasm-bindgen-test-runner"
# No waiting between tries here.
mkdir -p "$work/fast" && printf '#!/bin/sh\nexit 0\n' >"$work/fast/sleep" && chmod +x "$work/fast/sleep"
failures=0
pass() { echo "ok   $1"; }
fail() { echo "FAIL $1"; failures=$((failures + 1)); }
# run NAME EXPECTED_STATUS EXPECTED_CALLS RUNS [VAR=VALUE...]: one runner call.
run() {
  local name=$1 want_status=$2 want_calls=$3 runs=$4 status calls
  shift 4
  rm -f "$work/calls"
  set +e
  env PATH="$work/fast:$work/bin:$PATH" STAND_IN_CALLS="$work/calls" STAND_IN_RUNS="$runs" \
    SAFARIDRIVER_REMOTE= GECKODRIVER= CHROMEDRIVER=/bin/true "$@" \
    "$here/wasm-test-runner.sh" "$module" >"$work/out" 2>&1
  status=$?
  set -e
  calls=$(cat "$work/calls")
  if [ "$status" -ne "$want_status" ] || [ "$calls" -ne "$want_calls" ]; then
    fail "$name: exit $status (want $want_status), runner called $calls times (want $want_calls)"
  else
    pass "$name"
  fi
}
# expect FILE NAME PATTERN: FILE has a line matching PATTERN.
expect() {
  local file=$1 name=$2 pattern=$3
  if grep -qE -- "$pattern" "$file"; then pass "$name"; else
    fail "$name: no line matching '$pattern' in:"; sed 's/^/  /' "$file"
  fi
}
webkit=(SAFARIDRIVER_REMOTE=http://x)

log="$work/webkit.log"
run "WebKit: fails once, passes on the rerun" 0 2 "fail ok" "${webkit[@]}" PWA_SYNC_RERUNS="$log"
"$here/reruns.sh" "$log" >"$work/report"
expect "$work/report" "the rerun is reported with the failed tests" \
  '^  .* WebKit window: try 1 failed \(exit 1\): common::a common::b$'
expect "$work/report" "and with the failed run's result line" '^  test result: FAILED\. 137 passed; 2 failed'
expect "$work/report" "and counted" '^browser-reruns: 1 failed try'
run "WebKit: fails twice, fails" 1 2 "fail fail" "${webkit[@]}" PWA_SYNC_RERUNS="$work/w2.log"
expect "$work/out" "and its output ends with the failed tests" \
  '^  failed: common::a common::b$'
[ "$(tail -1 "$work/out")" = "  test result: FAILED. 137 passed; 2 failed; 0 ignored; 0 filtered out; finished in 1.00s" ] \
  && pass "and the result line last" || fail "and the result line last: $(tail -1 "$work/out")"
run "WebKit: passes at once, no rerun" 0 1 "ok" "${webkit[@]}" PWA_SYNC_RERUNS="$work/w3.log"
run "WebKit without the Makefile's log: no rerun" 1 1 "fail ok" "${webkit[@]}" PWA_SYNC_RERUNS=
run "Chromium: failed tests are not rerun" 1 1 "fail ok" PWA_SYNC_RERUNS="$work/c1.log"

log="$work/chrome.log"
run "Chromium: did not start twice, then passes" 0 3 "nostart nostart ok" PWA_SYNC_RERUNS="$log"
"$here/reruns.sh" "$log" >"$work/report"
expect "$work/report" "each try that did not start is reported with the driver's message" \
  '^  .* Chromium window: try 2: the browser did not start \(exit 1\): failed to create a Chrome session: session not created: Chrome instance exited'
expect "$work/report" "and counted" '^browser-reruns: 2 failed try'
run "Chromium: did not start three times, fails" 1 3 "nostart nostart nostart ok" PWA_SYNC_RERUNS="$work/c2.log"
expect "$work/out" "and its output ends with why" '^  the browser did not start: failed to create a Chrome session'
run "Firefox: did not start once, then passes" 0 2 "nostart ok" GECKODRIVER=/bin/true PWA_SYNC_RERUNS="$work/f1.log"
run "WebKit: did not start, then failed tests, then passes" 0 3 "nostart fail ok" "${webkit[@]}" PWA_SYNC_RERUNS="$work/w4.log"
run "Chromium without the Makefile's log: no retry" 1 1 "nostart ok" PWA_SYNC_RERUNS=

"$here/reruns.sh" "$work/missing.log" "$work/also-missing.log" >"$work/report"
expect "$work/report" "no log: none" '^browser-reruns: none'
"$here/reruns.sh" "$work/missing.log" "$log" >"$work/report"
expect "$work/report" "several logs, one missing: the others reported" '^browser-reruns: 2 failed try'

if [ "$failures" -ne 0 ]; then
  echo "test-reruns: $failures failed"
  exit 1
fi
echo "test-reruns: all passed"
