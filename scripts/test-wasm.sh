#!/usr/bin/env bash
# The WASM npm package (issue 4): installs what it needs (idempotently),
# builds the package, and runs every WASM test:
#   1. wasm-bindgen-test suites under Node and in headless Chromium
#      (including core's frozen vectors);
#   2. the built package under Node ESM (node:test: vectors, API, errors);
#   3. strict `tsc --noEmit` over the package types, with @ts-expect-error cases;
#   4. Playwright (playwright-core + Debian chromium) driving examples/web,
#      alone and on two devices syncing through the real server (screenshots
#      in wasm/test-output/);
#   5. `npm pack` installed into a scratch project: a Node ESM script and a
#      Vite build (run in Chromium);
# The sync tests (Node and Playwright) start the reference server's binary,
# built here (debug).
# then prints the package size (gzipped) and `wasm: N passed, M failed`.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$PV_ROOT"
bash scripts/setup.sh wasm
ROOT=$PV_ROOT
TARGET_DIR=$CARGO_TARGET_DIR
WB_VERSION=$(pv_wasm_bindgen_version)

passed=0
failed=0
count() { # count <passed> <failed> <label>
  passed=$((passed + $1))
  failed=$((failed + $2))
  echo "    [$3] $1 passed, $2 failed"
}

echo "--- wasm-bindgen-test (Node, then headless Chromium)"
export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner
run_wbt() { # run_wbt <label> [env…]
  local label=$1 log
  shift
  log=$(mktemp)
  if env "$@" cargo test -p promptvault-wasm --target wasm32-unknown-unknown --test wasm 2>&1 | tee "$log" | grep -E '^test |test result'; then :; fi
  local p f
  p=$(sed -n 's/^test result: .* \([0-9]*\) passed; \([0-9]*\) failed.*/\1/p' "$log" | tail -1)
  f=$(sed -n 's/^test result: .* \([0-9]*\) passed; \([0-9]*\) failed.*/\2/p' "$log" | tail -1)
  if [ -z "$p" ]; then
    tail -40 "$log"
    p=0
    f=1
  fi
  count "$p" "$f" "$label"
  rm -f "$log"
}
run_wbt "wasm-bindgen-test node" WASM_BINDGEN_TEST_ONLY_NODE=1
run_wbt "wasm-bindgen-test chromium" WASM_BINDGEN_USE_BROWSER=1 CHROMEDRIVER=/usr/bin/chromedriver

echo "--- build the npm package (wasm-release profile, simd128, wasm-bindgen $WB_VERSION, wasm-opt from npm binaryen)"
# simd128 comes from .cargo/config.toml ([target.wasm32-unknown-unknown]);
# a RUSTFLAGS variable would replace it, so refuse one.
if [ -n "${RUSTFLAGS:-}${CARGO_ENCODED_RUSTFLAGS:-}" ]; then
  echo "test-wasm: unset RUSTFLAGS (the wasm build takes its flags from .cargo/config.toml)" >&2
  exit 2
fi
cargo build -p promptvault-wasm --target wasm32-unknown-unknown --profile wasm-release
RAW="$TARGET_DIR/wasm32-unknown-unknown/wasm-release/promptvault_wasm.wasm"
grep -q simd128 "$RAW" # rustc's target_features section: built with SIMD
rm -rf wasm/pkg
# One module for every entry: the web glue; js/node.js instantiates the
# same .wasm synchronously for Node.
wasm-bindgen --target web --weak-refs --out-dir wasm/pkg/web "$RAW"
node wasm/finish-pkg.mjs wasm/pkg/web/promptvault_wasm.js # a call before init() throws a clear Error
WASM_OPT="$ROOT/wasm/node_modules/.bin/wasm-opt"
"$WASM_OPT" -Oz --converge --strip-debug --strip-producers \
  --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
  --enable-mutable-globals --enable-reference-types --enable-multivalue --enable-simd \
  wasm/pkg/web/promptvault_wasm_bg.wasm -o wasm/pkg/web/promptvault_wasm_bg.wasm
grep -q FinalizationRegistry wasm/pkg/web/promptvault_wasm.js # --weak-refs took effect

run_node_tests() { # run_node_tests <label> <files…>
  local label=$1 log
  shift
  log=$(mktemp)
  if node --test --test-reporter=spec "$@" 2>&1 | tee "$log" | grep -vE '^\s*$'; then :; fi
  local p f
  p=$(sed -n 's/^ℹ pass \([0-9]*\)$/\1/p' "$log" | tail -1)
  f=$(sed -n 's/^ℹ fail \([0-9]*\)$/\1/p' "$log" | tail -1)
  if [ -z "$p" ] || [ -z "$f" ]; then
    p=${p:-0}
    f=1
  fi
  count "$p" "$f" "$label"
  rm -f "$log"
}

echo "--- the reference server for the sync tests (debug build)"
cargo build -p promptvault-server
export PV_SERVER_BIN="$TARGET_DIR/debug/promptvault-server"

echo "--- the package under Node ESM"
run_node_tests "node:test package + README" wasm/js-test/node.test.mjs wasm/js-test/readme.test.mjs wasm/js-test/init.test.mjs
run_node_tests "node:test sync through the server" wasm/js-test/sync.test.mjs

echo "--- TypeScript: strict tsc --noEmit over the package and the typing tests"
if (cd wasm && node_modules/.bin/tsc -p js-test/tsconfig.json); then
  count 1 0 "tsc strict + @ts-expect-error"
else
  count 0 1 "tsc strict + @ts-expect-error"
fi

echo "--- Playwright: examples/web in headless Chromium"
run_node_tests "playwright examples/web + worker client" wasm/js-test/e2e.test.mjs wasm/js-test/worker.test.mjs
export PV_TEST_OUTPUT="$ROOT/wasm/test-output"
rm -rf "$PV_TEST_OUTPUT"
run_node_tests "playwright two devices syncing" wasm/js-test/e2e-sync.test.mjs
echo "    screenshots of both devices: $PV_TEST_OUTPUT/"

echo "--- npm pack into a scratch project: Node ESM and a Vite build"
PV_SCRATCH="$TARGET_DIR/wasm-scratch" run_node_tests "npm pack + node + vite" wasm/js-test/pack.test.mjs

echo "--- package size (gzip -9)"
size_of() { gzip -9c "$1" | wc -c; }
WASM_GZ=$(size_of wasm/pkg/web/promptvault_wasm_bg.wasm)
JS_GZ=$(size_of wasm/pkg/web/promptvault_wasm.js)
TOTAL=$((WASM_GZ + JS_GZ))
echo "    .wasm $(stat -c %s wasm/pkg/web/promptvault_wasm_bg.wasm) B raw, $WASM_GZ B gzipped; JS $JS_GZ B gzipped"
echo "    package size (web .wasm + JS, gzipped): $((TOTAL / 1024)) KB (target <= 100 KB)"
if [ "$TOTAL" -gt $((100 * 1024)) ]; then
  echo "    note: over the 100 KB target (see wasm/README.md, Size and speed; BENCHMARKS.md)"
fi

echo "wasm: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
