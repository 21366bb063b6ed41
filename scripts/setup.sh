#!/usr/bin/env bash
# Idempotent tool setup for pwa-sync. Installs only what is missing and prints
# one line per item: "ok: ..." or "installing: ...".
#
#   scripts/setup.sh                 # everything
#   scripts/setup.sh rust browsers   # only some parts: rust | browsers | node
#
# rust:     rustup target wasm32-unknown-unknown, wasm-bindgen-cli (exactly the
#           wasm-bindgen version in Cargo.lock), wasm-pack (pinned), and the pinned nightly of
#           scripts/release-toolchain with rust-src and the wasm32 target (`make build`
#           rebuilds std for the release module with it: ARCHITECTURE.md "Release size")
# browsers: Debian chromium, chromium-driver, firefox-esr, webkit2gtk-driver (WebKitGTK's
#           WebKitWebDriver and MiniBrowser) and xvfb (its display); geckodriver (crates.io)
# node:     npm ci / npm install in www/, bench/, e2e/, e2e/newcomer/ (the newcomer test's
#           fixture app), tools/ (wasm-opt) where a package.json exists
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"

ok()         { echo "ok: $*"; }
installing() { echo "installing: $*"; }
die()        { echo "error: $*" >&2; exit 1; }

# Run as root, or through sudo when available.
as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo "$@"
  else die "need root (or sudo) to run: $*"; fi
}

# apt-get update only when a package is not known to apt yet (a fresh image with empty
# lists), so a machine that has the lists installs without touching the network twice.
APT_UPDATED=0
apt_install() {
  local p
  for p in "$@"; do
    if [ "$APT_UPDATED" -eq 0 ] && ! apt-cache show "$p" >/dev/null 2>&1; then
      as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
      APT_UPDATED=1
    fi
  done
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@"
}

# ---------------------------------------------------------------- rust
setup_rust() {
  command -v rustup >/dev/null 2>&1 || die "rustup not found (install Rust via rustup first)"
  if rustup target list --installed | grep -qx wasm32-unknown-unknown; then
    ok "rustup target wasm32-unknown-unknown"
  else
    installing "rustup target wasm32-unknown-unknown"
    rustup target add wasm32-unknown-unknown
  fi

  # wasm-bindgen-cli must match the wasm-bindgen crate in Cargo.lock exactly.
  if [ ! -f Cargo.lock ]; then
    installing "Cargo.lock (cargo generate-lockfile)"
    cargo generate-lockfile
  fi
  local want have
  want="$(awk '/^name = "wasm-bindgen"$/ { f = 1; next }
               f && /^version = / { gsub(/"/, "", $3); print $3; exit }' Cargo.lock)"
  [ -n "$want" ] || die "no wasm-bindgen package in Cargo.lock"
  have="$(wasm-bindgen --version 2>/dev/null | awk '{print $2}' || true)"
  if [ "$have" = "$want" ]; then
    ok "wasm-bindgen-cli $have"
  else
    installing "wasm-bindgen-cli $want (found: ${have:-none})"
    # --locked can fail when the CLI's own lockfile pins a crate version the
    # registry does not serve (seen: webpki-roots 1.0.11); then resolve afresh.
    cargo install wasm-bindgen-cli --version "$want" --locked --force \
      || { echo "note: --locked install failed; retrying without --locked"
           cargo install wasm-bindgen-cli --version "$want" --force; }
  fi

  # The release module's toolchain: pinned, so a build is the same build tomorrow.
  local release
  release="$(cat scripts/release-toolchain)"
  if rustup toolchain list | grep -q "^$release" \
     && rustup component list --toolchain "$release" --installed 2>/dev/null | grep -qx rust-src \
     && rustup target list --toolchain "$release" --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
    ok "rust toolchain $release (rust-src, wasm32-unknown-unknown)"
  else
    installing "rust toolchain $release (rust-src, wasm32-unknown-unknown)"
    rustup toolchain install "$release" --profile minimal --component rust-src --target wasm32-unknown-unknown
  fi

  # wasm-pack drives wasm-bindgen and writes pkg/: pinned like the toolchain, so a build is the same build tomorrow.
  want=0.15.1
  have="$(wasm-pack --version 2>/dev/null | awk '{print $2}' || true)"
  if [ "$have" = "$want" ]; then
    ok "wasm-pack $have"
  else
    installing "wasm-pack $want (found: ${have:-none})"
    cargo install wasm-pack --version "$want" --locked --force
  fi
}

# ---------------------------------------------------------------- browsers
setup_browsers() {
  local missing=() p v
  for p in chromium chromium-driver firefox-esr webkit2gtk-driver xvfb; do
    if v="$(dpkg-query -W -f='${Status} ${Version}' "$p" 2>/dev/null)" \
       && [[ "$v" == "install ok installed "* ]]; then
      ok "$p ${v##* }"
    else
      missing+=("$p")
    fi
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    installing "${missing[*]} (apt)"
    apt_install "${missing[@]}"
  fi

  # Capture all of the output: `| head -n1` can SIGPIPE geckodriver and, under
  # pipefail, make a working install look missing.
  if v="$(geckodriver --version 2>/dev/null)"; then
    ok "${v%%$'\n'*}"
  else
    installing "geckodriver"
    cargo install geckodriver --locked
  fi
}

# ---------------------------------------------------------------- node
setup_node() {
  local d found=0
  for d in www bench e2e e2e/newcomer tools; do
    [ -f "$d/package.json" ] || continue
    found=1
    if ! command -v npm >/dev/null 2>&1; then
      installing "nodejs npm (apt)"
      apt_install nodejs npm
    fi
    if [ -f "$d/package-lock.json" ]; then
      # npm writes node_modules/.package-lock.json: without it the folder is empty or
      # was cleared from outside, and is installed again.
      if [ ! -f "$d/node_modules/.package-lock.json" ] || [ "$d/package-lock.json" -nt "$d/node_modules" ]; then
        installing "$d/node_modules (npm ci)"
        (cd "$d" && npm ci --no-audit --no-fund)
        touch "$d/node_modules"
      else
        ok "$d/node_modules"
      fi
    else
      if [ ! -f "$d/node_modules/.package-lock.json" ] || [ "$d/package.json" -nt "$d/node_modules" ]; then
        installing "$d/node_modules (npm install; no package-lock.json)"
        (cd "$d" && npm install --no-audit --no-fund)
        touch "$d/node_modules"
      else
        ok "$d/node_modules"
      fi
    fi
  done
  [ "$found" -eq 1 ] || ok "node: no package.json in www/ bench/ e2e/ e2e/newcomer/ tools/"
}

parts=("$@")
[ "${#parts[@]}" -gt 0 ] || parts=(rust browsers node)
for part in "${parts[@]}"; do
  case "$part" in
    rust)     setup_rust ;;
    browsers) setup_browsers ;;
    node)     setup_node ;;
    *) die "unknown part '$part' (expected: rust browsers node)" ;;
  esac
done
