#!/usr/bin/env bash
# The main demo: the promptvault CLI over a local vault file, start to end,
# ending with what a sync server would store (ciphertext only).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --quiet --release -p promptvault-cli
pv="${CARGO_TARGET_DIR:-$PWD/target}/release/promptvault"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export PROMPTVAULT_VAULT="$work/demo.pvlt"
export PROMPTVAULT_PASSWORD="correct horse battery staple"
step() { printf '\n\033[1m$ promptvault %s\033[0m\n' "$*"; "$pv" "$@"; }

step init
id=$("$pv" add --title "Lighthouse" --body "a lighthouse in a storm, oil painting" \
        --tag Art --tag "Oil painting" --note "first try" | awk '{print $2}')
echo "(added prompt $id)"
step edit "$id" --body "a lighthouse in a storm at night, oil painting, dramatic light" --note "darker"
step add --title "Haiku bot" --body "You are a poet who answers only in haiku." --tag LLM --favorite
step history "$id"
step diff "$id" 1 2
step tag "$id" ART landscape
step tags
step list --tag art
step list --search HAIKU
step list --favorite
step show "$id"
step restore "$id" 1
step history "$id"
PROMPTVAULT_EXPORT_PASSWORD="export secret" step export "$work/backup.pvx"
step inspect
printf '\nThe vault file is %s bytes; grep for the prompt text finds nothing:\n' "$(wc -c < "$PROMPTVAULT_VAULT")"
if grep -q -a "lighthouse" "$PROMPTVAULT_VAULT" "$work/backup.pvx"; then echo "PLAINTEXT FOUND"; exit 1; else echo "  (no match)"; fi
