// The Node entry (`promptvault` under the `node` condition, and
// `promptvault/node`): the web entry's module and its one .wasm file,
// instantiated synchronously when imported, so there is no init() to call
// and the module has no top-level await (Node can also `require()` it).
import { readFileSync } from "node:fs";
import { initSync } from "../pkg/web/promptvault_wasm.js";

initSync({ module: readFileSync(new URL("../pkg/web/promptvault_wasm_bg.wasm", import.meta.url)) });

export * from "../pkg/web/promptvault_wasm.js";
export { default } from "../pkg/web/promptvault_wasm.js";
