#!/usr/bin/env bash
# The one command that runs every test on a fresh machine. Each part installs
# what it needs (idempotently) and is a script of its own: scripts/test-*.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
# Build outputs live outside the checkout so a fresh clone on the same
# machine reuses them (cargo's fingerprints rebuild whatever changed).
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/promptvault/target}"
mkdir -p "$CARGO_TARGET_DIR"
start=$(date +%s)
for part in core cli ffi wasm benches hardening; do
  script="scripts/test-$part.sh"
  if [ -f "$script" ]; then
    echo "==> $part ($(( $(date +%s) - start ))s elapsed)"
    bash "$script"
  fi
done
echo "==> all parts passed in $(( $(date +%s) - start ))s"
