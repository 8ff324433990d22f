#!/usr/bin/env bash
# Hardening: supply chain (cargo-deny), no unsafe outside ffi/, a short run
# of every fuzz target, and the core's line-coverage floor.
set -euo pipefail
cd "$(dirname "$0")/.."

# Supply chain. Advisories are not checked: the RustSec database cannot be
# fetched from this build environment (see README).
command -v cargo-deny >/dev/null || cargo install --locked cargo-deny
cargo deny check licenses bans sources

# No unsafe code outside ffi/ (the lints forbid it too; this catches an
# `allow` slipped in anywhere).
if grep -rnE '\bunsafe\b[[:space:]]*(\{|fn|impl|extern|trait)|allow\((unsafe_code)' \
     --include='*.rs' core examples wasm benches fuzz 2>/dev/null; then
  echo "unsafe code outside ffi/ (listed above)"; exit 1
fi

# Fuzz every target briefly (FUZZ_SECONDS, default 20).
bash scripts/fuzz.sh "${FUZZ_SECONDS:-20}"

# Coverage floor on the core.
rustup component list --installed | grep -q llvm-tools || rustup component add llvm-tools-preview
command -v cargo-llvm-cov >/dev/null || cargo install --locked cargo-llvm-cov
cargo llvm-cov --package promptvault --summary-only --fail-under-lines 90 \
  | grep -E '^TOTAL' | awk '{print "core line coverage: " $10 " (floor 90%)"}'
