// Run by scripts/test-wasm.sh after `wasm-bindgen --target web`: makes a
// call before init() fail with a clear Error instead of
// "TypeError: Cannot read properties of undefined (reading '__wbindgen_malloc')".
// The glue keeps its exports in `let wasm`, undefined until init() or
// initSync() resolves; this gives it a stand-in that throws on every use.
// Each edit must match exactly (the wasm-bindgen version is pinned by
// Cargo.lock); a glue that changed shape fails the build here.
import { readFileSync, writeFileSync } from "node:fs";

const file = process.argv[2];
let glue = readFileSync(file, "utf8");
const edit = (from, to, count) => {
  const n = glue.split(from).length - 1;
  if (n !== count) throw new Error(`finish-pkg: expected ${count}× ${JSON.stringify(from)} in ${file}, found ${n}`);
  glue = glue.replaceAll(from, to);
};
edit(
  "let wasmModule, wasmInstance, wasm;",
  `const NOT_READY = new Proxy({}, {
    get() {
        throw new Error("promptvault: call and await init() (or call initSync()) before using the package");
    },
});
let wasmModule, wasmInstance, wasm = NOT_READY;`,
  1,
);
edit("if (wasm !== undefined) return wasm;", "if (wasm !== NOT_READY) return wasm;", 2);
if (/wasm [!=]== undefined/.test(glue)) throw new Error(`finish-pkg: another test of wasm against undefined in ${file}`);
writeFileSync(file, glue);
