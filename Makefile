# pwa-sync build and test entry points. `make help` lists targets.
SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

export PATH := $(HOME)/.cargo/bin:$(PATH)

PORT ?= 8787
CHROMEDRIVER_BIN ?= /usr/bin/chromedriver
# Extra arguments for `wasm-pack test`, e.g. WASM_TEST_ARGS="-- --test window"
WASM_TEST_ARGS ?=

# wasm-bindgen-test-runner settings (read by the runner that wasm-pack starts):
# test timeout (default 20 s), time allowed for the driver to bind its port
# (default 5 s, too short on a busy 2-core machine), and the capabilities file
# (default ./webdriver.json in the runner's cwd; made absolute here).
export WASM_BINDGEN_TEST_TIMEOUT ?= 120
export WASM_BINDGEN_TEST_DRIVER_TIMEOUT ?= 30
export WASM_BINDGEN_TEST_WEBDRIVER_JSON ?= $(CURDIR)/webdriver.json

# The runner picks the first of GECKODRIVER / SAFARIDRIVER / CHROMEDRIVER /
# MSEDGEDRIVER set in the environment, so clear the ones for other browsers.
NO_DRIVERS := env -u GECKODRIVER -u SAFARIDRIVER -u CHROMEDRIVER -u MSEDGEDRIVER \
	-u GECKODRIVER_REMOTE -u SAFARIDRIVER_REMOTE -u CHROMEDRIVER_REMOTE -u MSEDGEDRIVER_REMOTE

.PHONY: help setup build test test-host test-chrome test-firefox test-e2e demo size clean

help:
	@echo "targets: setup build test test-host test-chrome test-firefox test-e2e demo size clean"

setup:
	@bash scripts/setup.sh

build: setup
	wasm-pack build --release --target web --out-dir pkg

test: setup
	@$(MAKE) --no-print-directory test-host
	@$(MAKE) --no-print-directory test-chrome
	@$(MAKE) --no-print-directory test-firefox
	@$(MAKE) --no-print-directory test-e2e

test-host:
	cargo test --workspace

test-chrome:
	$(NO_DRIVERS) CHROMEDRIVER_ARGS=--silent \
	  wasm-pack test --headless --chrome --chromedriver $(CHROMEDRIVER_BIN) $(WASM_TEST_ARGS)

test-firefox:
	$(NO_DRIVERS) \
	  wasm-pack test --headless --firefox --geckodriver "$$(command -v geckodriver)" $(WASM_TEST_ARGS)

# End-to-end tests in Debian's Chromium (playwright-core), against a fresh release pkg/.
test-e2e: build
	cd e2e && node --test --test-concurrency=1 .

demo: build
	@echo
	@echo "  pwa-sync demo: http://127.0.0.1:$(PORT)/demo/"
	@echo
	python3 -m http.server --bind 127.0.0.1 --directory "$(CURDIR)" $(PORT)

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
