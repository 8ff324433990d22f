# Sourced (not run) by scripts/setup.sh and every scripts/test-*.sh: the
# environment they share, defined once.
#
# - Build outputs live outside the checkout, so a fresh clone on the same
#   machine rebuilds only what changed (cargo's fingerprints decide).
# - Tools the set-up step installs live under ~/.cache/promptvault/tools
#   (prebuilt cargo subcommands from PyPI) and $CARGO_HOME/bin (cargo install).
# - One pinned nightly serves miri and cargo-fuzz; everything else builds on
#   the machine's stable toolchain.

PV_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/promptvault/target}"
case "$CARGO_TARGET_DIR" in /*) ;; *) CARGO_TARGET_DIR="$PV_ROOT/$CARGO_TARGET_DIR" ;; esac
PV_TOOLS="${PV_TOOLS:-$HOME/.cache/promptvault/tools}"
PV_NIGHTLY=nightly-2026-10-01
export PATH="$PV_TOOLS/bin:${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
export PV_ROOT PV_TOOLS PV_NIGHTLY

# The exact wasm-bindgen-cli version: the wasm-bindgen crate's in Cargo.lock.
pv_wasm_bindgen_version() {
  awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' "$PV_ROOT/Cargo.lock"
}
