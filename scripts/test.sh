#!/usr/bin/env bash
# The one command that runs every test on a fresh machine:
#   1. scripts/setup.sh installs everything every part needs (idempotently;
#      one line when all is there), so nothing is missing half-way;
#   2. each part's own script runs in turn (scripts/test-PART.sh, each of
#      which also works alone);
#   3. a timing line per part, a total, and the count of tests that ran.
# Stops at the first part that fails.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$PV_ROOT"
mkdir -p "$CARGO_TARGET_DIR"
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT

start=$(date +%s)
timings=()
clock() { # clock LABEL SECONDS
  timings+=("$(printf '%-10s %5ss' "$1" "$2")")
}

echo "==> setup"
t=$(date +%s)
bash scripts/setup.sh
clock setup $(($(date +%s) - t))

parts=(core ffi wasm benches hardening)
passed=0
failed=0
for part in "${parts[@]}"; do
  echo "==> $part ($(($(date +%s) - start))s elapsed)"
  t=$(date +%s)
  rc=0
  bash "scripts/test-$part.sh" 2>&1 | tee "$logs/$part.log" || rc=$?
  clock "$part" $(($(date +%s) - t))
  # A part that prints its own "PART: N passed, M failed" line (ffi, wasm)
  # counts by it; otherwise by cargo's "test result:" lines.
  own=$(grep -E "^$part: [0-9]+ passed, [0-9]+ failed" "$logs/$part.log" | tail -1 || true)
  if [ -n "$own" ]; then
    p=$(sed -E 's/.*: ([0-9]+) passed.*/\1/' <<<"$own")
    f=$(sed -E 's/.*passed, ([0-9]+) failed.*/\1/' <<<"$own")
  else
    p=$(sed -nE 's/^test result: .* ([0-9]+) passed; ([0-9]+) failed.*/\1/p' "$logs/$part.log" | awk '{s += $1} END {print s + 0}')
    f=$(sed -nE 's/^test result: .* ([0-9]+) passed; ([0-9]+) failed.*/\2/p' "$logs/$part.log" | awk '{s += $1} END {print s + 0}')
  fi
  passed=$((passed + p))
  failed=$((failed + f))
  if [ "$rc" -ne 0 ]; then
    echo "==> $part FAILED (exit $rc)"
    printf '    %s\n' "${timings[@]}"
    [ "$failed" -gt 0 ] || failed=1
    echo "total: $passed passed, $failed failed"
    exit "$rc"
  fi
done

echo "==> timings"
printf '    %s\n' "${timings[@]}"
echo "==> all parts passed in $(($(date +%s) - start))s"
echo "total: $passed passed, $failed failed"
