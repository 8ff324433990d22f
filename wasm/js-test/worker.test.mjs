// promptvault/worker + promptvault/worker-host in headless Chromium: a page
// runs a vault in a module Worker through the typed client. The package
// folder is served at /, a test page and worker script at /t/.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { readFile } from "node:fs/promises";
import { join, normalize, dirname, extname } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const pkgDir = join(dirname(fileURLToPath(import.meta.url)), "..");
const PAGES = {
  "/t/index.html": `<!doctype html><html><body><script type="module">
import { createVaultWorker } from "/js/worker.js";
const kdf = { mCostKib: 19456, tCost: 1, pCost: 1 };
const out = {};
const vault = createVaultWorker(new Worker("/t/vault.worker.js", { type: "module" }));
try { await vault.call("promptIds"); } catch (e) { out.locked = { name: e.name, code: e.code }; }
const { recoveryKey, changes } = await vault.create("pw", kdf);
out.recoveryKey = typeof recoveryKey === "string" && recoveryKey.length > 0;
const made = await vault.call("createPrompt", { title: "from the worker", body: "b" }, { tags: ["w"] });
const nv = await vault.call("addVersion", made.promptId, { title: "from the worker", body: "b2" });
out.body = (await vault.call("version", made.promptId, nv.versionId)).body;
out.titles = (await vault.call("list")).map((p) => p.title);
const store = new Map();
for (const r of [...made.changes.puts, ...nv.changes.puts]) store.set(r.key, r.bytes);
const records = [...store.values()];
try { await vault.unlock(changes.header.bytes, records, "wrong"); } catch (e) { out.wrong = { name: e.name, code: e.code, codeName: e.codeName }; }
await vault.unlock(changes.header.bytes, records, "pw");
out.after = (await vault.call("summary", made.promptId)).versionCount;
try { await vault.call("free"); } catch (e) { out.free = e.name; }
await vault.close();
try { await vault.call("list"); } catch (e) { out.closed = e.code; }
vault.terminate();
window.result = out;
</script></body></html>`,
  "/t/vault.worker.js": `import { serveVault } from "/js/worker-host.js"; serveVault();`,
};
const TYPES = { ".html": "text/html", ".js": "text/javascript", ".wasm": "application/wasm" };

let server, browser;
before(async () => {
  server = createServer(async (req, res) => {
    const path = new URL(req.url, "http://x").pathname;
    const type = TYPES[extname(path)] ?? "application/octet-stream";
    if (PAGES[path] !== undefined) return res.writeHead(200, { "content-type": type }).end(PAGES[path]);
    const file = normalize(join(pkgDir, path));
    if (!file.startsWith(pkgDir) || !/^\/(js|pkg)\//.test(path)) return res.writeHead(404).end();
    try {
      res.writeHead(200, { "content-type": type }).end(await readFile(file));
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"],
  });
});

after(async () => {
  await browser?.close();
  server?.close();
});

test("a page runs a vault in a Worker through promptvault/worker", async () => {
  const page = await browser.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.goto(`http://127.0.0.1:${server.address().port}/t/index.html`);
  await page.waitForFunction(() => window.result !== undefined, null, { timeout: 60_000 });
  const out = await page.evaluate(() => window.result);
  assert.deepEqual(out, {
    locked: { name: "PromptVaultError", code: 8 },
    recoveryKey: true,
    body: "b2",
    titles: ["from the worker"],
    wrong: { name: "PromptVaultError", code: 1, codeName: "AUTHENTICATION" },
    after: 2,
    free: "TypeError",
    closed: 8,
  });
  assert.deepEqual(errors, []);
});
