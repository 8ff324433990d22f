// The web entry before init(): every call throws a clear Error, not a
// TypeError from inside the glue; after initSync() the same objects work.
// Each case runs in its own Node process: within one, the node entry
// (imported by the other tests) has already initialised the shared module.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const run = (script) =>
  JSON.parse(execFileSync("node", ["--input-type=module", "-e", script], { cwd: here, encoding: "utf8" }));

test("calls before init() throw a clear Error, then work after initSync()", () => {
  const out = run(`
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { Vault, inspect, initSync } from "promptvault/web";
const caught = (f) => { try { f(); return null; } catch (e) { return { type: e.constructor.name, message: e.message }; } };
const before = [
  caught(() => Vault.create("pw", { mCostKib: 19456, tCost: 1, pCost: 1 })),
  caught(() => inspect(new Uint8Array([1, 2, 3]))),
];
const wasm = createRequire(import.meta.url).resolve("promptvault/promptvault_wasm_bg.wasm");
initSync({ module: readFileSync(wasm) });
const { vault } = Vault.create("pw", { mCostKib: 19456, tCost: 1, pCost: 1 });
console.log(JSON.stringify({ before, size: vault.size }));
`);
  for (const e of out.before) {
    assert.equal(e?.type, "Error");
    assert.match(e.message, /^promptvault: call and await init\(\)/);
  }
  assert.equal(out.size, 0);
});

test("the node entry needs no init() and loads the web entry's .wasm", () => {
  const out = run(`
import { Vault } from "promptvault";
import init from "promptvault";
await init(); // already initialised: returns at once
const { vault } = Vault.create("pw", { mCostKib: 19456, tCost: 1, pCost: 1 });
console.log(JSON.stringify({ size: vault.size }));
`);
  assert.equal(out.size, 0);
});
