#!/usr/bin/env bash
# cargo's runner for the browser suites (`make test-chrome`, `test-firefox`,
# `test-webkit`): wasm-bindgen-test-runner, on a copy of the suite's module made to give
# the glue the package ships, and, for Firefox, as a classic script where needed.
#
# The glue: the suites are built without reference types and multi-value (the Makefile's
# WASM_FEATURES, as the release modules), but stable's prebuilt std was built with both,
# and the linked module's features section (`target_features`) lists them. wasm-bindgen
# reads that section: it would turn on its multi-value transform (exports returning
# several values instead of through a return pointer) and its externref table, which the
# wasm-bindgen runtime built without reference types does not have. The release build
# strips that section (`strip = true`, and std is rebuilt with our features there). The
# suites' modules keep debug info and names; only that section goes
# (scripts/strip-target-features.py), so they run the calling convention that ships.
# ARCHITECTURE.md "Browser suites".
#
# Firefox before 147 cannot run a service worker that is an ES module (it loads
# `register(url, {type: "module"})` as a classic script, where the runner's `import`
# throws during evaluation). There the service-worker suite runs as a classic script:
# the runner's no-modules mode (WASM_BINDGEN_USE_NO_MODULE), which works because the
# crate imports no JS module of its own. Chromium and WebKit run it as a module.
set -euo pipefail

module="${1:?usage: wasm-test-runner.sh MODULE.wasm [ARGS...]}"
shift

firefox_major() {
  local version
  version=$("${FIREFOX_BIN:-/usr/bin/firefox-esr}" --version 2>/dev/null) || return 1
  version=${version##* }
  echo "${version%%.*}"
}

if [ -n "${GECKODRIVER:-}${GECKODRIVER_REMOTE:-}" ]; then
  case "$module" in
    */service_worker-*.wasm)
      major=$(firefox_major) || { echo "wasm-test-runner: cannot tell Firefox's version" >&2; exit 1; }
      if (( major < 147 )); then
        echo "wasm-test-runner: Firefox $major has no module service workers: service-worker suite as a classic script" >&2
        export WASM_BINDGEN_USE_NO_MODULE=1
      fi
      ;;
  esac
fi

# The copy keeps the module's file name (the runner names the suite after it), in a
# folder of its own beside it in target/.
copy_dir="${module%.wasm}.as-shipped"
mkdir -p "$copy_dir"
copy="$copy_dir/$(basename "$module")"
python3 "$(dirname "${BASH_SOURCE[0]}")/strip-target-features.py" "$module" "$copy"
echo "wasm-test-runner: target_features removed from the suite's module on purpose (the glue the package ships); wasm-bindgen's warning about it is expected" >&2

# The runner's own errors (a session the driver could not create) end in an anyhow
# error, which prints a 13-frame backtrace when RUST_BACKTRACE is set; CI shows only the
# tail of the output, and the backtrace filled it in place of the message.
export RUST_LIB_BACKTRACE=0

# Only when the Makefile names a log (PWA_SYNC_RERUNS; `make test-chrome`, `test-firefox`
# and `test-webkit` each have one):
# - Every browser: a run in which the browser never started (the driver could not create a
#   session: CI's Chromium once exited at start, "session not created: Chrome instance
#   exited") ran no test; the suite tries again, at most twice more, 5 s apart.
# - WebKit: a suite whose tests failed runs once more, whole. WebKit's suites fail now and
#   then, in no test in particular, with states the code cannot reach (ARCHITECTURE.md
#   "Browser suites"); none has reproduced on a rerun. A test that fails twice fails the
#   suite. Chromium and Firefox get no such rerun: their tests have not failed so.
# Each try that failed is appended to the log, which the Makefile's targets print at their
# end (scripts/reruns.sh); its output is kept beside the module (try-N.log).
log="${PWA_SYNC_RERUNS:-}"
if [ -z "$log" ]; then
  exec wasm-bindgen-test-runner "$copy" "$@"
fi
if [ -n "${SAFARIDRIVER_REMOTE:-}" ]; then browser=WebKit
elif [ -n "${GECKODRIVER:-}${GECKODRIVER_REMOTE:-}" ]; then browser=Firefox
else browser=Chromium; fi
suite="$(basename "$module" .wasm)"
suite="${suite%-*}"
rm -f "$copy_dir"/try-*.log
start_retries=0
test_reruns=0
try=0
while :; do
  try=$((try + 1))
  out="$copy_dir/try-$try.log"
  set +e
  wasm-bindgen-test-runner "$copy" "$@" 2>&1 | tee "$out"
  status=${PIPESTATUS[0]}
  set -e
  [ "$status" -eq 0 ] && exit 0
  # No test result and the driver's refusal: the browser did not start.
  not_started=$(grep -m1 -E 'failed to create a [A-Za-z]+ session|session not created|driver failed to (start|bind port)' "$out" || true)
  if grep -q '^test result:' "$out"; then not_started=""; fi
  # The names under the runner's last "failures:" heading (none when the run ended
  # without that list: the runner's timeout, a page that did not load).
  failed=$(awk '/^failures:/ { names = "" ; inside = 1; next } inside && /^    [^ ]/ { names = names " " $1 } /^test result:/ { inside = 0 } END { print names }' "$out")
  if [ -n "$not_started" ] && [ "$start_retries" -lt 2 ]; then
    start_retries=$((start_retries + 1))
    echo "$(date -u +%FT%TZ) $browser $suite: try $try: the browser did not start (exit $status): ${not_started#Error: }" >>"$log"
    echo "wasm-test-runner: $browser did not start for $suite; trying again in 5 s (recorded in $log)" >&2
    sleep 5
    continue
  fi
  if [ -z "$not_started" ] && [ "$browser" = WebKit ] && [ "$test_reruns" -lt 1 ]; then
    test_reruns=$((test_reruns + 1))
    {
      echo "$(date -u +%FT%TZ) WebKit $suite: try $try failed (exit $status):${failed:- no test named; see the output above}"
      grep -E '^test result:' "$out" | tail -1 || true
    } >>"$log"
    echo "wasm-test-runner: WebKit $suite failed (exit $status):${failed:- no test named}; running the suite once more (recorded in $log)" >&2
    continue
  fi
  # The last word, so that the tail CI shows says what failed.
  {
    echo "wasm-test-runner: $browser $suite failed on try $try (exit $status):"
    if [ -n "$not_started" ]; then echo "  the browser did not start: ${not_started#Error: }"
    else
      echo "  failed:${failed:- no test named (see the output above)}"
      grep -E '^test result:' "$out" | tail -1 | sed 's/^/  /' || true
    fi
  } >&2
  exit "$status"
done
