// The Node entry: the web entry's API, already initialised (init() and
// initSync() are there, and return at once).
export * from "../pkg/web/promptvault_wasm.js";
export { default } from "../pkg/web/promptvault_wasm.js";
