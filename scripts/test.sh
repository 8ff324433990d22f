#!/usr/bin/env bash
# The one command that runs every test on a fresh machine. Each part installs
# what it needs (idempotently) and is a script of its own: scripts/test-*.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
for part in core cli ffi wasm benches hardening; do
  script="scripts/test-$part.sh"
  if [ -f "$script" ]; then
    echo "==> $part ($(( $(date +%s) - start ))s elapsed)"
    bash "$script"
  fi
done
echo "==> all parts passed in $(( $(date +%s) - start ))s"
