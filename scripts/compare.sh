#!/usr/bin/env bash
# The comparison against the anchors (issue 6), as one command:
#   scripts/compare.sh [--smoke]
# 1. the native pairs (cargo run -p promptvault-benches --release --bin compare):
#    record seal vs raw aes-gcm and ring, Argon2id vs the reference C Argon2, vault
#    open vs serde_json on the plaintext, peak heap of a 100k-prompt open;
# 2. the WASM pairs under Node (benches/node/compare-wasm.mjs): Argon2id vs
#    hash-wasm, a version sealed+opened vs WebCrypto AES-256-GCM;
# 3. the npm package size, gzipped.
# Every ratio is ours ÷ anchor, the median of interleaved rounds in one
# process. A report, not a test: nothing here fails on a time.
#
# The WASM part needs the npm package that scripts/test-wasm.sh builds into
# wasm/pkg (wasm/js/node.js loads it; or PV_WASM_PKG pointing at a node entry); without it, that part
# is skipped with a message.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$PV_ROOT"
ROOT=$PV_ROOT
bash scripts/setup.sh benches >/dev/null
# A smoke run proves the code runs, so it takes the test profile (optimised
# dependencies, already built by the tests); a measurement takes --release.
SMOKE=()
PROFILE=(--release)
if [ "${1:-}" = "--smoke" ]; then
  SMOKE=(--smoke)
  PROFILE=()
fi

echo "## native (rustc $(rustc --version | cut -d' ' -f2))"
cargo run -p promptvault-benches "${PROFILE[@]}" --locked --bin compare -- "${SMOKE[@]}"

echo
echo "## WASM under Node $(node --version 2>/dev/null || echo "(node not installed)")"
PKG=${PV_WASM_PKG:-$ROOT/wasm/js/node.js}
if [ ! -f "$ROOT/wasm/pkg/web/promptvault_wasm_bg.wasm" ] && [ -z "${PV_WASM_PKG:-}" ]; then
  echo "skipped: no npm package at $PKG (run scripts/test-wasm.sh, which builds it)"
  exit 0
fi
echo "| measure | ours | anchor | ours ÷ anchor | per-round range | target |"
echo "|---|---|---|---|---|---|"
PV_WASM_PKG=$PKG node benches/node/compare-wasm.mjs "${SMOKE[@]}"

WEB=$ROOT/wasm/pkg/web
if [ -f "$WEB/promptvault_wasm_bg.wasm" ]; then
  wasm_gz=$(gzip -9c "$WEB/promptvault_wasm_bg.wasm" | wc -c)
  js_gz=$(gzip -9c "$WEB/promptvault_wasm.js" | wc -c)
  total=$((wasm_gz + js_gz))
  verdict="MISSED"
  if [ "$total" -le $((100 * 1024)) ]; then verdict="met"; fi
  echo "| npm package (web .wasm + JS, gzip -9) | $((total / 1024)) KB | — | — | — | ≤ 100 KB $verdict |"
fi
