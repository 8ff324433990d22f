// `npm pack` the package, install the tarball into a scratch project, and
// run it from a Node ESM script and from a Vite build (loaded in Chromium).
// The scratch project lives in target/ and keeps its Vite install between
// runs; the tarball is reinstalled every time.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync, existsSync, readdirSync, rmSync } from "node:fs";
import { join, dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { createServer } from "node:http";
import { readFile } from "node:fs/promises";
import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
const pkgDir = resolve(here, "..");
const scratch = resolve(process.env.PV_SCRATCH ?? join(here, "../../target/wasm-scratch"));
const sh = (cmd, args, cwd) =>
  execFileSync(cmd, args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });

let tarball;

before(() => {
  mkdirSync(scratch, { recursive: true });
  for (const f of readdirSync(scratch)) if (f.endsWith(".tgz")) rmSync(join(scratch, f));
  const out = JSON.parse(sh("npm", ["pack", "--json", "--pack-destination", scratch], pkgDir));
  tarball = join(scratch, out[0].filename);
  const files = out[0].files.map((f) => f.path).sort();
  assert.ok(files.includes("pkg/web/promptvault_wasm_bg.wasm"), files.join(" "));
  for (const f of ["js/node.js", "js/node.d.ts", "js/worker.js", "js/worker-host.js", "js/sync.js", "js/sync.d.ts"]) assert.ok(files.includes(f), f);
  // One .wasm serves every entry (the node entry loads the web one).
  assert.deepEqual(files.filter((f) => f.endsWith(".wasm")), ["pkg/web/promptvault_wasm_bg.wasm"]);
  assert.ok(!files.some((f) => f.startsWith("src/") || f.startsWith("js-test/")), "only the build ships");

  if (!existsSync(join(scratch, "package.json"))) {
    writeFileSync(
      join(scratch, "package.json"),
      JSON.stringify({ name: "pv-scratch", private: true, type: "module" }, null, 2),
    );
  }
  const npmi = (...args) => sh("npm", ["install", "--no-audit", "--no-fund", "--loglevel=error", ...args], scratch);
  if (!existsSync(join(scratch, "node_modules/vite/package.json"))) {
    try {
      npmi("-D", "vite@8");
    } catch {
      npmi("-D", "vite@7"); // if vite 8 will not install here
    }
  }
  rmSync(join(scratch, "node_modules/promptvault"), { recursive: true, force: true });
  npmi(tarball);
  assert.ok(existsSync(join(scratch, "node_modules/vite/package.json")), "vite installed");
});

test("the tarball runs from a Node ESM script", () => {
  writeFileSync(
    join(scratch, "node-check.mjs"),
    `import { Vault, inspect, isPromptVaultError, ErrorCode } from "promptvault";
const kdf = { mCostKib: 19456, tCost: 1, pCost: 1 };
const { vault, changes } = Vault.create("pw", kdf);
const made = vault.createPrompt({ title: "from node", body: "hello" }, { tags: ["esm"] });
const records = [...made.changes.puts];
const again = Vault.unlock(changes.header.text, records.map((r) => r.text), "pw");
let code = null;
try { Vault.unlock(changes.header.bytes, records, "wrong"); } catch (e) { code = isPromptVaultError(e) ? e.code : "?"; }
console.log(JSON.stringify({
  title: again.summary(made.promptId).title,
  kind: inspect(changes.header.bytes).kind,
  code, auth: ErrorCode.Authentication,
}));
`,
  );
  const out = JSON.parse(sh("node", ["node-check.mjs"], scratch));
  assert.deepEqual(out, { title: "from node", kind: "vault-header", code: 1, auth: 1 });
});

test("the tarball loads with require() (Node >= 20.19 / 22.12: require of ESM)", () => {
  writeFileSync(
    join(scratch, "require-check.cjs"),
    `const { Vault } = require("promptvault");
const { vault } = Vault.create("pw", { mCostKib: 19456, tCost: 1, pCost: 1 });
console.log(JSON.stringify({ size: vault.size }));
`,
  );
  assert.deepEqual(JSON.parse(sh("node", ["require-check.cjs"], scratch)), { size: 0 });
});

test("the tarball builds with Vite and runs in Chromium", async () => {
  const app = join(scratch, "vite-app");
  mkdirSync(app, { recursive: true });
  writeFileSync(
    join(app, "index.html"),
    `<!doctype html><html><body><p id="out">pending</p><script type="module" src="./main.js"></script></body></html>`,
  );
  writeFileSync(
    join(app, "main.js"),
    `import init, { Vault } from "promptvault";
await init();
const { vault } = Vault.create("pw", { mCostKib: 19456, tCost: 1, pCost: 1 });
const { promptId } = vault.createPrompt({ title: "from vite", body: "a\\nb" });
document.getElementById("out").textContent = "ok:" + vault.summary(promptId).title + ":" + vault.size;
vault.free();
`,
  );
  rmSync(join(app, "dist"), { recursive: true, force: true });
  sh(join(scratch, "node_modules/.bin/vite"), ["build", "--logLevel", "warn", "--target", "esnext"], app);
  const assets = readdirSync(join(app, "dist/assets"));
  assert.ok(assets.some((f) => f.endsWith(".wasm")), `wasm emitted: ${assets}`);

  const server = createServer(async (req, res) => {
    const p = new URL(req.url, "http://x").pathname;
    const file = join(app, "dist", p === "/" ? "index.html" : p);
    try {
      const body = await readFile(file);
      const type = file.endsWith(".wasm")
        ? "application/wasm"
        : file.endsWith(".js")
          ? "text/javascript"
          : "text/html";
      res.writeHead(200, { "content-type": type }).end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  const browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
    ],
  });
  try {
    const page = await browser.newPage();
    const errors = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    await page.goto(`http://127.0.0.1:${server.address().port}/`);
    await page.waitForFunction(() => document.getElementById("out").textContent !== "pending");
    assert.equal(await page.textContent("#out"), "ok:from vite:1");
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
    server.close();
  }
});

after(() => {});
