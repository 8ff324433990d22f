#!/usr/bin/env bash
# Benches never rot: every criterion bench runs once in criterion's --test
# mode (one iteration each, no timing; the fixtures capped at a few hundred
# prompts), then a smoke run of the comparison, native and WASM (one tiny
# round per pair). Both build with the test profile, whose dependencies are
# optimised (Cargo.toml), so this reuses the workspace's debug build instead
# of a release build that nothing here needs. Nothing asserts a time: the
# figures of a smoke run mean nothing. Real measurements: scripts/compare.sh.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$PV_ROOT"
bash scripts/setup.sh benches

cargo test -p promptvault-benches --benches --locked -- --test
# Sync under load and faults (issue 17): 20 clients x 100 commits through
# the engine against the real server, killed with SIGKILL mid-load on
# SQLite, and with PostgreSQL restarted under it; each asserts convergence
# with no version lost or doubled, and prints its throughput and latency.
# Then a smoke run of the sync bench (one long-poll round trip per edit).
source scripts/pg.sh
export PV_REQUIRE_POSTGRES=1
cargo test -p promptvault-server --test load --locked -- --ignored --nocapture --test-threads 1
cargo test -p promptvault-server --bench sync --locked
# The native pairs, and the WASM pairs when scripts/test-wasm.sh has built
# the npm package (it runs before this in scripts/test.sh).
bash scripts/compare.sh --smoke
