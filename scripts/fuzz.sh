#!/usr/bin/env bash
# Runs every fuzz target for SECONDS each (default 20) from seeds made from
# the frozen vectors, and prints executions and crashes per target.
# Two cargo-fuzz projects: fuzz/ (the core) and ffi/fuzz/ (the C ABI, kept
# under ffi/ because calling it is unsafe code).
# Usage: scripts/fuzz.sh [SECONDS] [TARGET...]
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$PV_ROOT"
bash scripts/setup.sh hardening >/dev/null
secs=${1:-20}; shift || true
corpus_root="$PWD/${FUZZ_CORPUS:-target/fuzz-corpus}"
python3 scripts/fuzz-seeds.py "$corpus_root" >/dev/null
declare -A dir_of=()
for proj in fuzz ffi/fuzz; do
  (cd "$proj" && cargo +"$PV_NIGHTLY" fuzz build -O >/dev/null 2>&1) || (cd "$proj" && cargo +"$PV_NIGHTLY" fuzz build -O)
  for t in $(cd "$proj" && cargo +"$PV_NIGHTLY" fuzz list); do dir_of[$t]=$proj; done
done
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${!dir_of[@]}")
failed=0
for t in $(printf '%s\n' "${targets[@]}" | sort); do
  proj=${dir_of[$t]:?unknown fuzz target $t}
  log=$(mktemp)
  mkdir -p "$corpus_root/$t" # a target without seeds starts from an empty corpus
  if (cd "$proj" && cargo +"$PV_NIGHTLY" fuzz run -O "$t" "$corpus_root/$t" -- \
        -max_total_time="$secs" -rss_limit_mb=2048 -timeout=30 -print_final_stats=1) >"$log" 2>&1; then
    status=ok
  else
    status=CRASH; failed=1
  fi
  execs=$(grep -E '^stat::number_of_executed_units' "$log" | awk '{print $2}' || true)
  echo "fuzz $t: ${secs}s, ${execs:-?} executions, $status"
  [ "$status" = ok ] || tail -40 "$log"
  rm -f "$log"
done
exit $failed
