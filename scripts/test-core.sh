#!/usr/bin/env bash
# Format, lints and the Rust test suites of the workspace (the C ABI's run in
# scripts/test-ffi.sh, the benches' in scripts/test-benches.sh), measured for
# coverage in the same run: one instrumented build and one run of the tests
# gives both the results and the core's line-coverage floor (90%), instead
# of a plain test run and a second, instrumented one.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$PV_ROOT"
bash scripts/setup.sh core

cargo fmt --all -- --check
# No import cycle between the modules of core/src/vault or ffi/src (issue 13).
python3 scripts/check-cycles.py
cargo clippy --workspace --all-targets --locked -- -D warnings
# The server links only the core's keyless parts (issue 17): the core
# builds without `unlock`, the server's own dependency graph (dev-
# dependencies aside: its tests drive real vaults) never enables it, and
# the server compiles that way (the workspace-wide builds above and below
# unify features, so they would not notice a server using `Vault`).
cargo check -p promptvault --no-default-features --locked
server_core=$(cargo tree -p promptvault-server -e normal,build,features -i promptvault --locked)
if ! grep -q '^promptvault v' <<<"$server_core"; then
  echo "cargo tree shows no promptvault under promptvault-server:" >&2
  echo "$server_core" >&2
  exit 1
fi
if grep -q 'promptvault feature "\(unlock\|default\)"' <<<"$server_core"; then
  echo "promptvault-server enables the core's unlocking code:" >&2
  echo "$server_core" >&2
  exit 1
fi
cargo check -p promptvault-server --locked
# Every server test runs against SQLite and against a real PostgreSQL: a
# throwaway cluster on loopback, stopped and removed when this script exits.
# PV_REQUIRE_POSTGRES makes a test without PV_TEST_POSTGRES_URL fail rather
# than skip.
source scripts/pg.sh
export PV_REQUIRE_POSTGRES=1
# Every test target of the workspace but the FFI's and the benches', under
# coverage instrumentation.
cargo llvm-cov --no-report --workspace --exclude promptvault-ffi --exclude promptvault-benches --locked
# Doctests (the crate docs' examples) are not instrumented on stable.
cargo test --doc -p promptvault --locked
# The floor is on the core's own sources.
cargo llvm-cov report --summary-only --fail-under-lines 90 \
  --ignore-filename-regex '/(examples|ffi|wasm|benches|fuzz|server)/' |
  awk '/^TOTAL/ {print "core line coverage: " $10 " (floor 90%)"}'
