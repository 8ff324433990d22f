#!/usr/bin/env bash
# Proves the test command on a simulated fresh machine (the fresh-machine
# issue's recipe), so a green run cannot hide a tool installed by hand:
#   1. purges the Debian packages scripts/setup.sh installs, removes the
#      rustup target, components and nightly it adds;
#   2. a fresh HOME (no ~/.cache/promptvault, no npm or pip cache) and a
#      fresh, empty CARGO_HOME, with only rustup's proxies on PATH;
#   3. a fresh clone of this repository's HEAD with ../shared beside it;
#   4. `bash .ci/run` there, with CI=true and no standard input, timed.
#
#   bash scripts/prove-fresh.sh --yes [WORKDIR]
#
# DESTRUCTIVE for this machine's installed tools (that is the point): it
# asks for --yes. The run's output goes to WORKDIR/ci.log (default: a new
# directory under /tmp); the last lines say the per-part timings.
set -euo pipefail
[ "${1:-}" = "--yes" ] || {
  echo "usage: $0 --yes [WORKDIR]  (purges packages and tools that scripts/setup.sh installs)" >&2
  exit 2
}
src=$(cd "$(dirname "$0")/.." && pwd)
source "$src/scripts/lib.sh"
work=${2:-$(mktemp -d /tmp/pv-fresh.XXXXXX)}
mkdir -p "$work"
rustup_home=${RUSTUP_HOME:-$HOME/.rustup}

echo "== purge what the set-up step installs"
DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq libclang-dev chromium chromium-driver valgrind postgresql 'postgresql-*' cmake libcurl4-openssl-dev doxygen >/dev/null || true
DEBIAN_FRONTEND=noninteractive apt-get autoremove --purge -y -qq >/dev/null || true
rustup target remove wasm32-unknown-unknown >/dev/null 2>&1 || true
rustup component remove llvm-tools >/dev/null 2>&1 || true
rustup toolchain uninstall "$PV_NIGHTLY" >/dev/null 2>&1 || true
for t in libclang-dev chromium chromium-driver valgrind; do
  if dpkg -s "$t" >/dev/null 2>&1; then echo "still installed: $t" >&2; exit 1; fi
done

echo "== fresh HOME, CARGO_HOME (rustup's proxies only) and clone in $work"
mkdir -p "$work/home" "$work/cargo" "$work/proxies"
rustup_bin=$(command -v rustup)
for p in cargo rustc rustup rustdoc rustfmt cargo-fmt cargo-clippy clippy-driver cargo-miri rust-gdb rust-lldb; do
  ln -sf "$(readlink -f "$rustup_bin")" "$work/proxies/$p"
done
rm -rf "$work/clone" "$work/shared"
git clone -q "$src" "$work/clone"
cp -r "$src/../shared" "$work/shared"
clean_path=$(tr ':' '\n' <<<"$PATH" | grep -vE '/\.cargo/bin$|promptvault/tools' | paste -sd:)

echo "== bash .ci/run (log: $work/ci.log)"
start=$(date +%s)
rc=0
(cd "$work/clone" && env -i \
  HOME="$work/home" CARGO_HOME="$work/cargo" RUSTUP_HOME="$rustup_home" \
  PATH="$work/proxies:$clean_path" PYENV_ROOT="${PYENV_ROOT:-}" \
  RUSTUP_AUTO_INSTALL="${RUSTUP_AUTO_INSTALL:-}" TERM=dumb LANG=C.UTF-8 CI=true \
  bash .ci/run </dev/null >"$work/ci.log" 2>&1) || rc=$?
echo "== exit $rc after $(($(date +%s) - start))s"
tail -12 "$work/ci.log"
exit "$rc"
