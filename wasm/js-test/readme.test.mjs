// The README's Node examples run as tests: every ```js block that starts
// with "// Node ESM" is written next to this file and run against the built
// package; its console output must match the values its comments promise.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync, rmSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const readme = readFileSync(join(here, "../README.md"), "utf8");
const blocks = [...readme.matchAll(/```js\n([\s\S]*?)```/g)]
  .map((m) => m[1])
  .filter((b) => b.startsWith("// Node ESM"));

test("the README has a Node example", () => assert.ok(blocks.length >= 1));

blocks.forEach((code, i) => {
  test(`README Node example ${i + 1} runs and prints what its comments say`, () => {
    const file = join(here, `.readme-${i}.mjs`);
    writeFileSync(file, code);
    try {
      const out = execFileSync("node", [file], { encoding: "utf8" });
      // Each `console.log(…); // value` comment states the expected output.
      const promised = [...code.matchAll(/console\.log\(.*\); \/\/ (.+)$/gm)].map((m) => m[1].trim());
      const lines = out.trim().split("\n");
      assert.equal(lines.length, promised.length, out);
      assert.deepEqual(lines, promised);
    } finally {
      rmSync(file, { force: true });
    }
  });
});
