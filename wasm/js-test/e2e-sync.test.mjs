// Playwright (playwright-core + Debian's chromium): examples/web on two
// devices of one account — two browser contexts, each with its own
// IndexedDB — syncing through the real reference server, which
// examples/web/serve.mjs proxies from the page's own origin. Device A goes
// offline (context.setOffline), both edit the same prompt and add one, A
// comes back, both sync and must show the same prompts and every version.
// A screenshot of each page is saved in $PV_TEST_OUTPUT (default
// wasm/test-output/), printed at the end.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { startServer } from "../../examples/web/serve.mjs";
import { startSyncServer } from "./sync-server.mjs";

const ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"];
const OUT = process.env.PV_TEST_OUTPUT ?? join(dirname(fileURLToPath(import.meta.url)), "../test-output");
const ACCOUNT = `web-${process.pid}`;
const PASSWORD = "two devices ✓";
const MARKERS = ["STORMMARK-1a2b", "NIGHTMARK-3c4d", "FOGMARK-5e6f", PASSWORD];

let web, api, browser;
const devices = {};
const errors = [];

before(async () => {
  web = await startServer(0);
  api = await startSyncServer({ origin: new URL(web.url).origin });
  web.setApi(api.url);
  browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ARGS });
  for (const name of ["A", "B"]) {
    const context = await browser.newContext({ viewport: { width: 1100, height: 900 } });
    const page = await context.newPage();
    page.on("pageerror", (e) => errors.push(`${name}: ${e}`));
    await page.goto(`${web.url}?kdf=min`);
    devices[name] = { context, page };
  }
});

after(async () => {
  await browser?.close();
  await web?.close();
  await api?.close();
});

const syncState = (page, state) => page.locator(`#sync-state[data-state="${state}"]`).waitFor({ timeout: 30_000 });

async function save(page, { title, body }) {
  await page.fill("#title", title);
  await page.fill("#body", body);
  await page.click("#save");
}

async function addPrompt(page, prompt) {
  await page.click("#new");
  await save(page, prompt);
  await page.locator("#prompts li", { hasText: prompt.title }).first().waitFor();
}

async function editPrompt(page, match, prompt) {
  await page.locator("#prompts li", { hasText: match }).first().click();
  // Selected once the list is redrawn, after the detail and history are.
  await page.locator("#prompts li.selected", { hasText: match }).waitFor();
  const before = await page.locator("#history li.version").count();
  await save(page, prompt);
  await page.waitForFunction((n) => document.querySelectorAll("#history li.version").length === n + 1, before);
}

/** What a device shows: every prompt (title and version count) and the Lighthouse prompt's history titles. */
async function shown(page) {
  const list = (await page.locator("#prompts li").allTextContents()).map((t) => t.trim()).sort();
  await page.locator("#prompts li", { hasText: "Lighthouse" }).first().click();
  await page.locator("#prompts li.selected", { hasText: "Lighthouse" }).waitFor();
  const history = (await page.locator("#history li.version").allTextContents()).map((t) => t.replace(/^.* — /, "").replace(" (current)", "")).sort();
  return { list, history };
}

test("A signs up and pushes a prompt", async () => {
  const { page } = devices.A;
  await page.locator("#create").waitFor({ state: "visible" });
  await page.fill("#account", ACCOUNT);
  await page.fill("#password", PASSWORD);
  await page.click("#create");
  await page.locator("#app").waitFor({ state: "visible" });
  await syncState(page, "synced");
  await addPrompt(page, { title: "Lighthouse", body: "STORMMARK-1a2b a lighthouse in a storm" });
  await syncState(page, "pending offline edits");
  await page.click("#sync");
  await syncState(page, "synced");
  assert.match(await page.textContent("#sync-detail"), new RegExp(`${ACCOUNT} · cursor [1-9]`));
});

test("B logs in on a second device and downloads the vault", async () => {
  const { page } = devices.B;
  await page.locator("#login").waitFor({ state: "visible" });
  await page.fill("#account", ACCOUNT);
  await page.fill("#password", PASSWORD);
  await page.click("#login");
  await page.locator("#app").waitFor({ state: "visible" });
  await syncState(page, "synced");
  await page.locator("#prompts li", { hasText: "Lighthouse (1)" }).waitFor();
});

test("A offline and B online both edit the same prompt and add one", async () => {
  const a = devices.A.page;
  const b = devices.B.page;
  await devices.A.context.setOffline(true);
  await editPrompt(a, "Lighthouse", { title: "Lighthouse (A)", body: "STORMMARK-1a2b a lighthouse in a storm\nNIGHTMARK-3c4d at night" });
  await addPrompt(a, { title: "From A", body: "written offline on A" });
  await a.click("#sync");
  await a.locator("#sync-detail", { hasText: "server unreachable" }).waitFor();
  await syncState(a, "pending offline edits");

  await editPrompt(b, "Lighthouse", { title: "Lighthouse (B)", body: "FOGMARK-5e6f a lighthouse in fog" });
  await addPrompt(b, { title: "From B", body: "written on B" });
  await syncState(b, "pending offline edits");
  await b.click("#sync");
  await syncState(b, "synced");
});

test("A comes back online: both sync, the conflict is merged, and both converge with no version lost", async () => {
  const a = devices.A.page;
  const b = devices.B.page;
  await devices.A.context.setOffline(false);
  await a.click("#sync");
  await syncState(a, "conflict merged");
  assert.match(await a.textContent("#sync-detail"), /[1-9]\d* merged/);
  await b.click("#sync");
  await syncState(b, "synced");

  const onA = await shown(a);
  const onB = await shown(b);
  assert.deepEqual(onA, onB);
  assert.equal(onA.list.length, 3, onA.list.join(" | "));
  assert.ok(onA.list.some((t) => /^From A \(1\)$/.test(t)), onA.list.join(" | "));
  assert.ok(onA.list.some((t) => /^From B \(1\)$/.test(t)), onA.list.join(" | "));
  assert.ok(onA.list.some((t) => /^Lighthouse.* \(3\)$/.test(t)), onA.list.join(" | "));
  assert.deepEqual(onA.history, ["Lighthouse", "Lighthouse (A)", "Lighthouse (B)"]);
  assert.equal(await a.textContent("#sync-detail").then((t) => /cursor (\d+)/.exec(t)[1]), await b.textContent("#sync-detail").then((t) => /cursor (\d+)/.exec(t)[1]));

  mkdirSync(OUT, { recursive: true });
  for (const [name, { page }] of Object.entries(devices)) {
    await page.screenshot({ path: join(OUT, `sync-device-${name.toLowerCase()}.png`), fullPage: true });
  }
  console.log(`screenshots: ${join(OUT, "sync-device-a.png")} ${join(OUT, "sync-device-b.png")}`);
});

test("the cursor and the sync state persist in IndexedDB (ciphertext only) and survive a reload", async () => {
  const a = devices.A.page;
  const stored = await a.evaluate(async () => {
    const db = await new Promise((res, rej) => {
      const r = indexedDB.open("promptvault-example");
      r.onsuccess = () => res(r.result);
      r.onerror = () => rej(r.error);
    });
    const get = (store, fn) =>
      new Promise((res) => {
        const req = fn(db.transaction(store, "readonly").objectStore(store));
        req.onsuccess = () => res(req.result);
      });
    const state = await get("sync", (s) => s.get("state"));
    const records = await get("records", (s) => s.getAll());
    db.close();
    const latin1 = (b) => Array.from(b, (x) => String.fromCharCode(x)).join("");
    return { state: new TextDecoder().decode(state), isBytes: state instanceof Uint8Array, records: records.map(latin1) };
  });
  assert.ok(stored.isBytes);
  const state = JSON.parse(stored.state);
  const cursor = /cursor (\d+)/.exec(await a.textContent("#sync-detail"))[1];
  assert.equal(String(state.cursor), cursor);
  assert.ok(Object.keys(state.rows).length >= 8, "what A saw the server hold");
  for (const r of stored.records) {
    assert.ok(r.startsWith("PVLT"));
    for (const m of MARKERS) assert.ok(!r.includes(m), `a record leaks ${m}`);
  }
  for (const m of MARKERS) assert.ok(!stored.state.includes(m), `the sync state leaks ${m}`);

  await a.reload();
  await a.locator("#unlock").waitFor({ state: "visible" });
  await a.fill("#password", PASSWORD);
  await a.click("#unlock");
  await a.locator("#app").waitFor({ state: "visible" });
  // The sync state shown is the persisted one: same cursor, same outcome.
  await syncState(a, "conflict merged");
  assert.match(await a.textContent("#sync-detail"), new RegExp(`cursor ${cursor}\\b`));
  await a.click("#sync");
  await syncState(a, "conflict merged");
  assert.match(await a.textContent("#sync-detail"), new RegExp(`cursor ${cursor}\\b`));
  assert.equal(await a.locator("#prompts li").count(), 3);
  assert.deepEqual(errors, []);
});
