#!/usr/bin/env bash
# Size check, run by `make test`: the wasm module plus its JS glue (and snippets), gzipped (-9), must stay
# at or under BUDGET_BYTES, so a change that grows the package fails CI. The budget is
# issue 16's 150 KB (153,600 bytes), met since 2026-12-06 (it was a ratchet at the size of
# the day plus ~1,000 bytes of room until then; lower it as the size comes down; history
# in bench/README.md "Size"); issue 8's target is TARGET_BYTES (100 KiB), which the
# package does not meet yet: the script says by how much. Builds pkg/ first if it is
# missing. Prints raw / gzip / brotli (if installed) per file and the total; exits 1 over
# the budget.
set -euo pipefail
cd "$(dirname "$0")/.."
BUDGET_BYTES="${BUDGET_BYTES:-153600}"
TARGET_BYTES="${TARGET_BYTES:-102400}"
WASM=pkg/pwa_sync_bg.wasm
GLUE=pkg/pwa_sync.js
if [[ ! -f "$WASM" || ! -f "$GLUE" ]]; then
  echo "size-check: pkg/ is missing, building it (make build)" >&2
  make --no-print-directory build >&2
fi
have_br=0
command -v brotli >/dev/null 2>&1 && have_br=1
total_gz=0
total_br=0
printf '%-28s %10s %10s %10s\n' file raw gzip-9 brotli
# The crate's own JS (wasm-bindgen snippets, imported by the glue) counts as glue.
mapfile -t SNIPPETS < <(find pkg/snippets -name '*.js' 2>/dev/null | sort)
for f in "$WASM" "$GLUE" "${SNIPPETS[@]}"; do
  raw=$(wc -c <"$f")
  gz=$(gzip -9 -c "$f" | wc -c)
  total_gz=$((total_gz + gz))
  if [[ $have_br == 1 ]]; then
    br=$(brotli -q 11 -c "$f" | wc -c)
    total_br=$((total_br + br))
  else
    br=-
  fi
  printf '%-28s %10s %10s %10s\n' "$f" "$raw" "$gz" "$br"
done
[[ $have_br == 1 ]] || total_br=-
printf '%-28s %10s %10s %10s\n' "wasm + glue" "" "$total_gz" "$total_br"
if (( total_gz > BUDGET_BYTES )); then
  echo "size-check: FAIL: wasm + glue is $total_gz bytes gzipped, over the budget of $BUDGET_BYTES bytes by $((total_gz - BUDGET_BYTES))"
  exit 1
fi
echo "size-check: ok: wasm + glue is $total_gz bytes gzipped, budget $BUDGET_BYTES bytes"
if (( total_gz > TARGET_BYTES )); then
  echo "size-check: note: $((total_gz - TARGET_BYTES)) bytes over issue 8's target of $TARGET_BYTES bytes (not met yet)"
fi
