#!/usr/bin/env bash
# Benches never rot: build every criterion bench and run each one once
# (criterion's --test mode: one iteration each, no timing), then a smoke run
# of the comparison, native and WASM (one tiny round per pair). In --test mode the benches cap
# their fixtures at a few hundred prompts, so this stays within a few minutes
# after the build. Nothing here asserts a time; the figures of a smoke run
# mean nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

# The reference C Argon2 anchor is vendored by the argon2-kdf crate, whose
# build runs bindgen: it needs libclang. Install it only if it is missing.
if ! ldconfig -p 2>/dev/null | grep -q 'libclang'; then
  apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends libclang-dev
fi

cargo bench -p promptvault-benches --locked -- --test
# The native pairs, and the WASM pairs when scripts/test-wasm.sh has built
# the npm package (it runs before this in scripts/test.sh).
bash scripts/compare.sh --smoke
