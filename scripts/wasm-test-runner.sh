#!/usr/bin/env bash
# cargo's runner for the Firefox suites (`make test-firefox`): wasm-bindgen-test-runner,
# except that Firefox before 147 cannot run a service worker that is an ES module (it
# loads `register(url, {type: "module"})` as a classic script, where the runner's
# `import` throws during evaluation). There the service-worker suite runs as a classic
# script: the runner's no-modules mode (WASM_BINDGEN_USE_NO_MODULE), which works because
# the crate imports no JS module of its own. Chromium and WebKit run it as a module.
set -euo pipefail

firefox_major() {
  local version
  version=$("${FIREFOX_BIN:-/usr/bin/firefox-esr}" --version 2>/dev/null) || return 1
  version=${version##* }
  echo "${version%%.*}"
}

case "${1:-}" in
  */service_worker-*.wasm)
    major=$(firefox_major) || { echo "wasm-test-runner: cannot tell Firefox's version" >&2; exit 1; }
    if (( major < 147 )); then
      echo "wasm-test-runner: Firefox $major has no module service workers: service-worker suite as a classic script" >&2
      export WASM_BINDGEN_USE_NO_MODULE=1
    fi
    ;;
esac
exec wasm-bindgen-test-runner "$@"
