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
import { request as httpRequest } from "node:http";
import { startSyncServer } from "./sync-server.mjs";

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
  // Two workers, two devices of one account, syncing through the real
  // server (proxied at /v1/ from this origin).
  "/t/sync.html": `<!doctype html><html><body><script type="module">
import { createVaultWorker } from "/js/worker.js";
const kdf = { mCostKib: 19456, tCost: 1, pCost: 1 };
const server = location.origin;
const account = new URLSearchParams(location.search).get("account");
const out = { persisted: { a: 0, b: 0 } };
const device = (name) => {
  const d = { vault: createVaultWorker(new Worker("/t/vault.worker.js", { type: "module" })), state: null, saved: null };
  d.onPersist = (snap) => {
    out.persisted[name]++;
    d.state = snap.state;
    d.saved = snap;
  };
  d.sync = () => d.vault.sync({ server, token: d.token, state: d.state, onPersist: d.onPersist });
  return d;
};
const a = device("a");
const b = device("b");
await a.vault.create("pw", kdf);
a.token = (await a.vault.register({ server, account, password: "pw" })).token;
const p = await a.vault.call("createPrompt", { title: "shared", body: "v1" });
out.first = await a.sync();
const session = await b.vault.login({ server, account, password: "pw" });
b.token = session.token;
const got = await b.vault.download({ server, session, password: "pw" });
b.state = got.state;
out.downloaded = got.records.length;
await a.vault.call("addVersion", p.promptId, { title: "shared", body: "from a" });
await b.vault.call("addVersion", p.promptId, { title: "shared", body: "from b" });
await b.vault.call("createPrompt", { title: "only b", body: "b" });
await b.sync();
out.merged = await a.sync();
await b.sync();
const view = async (d) => ({
  titles: (await d.vault.call("list")).map((s) => s.title).sort(),
  bodies: await Promise.all((await d.vault.call("history", p.promptId)).map(async (v) => (await d.vault.call("version", p.promptId, v.id)).body)),
});
out.a = await view(a);
out.b = await view(b);
out.savedRecords = a.saved.records.length;
out.stateIsBytes = a.state instanceof Uint8Array;
try { await a.vault.sync({ server, token: "A".repeat(43), state: a.state }); } catch (e) { out.refused = [e.codeName, e.httpStatus, e.serverCode]; }
a.vault.terminate();
b.vault.terminate();
window.result = out;
</script></body></html>`,
};
const TYPES = { ".html": "text/html", ".js": "text/javascript", ".wasm": "application/wasm" };

let server, browser, api;
before(async () => {
  server = createServer(async (req, res) => {
    const path = new URL(req.url, "http://x").pathname;
    if (path.startsWith("/v1/")) {
      // The sync API from this origin (no CORS): forwarded to the server.
      const target = new URL(req.url, api.url);
      const up = httpRequest(target, { method: req.method, headers: { ...req.headers, host: target.host } }, (r) => {
        res.writeHead(r.statusCode, r.headers);
        r.pipe(res);
      });
      up.on("error", () => res.writeHead(502).end());
      return req.pipe(up);
    }
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
  api = await startSyncServer({ origin: `http://127.0.0.1:${server.address().port}` });
  browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"],
  });
});

after(async () => {
  await browser?.close();
  server?.close();
  await api?.close();
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

test("two Workers sync one account through promptvault/worker (login, register, download, sync, persist)", async () => {
  const page = await browser.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.goto(`http://127.0.0.1:${server.address().port}/t/sync.html?account=worker-${process.pid}`);
  await page.waitForFunction(() => window.result !== undefined, null, { timeout: 60_000 });
  const out = await page.evaluate(() => window.result);
  assert.ok(out.first.commits >= 1 && out.first.pushed >= 3, JSON.stringify(out.first));
  assert.ok(out.downloaded >= 3, JSON.stringify(out));
  assert.ok(out.merged.conflictsResolved >= 1, JSON.stringify(out.merged));
  assert.deepEqual(out.a, out.b);
  assert.deepEqual(out.a.titles.length, 2);
  assert.ok(out.a.titles.includes("only b"));
  assert.deepEqual(new Set(out.a.bodies), new Set(["v1", "from a", "from b"]));
  assert.ok(out.persisted.a >= 2 && out.persisted.b >= 1, JSON.stringify(out.persisted));
  assert.ok(out.savedRecords >= 5 && out.stateIsBytes, JSON.stringify(out));
  assert.deepEqual(out.refused, ["SERVER_REFUSED", 401, "unauthorized"]);
  assert.deepEqual(errors, []);
});
