# pwa-sync build and test entry points. `make help` lists targets.
SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

export PATH := $(HOME)/.cargo/bin:$(PATH)

PORT ?= 8787
CHROMEDRIVER_BIN ?= /usr/bin/chromedriver
# Extra arguments for the browser suites' `cargo test`, e.g. WASM_TEST_ARGS="--test window"
# (the browser suites always build with the `testing` feature: its fault hooks).
WASM_TEST_ARGS ?=

# wasm-bindgen-test-runner settings (read by the runner, scripts/wasm-test-runner.sh):
# the time one test binary (a whole suite) may take in the browser (default 20 s; the
# WebKit service-worker suite took 42-77 s on an idle 2-core machine, too close to the
# 120 s set before), time allowed for the driver to bind its port (default 5 s, too short
# on a busy 2-core machine), and the capabilities file (default ./webdriver.json in the
# runner's cwd; made absolute here).
export WASM_BINDGEN_TEST_TIMEOUT ?= 360
export WASM_BINDGEN_TEST_DRIVER_TIMEOUT ?= 30
# Its Firefox prefs keep a service worker alive for 10 min: Firefox stops one after 30 s
# of work by default, which cut the service-worker suite off once it ran longer than that.
export WASM_BINDGEN_TEST_WEBDRIVER_JSON ?= $(CURDIR)/webdriver.json

# The runner picks the first of GECKODRIVER / SAFARIDRIVER / CHROMEDRIVER /
# MSEDGEDRIVER set in the environment, so clear the ones for other browsers.
NO_DRIVERS := env -u GECKODRIVER -u SAFARIDRIVER -u CHROMEDRIVER -u MSEDGEDRIVER \
	-u GECKODRIVER_REMOTE -u SAFARIDRIVER_REMOTE -u CHROMEDRIVER_REMOTE -u MSEDGEDRIVER_REMOTE

.PHONY: help setup build test test-steps lint test-host test-chrome test-firefox test-webkit test-e2e demo size clean load load-smoke

help:
	@echo "targets: setup build test lint test-host test-chrome test-firefox test-webkit test-e2e demo size clean load load-smoke"

setup:
	@bash scripts/setup.sh

# Before wasm-opt, the function table's unreachable entries are pointed at a live
# function (scripts/wasm-table.mjs: closure shims of js-sys imports wasm-bindgen removed),
# so wasm-opt drops the functions only they kept.
# wasm-opt from binaryen's npm package (tools/, pinned; Debian's binaryen is too old and
# wasm-pack's own wasm-opt download is off in Cargo.toml). -Os without binaryen's inliner,
# whose inlining shrinks the raw module but makes it gzip worse. --low-memory-unused: no
# address below 1 KB is ever used (Rust's stack sits first, at 0-1 MB, growing down, and
# reaches that page only in an overflow), so a pointer plus a small constant folds into
# the access's offset (1,264 bytes gzip). -Os twice, after --generate-global-effects (what
# each function may read, write or trap on, so calls to pure ones can move or go): a second
# pass finds what the first opened up (~250 bytes gzip; a third finds nothing). The features
# are those rustc enables by default for wasm32-unknown-unknown. Measurements: ARCHITECTURE.md.
WASM_OPT ?= tools/node_modules/.bin/wasm-opt
WASM_OPT_FEATURES = --enable-bulk-memory --enable-bulk-memory-opt --enable-multivalue --enable-mutable-globals \
  --enable-nontrapping-float-to-int --enable-reference-types --enable-sign-ext
WASM_OPT_FLAGS ?= --generate-global-effects -Os -Os --skip-pass=inlining --skip-pass=inlining-optimizing --low-memory-unused --strip-debug --strip-producers \
  $(WASM_OPT_FEATURES)

# Then the functions in an order that gzips smaller (scripts/wasm-order.mjs names them in
# it, wasm-opt renumbers them and drops the names; ARCHITECTURE.md "Release size"). -Os's
# levels without its passes: they keep the binary writer's own optimisation on, which a
# bare rewrite leaves off (+440 bytes gzip).
define order_functions
node scripts/wasm-order.mjs $(1)
$(WASM_OPT) $(WASM_OPT_FEATURES) --optimize-level=2 --shrink-level=1 --reorder-functions-by-name --strip-debug $(1) -o $(1)
endef

# The wasm features of the release modules and the browser suites alike: without
# reference types (wasm-bindgen then keeps JS values in its JS-side heap, not in an
# externref table) and without multi-value returns. 1.7 KB gzip smaller, no slower by
# turns, and the convention WebKit has had the fewest bugs with (ARCHITECTURE.md
# "Browser suites").
WASM_FEATURES = -Ctarget-feature=-reference-types,-multivalue

# The release modules are built by a pinned nightly (scripts/release-toolchain, installed
# by setup) that rebuilds std with our profile: std at opt-level z and its
# optimize_for_size code, panics that trap at once (no formatting, no locations). 23 KB
# gzip less than stable's prebuilt std (ARCHITECTURE.md "Release size"). Tests, lints and
# the host crates stay on stable. RELEASE_TOOLCHAIN=stable RELEASE_RUSTFLAGS=
# RELEASE_CARGO_ARGS= builds as before. A target directory of its own: its flags would
# otherwise rebuild everything the stable builds made.
# The stack (first in memory, so an overflow traps instead of writing over the data) is
# 960 KiB, not the linker's 1 MiB: the data then lies below 1 MiB, where an address is a
# 3-byte constant, not a 4-byte one (-1,171 raw bytes; gzip -169 to -301 as the
# function order's noise goes; ARCHITECTURE.md "Release size").
RELEASE_TOOLCHAIN ?= $(shell cat scripts/release-toolchain)
RELEASE_STACK = -Clink-arg=-zstack-size=983040
RELEASE_RUSTFLAGS ?= -Zlocation-detail=none -Zunstable-options -Cpanic=immediate-abort $(RELEASE_STACK) $(WASM_FEATURES)
RELEASE_CARGO_ARGS ?= -Zbuild-std=std,panic_abort -Zbuild-std-features=optimize_for_size
RELEASE_ENV = RUSTUP_TOOLCHAIN=$(RELEASE_TOOLCHAIN) RUSTFLAGS="$(RELEASE_RUSTFLAGS)" CARGO_TARGET_DIR=$(CURDIR)/target/release-modules

# The in-memory IndexedDB of `storage: "memory"` clients (fake-indexeddb, pinned in
# tools/) as a classic script, which the browser suites install as `pwaSyncMemoryIdb`
# (src/sys.rs, feature testing); the package ships it as the module memory/idb.js
# (scripts/package.mjs), which a memory client loads when it opens.
MEMORY_IDB_SCRIPT = target/js/memory-idb.js
$(MEMORY_IDB_SCRIPT): js/memory-idb.js tools/package-lock.json
	@[ -x tools/node_modules/.bin/esbuild ] || bash scripts/setup.sh node
	@mkdir -p $(dir $@)
	cd tools && node_modules/.bin/esbuild --bundle --format=iife --global-name=pwaSyncMemoryIdb --minify \
	  --log-level=warning --outfile=../$@ < ../js/memory-idb.js

# From an empty pkg/: wasm-pack leaves files of an earlier build (a snippet the crate no
# longer has) that package.mjs would ship.
# seal/ (encryption at rest, crate pwa-sync-seal) is a module of its own in pkg/seal/,
# loaded only by clients configured with `encryption`.
build: setup
	rm -rf pkg
	$(RELEASE_ENV) wasm-pack build . --release --target web --out-dir pkg -- $(RELEASE_CARGO_ARGS)
	node scripts/wasm-table.mjs pkg/pwa_sync_bg.wasm
	$(WASM_OPT) $(WASM_OPT_FLAGS) pkg/pwa_sync_bg.wasm -o pkg/pwa_sync_bg.wasm
	$(call order_functions,pkg/pwa_sync_bg.wasm)
	$(RELEASE_ENV) wasm-pack build seal --release --target web --out-dir ../pkg/seal --no-pack -- $(RELEASE_CARGO_ARGS)
	node scripts/wasm-table.mjs pkg/seal/pwa_sync_seal_bg.wasm
	$(WASM_OPT) $(WASM_OPT_FLAGS) pkg/seal/pwa_sync_seal_bg.wasm -o pkg/seal/pwa_sync_seal_bg.wasm
	$(call order_functions,pkg/seal/pwa_sync_seal_bg.wasm)
	node scripts/package.mjs

# Every step, then a check that no process the run started (server, proxy, driver,
# browser, Xvfb, PostgreSQL) outlived it (scripts/no-leftovers.sh).
test: setup
	@scripts/no-leftovers.sh $(MAKE) --no-print-directory test-steps

test-steps:
	@$(MAKE) --no-print-directory lint
	@$(MAKE) --no-print-directory test-host
	@$(MAKE) --no-print-directory load-smoke
	@$(MAKE) --no-print-directory test-chrome
	@$(MAKE) --no-print-directory test-firefox
	@$(MAKE) --no-print-directory test-webkit
	@$(MAKE) --no-print-directory test-e2e
	@$(MAKE) --no-print-directory size-check
	@scripts/reruns.sh $(RERUNS_CHROME) $(RERUNS_FIREFOX) $(RERUNS_WEBKIT) $(RERUNS_E2E)

# Formatting, clippy on the host and on wasm32 (warnings are errors), and the layers: no
# import cycle inside any crate, the core's and the web layer's modules in layer order.
lint: $(MEMORY_IDB_SCRIPT)
	cargo fmt --all --check
	cargo clippy --workspace --all-targets -- -D warnings
	cargo clippy -p pwa-sync --target wasm32-unknown-unknown --all-targets --features testing -- -D warnings
	cargo clippy -p pwa-sync-seal --target wasm32-unknown-unknown -- -D warnings
	python3 scripts/check-layers.py

# Load run (issue 14): two release servers on one throwaway PostgreSQL, 500 clients in
# 50 spaces of 10 for 60 s (scripts/load.sh; LOAD_* variables size it). Not in `make test`.
load:
	scripts/load.sh
# Its smoke, in `make test` after test-host (whose dependency build the debug server
# reuses): 50 clients in 5 spaces for 5 s; fails if a member did not converge or anything
# applied was lost, judges no times.
load-smoke:
	LOAD_PROFILE=debug LOAD_SECONDS=5 LOAD_CLIENTS=50 LOAD_TIMEOUT=120 scripts/load.sh

# Host tests: the core, the server on SQLite and on a throwaway PostgreSQL, the proxy.
test-host:
	scripts/with-postgres.sh cargo test --workspace -- --include-ignored
	scripts/test-reruns.sh

# Browser suites run against a real server and the fault proxy (scripts/with-server.sh).
# They are built with the release modules' WASM_FEATURES, and cargo runs each through
# scripts/wasm-test-runner.sh: wasm-bindgen-test-runner on a copy of the module that gets
# the glue the package ships (JS values in wasm-bindgen's heap, no multi-value returns),
# and, in Firefox before 147 (Debian's ESR 140), the service-worker suite as a classic
# script. The runner finds the driver named by CHROMEDRIVER, GECKODRIVER or
# SAFARIDRIVER_REMOTE and runs headless.
TEST_RUNNER = CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=$(CURDIR)/scripts/wasm-test-runner.sh WASM_BINDGEN_TEST_ONLY_WEB=1 \
  CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS="$(WASM_FEATURES)"

# Each browser target has a log of the suites the runner ran more than once (a browser
# that did not start; in WebKit, a suite whose tests failed): emptied at its start,
# printed at its end (scripts/reruns.sh), and printed again as `make test`'s last word.
RERUNS_CHROME = $(CURDIR)/target/reruns-chrome.log
RERUNS_FIREFOX = $(CURDIR)/target/reruns-firefox.log
RERUNS_WEBKIT = $(CURDIR)/target/reruns-webkit.log

test-chrome: $(MEMORY_IDB_SCRIPT)
	@mkdir -p target && rm -f $(RERUNS_CHROME)
	$(NO_DRIVERS) CHROMEDRIVER=$(CHROMEDRIVER_BIN) CHROMEDRIVER_ARGS=--silent PWA_SYNC_RERUNS=$(RERUNS_CHROME) \
	  scripts/with-server.sh env $(TEST_RUNNER) cargo test --target wasm32-unknown-unknown --features testing $(WASM_TEST_ARGS)
	@scripts/reruns.sh $(RERUNS_CHROME)

test-firefox: $(MEMORY_IDB_SCRIPT)
	@mkdir -p target && rm -f $(RERUNS_FIREFOX)
	$(NO_DRIVERS) PWA_SYNC_RERUNS=$(RERUNS_FIREFOX) scripts/with-server.sh \
	  env $(TEST_RUNNER) GECKODRIVER="$$(command -v geckodriver)" \
	  cargo test --target wasm32-unknown-unknown --features testing $(WASM_TEST_ARGS)
	@scripts/reruns.sh $(RERUNS_FIREFOX)

# WebKitGTK (Safari's engine): MiniBrowser driven by WebKitWebDriver on a private Xvfb
# display, both started and stopped by scripts/with-webkit.sh, which exports
# SAFARIDRIVER_REMOTE for the runner. The runner sends a Safari driver no capabilities
# (webdriver.json is not read); WebKitWebDriver's default browser is Debian's MiniBrowser
# in automation mode.
#
# A WebKit suite whose tests fail runs once more (scripts/wasm-test-runner.sh).
test-webkit: $(MEMORY_IDB_SCRIPT)
	@mkdir -p target && rm -f $(RERUNS_WEBKIT)
	$(NO_DRIVERS) PWA_SYNC_RERUNS=$(RERUNS_WEBKIT) scripts/with-webkit.sh scripts/with-server.sh \
	  env $(TEST_RUNNER) cargo test --target wasm32-unknown-unknown --features testing $(WASM_TEST_ARGS)
	@scripts/reruns.sh $(RERUNS_WEBKIT)

# End-to-end tests in Debian's Chromium (playwright-core), against a fresh release pkg/
# and the demo app (www/) built on it.
# A browser that did not start is started again there too (e2e/browser-start.mjs), into
# a log of its own.
RERUNS_E2E = $(CURDIR)/target/reruns-e2e.log
test-e2e: build
	cargo build -q -p pwa-sync-server -p pwa-sync-fault-proxy
	cd www && npm run build
	@mkdir -p target && rm -f $(RERUNS_E2E)
	cd e2e && PWA_SYNC_RERUNS=$(RERUNS_E2E) node --test --test-concurrency=1 .
	@scripts/reruns.sh $(RERUNS_E2E)

# The demo app (www/: React + Vite, using pkg/ as an npm dependency) built against a fresh
# pkg/ and served by the reference server with the sync API on the same origin
# (scripts/demo.sh: the conference space, its organiser, the admin token). Data lives in
# data/sync.db. Sign in with a name; use the same name in another tab or browser.
demo: build
	cargo build -q --release -p pwa-sync-server
	cd www && npm run build
	PORT=$(PORT) scripts/demo.sh

size: build
	@have_br=0; command -v brotli >/dev/null 2>&1 && have_br=1; \
	printf '%-32s %10s %10s %10s\n' file raw gzip-9 brotli; \
	for f in pkg/*.wasm pkg/*.js; do \
	  [ -f "$$f" ] || continue; \
	  raw=$$(wc -c <"$$f"); gz=$$(gzip -9 -c "$$f" | wc -c); \
	  if [ $$have_br = 1 ]; then br=$$(brotli -q 11 -c "$$f" | wc -c); else br=-; fi; \
	  printf '%-32s %10s %10s %10s\n' "$$f" "$$raw" "$$gz" "$$br"; \
	done; \
	[ $$have_br = 1 ] || echo "note: brotli not installed; brotli sizes skipped (apt-get install brotli)"

clean:
	cargo clean
	rm -rf pkg

# Side-by-side benchmarks (bench/README.md): pwa-sync vs raw IndexedDB, Dexie and
# workbox-background-sync in Debian's Chromium, against the release server on loopback.
# Writes bench/results/latest.{json,md}. BENCH_RUNS=N sets the runs per implementation.
.PHONY: bench bench-smoke bench-deps size-check
bench-deps:
	cargo build -q --release -p pwa-sync-server
	cd bench && { [ node_modules/.package-lock.json -nt package-lock.json ] || npm ci --no-audit --no-fund; }

bench: build bench-deps
	node bench/run.mjs

# Every workload once at 1/20 size: a quick check that the harness works (no targets).
bench-smoke: build bench-deps
	BENCH_SMOKE=1 node bench/run.mjs

# wasm + JS glue gzipped against the size budget (scripts/size-check.sh; part of `make test`).
size-check:
	scripts/size-check.sh

# The chaos convergence harness in its long mode (e2e/chaos/): devices of one user write at
# random through the fault proxy, go offline, reload, lose their service worker mid-flush;
# then every replica must equal the server, nothing applied twice or lost, no outbox stuck.
# A random seed unless CHAOS_SEED is set (the seed is printed, with the command that
# replays it); CHAOS_OPS, CHAOS_RATE, CHAOS_CLIENTS and CHAOS_TIME_LIMIT_S size the run.
# The short mode runs in `make test-e2e` (e2e/chaos.test.mjs).
# Long fuzzing (proptest: protocol decoding, engine answer checks, merge patch, config),
# a debug build so overflow checks stay on. `make test` runs 256 cases of each.
FUZZ_CASES ?= 100000
.PHONY: fuzz
fuzz:
	PWA_SYNC_FUZZ_CASES=$(FUZZ_CASES) cargo test -p pwa-sync-core --lib fuzz:: -- --test-threads=$$(nproc)

.PHONY: chaos
chaos: build
	cargo build -q -p pwa-sync-server -p pwa-sync-fault-proxy
	node e2e/chaos/run.mjs
