#!/usr/bin/env bash
# Hardening: supply chain (cargo-deny), no unsafe outside ffi/, and a short
# run of every fuzz target. (The coverage floor runs with the tests, in
# scripts/test-core.sh.)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$PV_ROOT"
bash scripts/setup.sh hardening

# Supply chain. Advisories are not checked: the RustSec database cannot be
# fetched from this build environment (see README).
cargo deny check licenses bans sources

# No unsafe code outside ffi/ (the lints forbid it too; this catches an
# `allow` slipped in anywhere).
if grep -rnE '\bunsafe\b[[:space:]]*(\{|fn|impl|extern|trait)|allow\((unsafe_code)' \
  --include='*.rs' core examples wasm benches fuzz 2>/dev/null; then
  echo "unsafe code outside ffi/ (listed above)"
  exit 1
fi

# Fuzz every target briefly (FUZZ_SECONDS, default 20).
bash scripts/fuzz.sh "${FUZZ_SECONDS:-20}"
