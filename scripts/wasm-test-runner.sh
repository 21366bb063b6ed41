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

# WebKit only, and only when the Makefile names a log (PWA_SYNC_WEBKIT_RERUNS): a suite
# that fails runs once more, whole, and the first run's failures are written to that
# log, which `make test-webkit` prints at its end. A test that fails twice fails the
# suite. Why: WebKit's suites fail now and then, in no test in particular, with states
# the code cannot reach (ARCHITECTURE.md "Browser suites"); one in a few CI runs did,
# each time throwing away a session's work, and none has reproduced on a rerun.
log="${PWA_SYNC_WEBKIT_RERUNS:-}"
if [ -z "${SAFARIDRIVER_REMOTE:-}" ] || [ -z "$log" ]; then
  exec wasm-bindgen-test-runner "$copy" "$@"
fi
first="$copy_dir/first-run.log"
set +e
wasm-bindgen-test-runner "$copy" "$@" 2>&1 | tee "$first"
status=${PIPESTATUS[0]}
set -e
[ "$status" -eq 0 ] && exit 0
suite="$(basename "$module" .wasm)"
suite="${suite%-*}"
# The names under the runner's last "failures:" heading (none when the run ended
# without that list: a driver that did not start, the runner's timeout).
failed=$(awk '/^failures:/ { names = "" ; inside = 1; next } inside && /^    [^ ]/ { names = names " " $1 } /^test result:/ { inside = 0 } END { print names }' "$first")
{
  echo "$(date -u +%FT%TZ) WebKit $suite: first run failed (exit $status):${failed:- no test named; see the output above}"
  grep -E '^test result:' "$first" | tail -1 || true
} >>"$log"
echo "wasm-test-runner: WebKit $suite failed (exit $status):${failed:- no test named}; running the suite once more (recorded in $log)" >&2
exec wasm-bindgen-test-runner "$copy" "$@"
