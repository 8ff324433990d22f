// Playwright (playwright-core + Debian's chromium) drives examples/web,
// served on 127.0.0.1, through the story.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { chromium } from "playwright-core";
import { startServer } from "../../examples/web/serve.mjs";

const ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
];
const PASSWORD = "e2e password ✓";
const MARKERS = ["TITLEMARK-7f3a", "BODYMARK-91c2", "EDITMARK-55aa", "TAGMARK-c0de", PASSWORD];

let server, browser, page;
const errors = [];

before(async () => {
  server = await startServer(0);
  browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ARGS });
  page = await (await browser.newContext()).newPage();
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.goto(`${server.url}?kdf=min`);
});

after(async () => {
  await browser?.close();
  await server?.close();
});

/** Every IndexedDB value of the example, as latin1 and UTF-8 text. */
async function dumpIndexedDb() {
  return page.evaluate(async () => {
    const db = await new Promise((res, rej) => {
      const r = indexedDB.open("promptvault-example");
      r.onsuccess = () => res(r.result);
      r.onerror = () => rej(r.error);
    });
    const tx = db.transaction("records", "readonly");
    const st = tx.objectStore("records");
    const [keys, values] = await Promise.all(
      [st.getAllKeys(), st.getAll()].map((r) => new Promise((res) => (r.onsuccess = () => res(r.result)))),
    );
    db.close();
    return keys.map((k, i) => {
      const v = values[i];
      const bytes = v instanceof Uint8Array ? v : new Uint8Array(v);
      return {
        key: String(k),
        type: Object.prototype.toString.call(v),
        size: bytes.length,
        latin1: Array.from(bytes, (b) => String.fromCharCode(b)).join(""),
        utf8: new TextDecoder().decode(bytes),
      };
    });
  });
}

test("create a vault and add a prompt", async () => {
  await page.locator("#create").waitFor({ state: "visible" });
  await page.fill("#password", PASSWORD);
  await page.click("#create");
  await page.locator("#app").waitFor({ state: "visible" });
  assert.match(await page.textContent("#recovery"), /Recovery key .*[0-9A-Z]{8}-[0-9A-Z]{8}/);
  await page.fill("#title", "TITLEMARK-7f3a lighthouse");
  await page.fill("#body", "BODYMARK-91c2 a lighthouse in a storm");
  await page.fill("#tags", "art, TAGMARK-c0de");
  await page.click("#save");
  await page.locator("#prompts li").first().waitFor();
  assert.equal(await page.locator("#prompts li").count(), 1);
  assert.match(await page.textContent("#prompts li"), /TITLEMARK-7f3a lighthouse \(1\)/);
});

test("edit it and see 2 versions with a diff", async () => {
  await page.fill("#body", "BODYMARK-91c2 a lighthouse in a storm\nEDITMARK-55aa at night");
  await page.fill("#note", "darker");
  await page.click("#save");
  await page.locator("#history li.version").nth(1).waitFor();
  assert.equal(await page.locator("#history li.version").count(), 2);
  assert.match(await page.textContent("#prompts li"), /\(2\)/);
  assert.equal(await page.locator("#diff .insert", { hasText: "EDITMARK-55aa at night" }).count(), 1);
  assert.equal(await page.locator("#diff .delete", { hasText: "EDITMARK" }).count(), 0);
});

test("tag, favorite and search", async () => {
  await page.fill("#new-tag", "night");
  await page.click("#add-tag");
  await page.locator("#prompt-tags .tag", { hasText: "night" }).waitFor();
  await page.click("#favorite");
  await page.locator("#favorite", { hasText: "★" }).waitFor();
  await page.check("#fav-only");
  await page.locator("#prompts li", { hasText: "★" }).waitFor();
  await page.uncheck("#fav-only");
  await page.fill("#search", "no such text anywhere");
  await page.waitForFunction(() => document.querySelectorAll("#prompts li").length === 0);
  await page.fill("#search", "editmark");
  await page.waitForFunction(() => document.querySelectorAll("#prompts li").length === 1);
  await page.fill("#search", "");
});

test("reload, a wrong password shows a readable error, the right one unlocks", async () => {
  await page.reload();
  await page.locator("#unlock").waitFor({ state: "visible" });
  await page.fill("#password", "not the password");
  await page.click("#unlock");
  await page.locator("#error", { hasText: "wrong password" }).waitFor();
  const err = await page.textContent("#error");
  assert.match(err, /wrong password or key.*\(AUTHENTICATION\)/);
  assert.equal(await page.isVisible("#app"), false);

  await page.fill("#password", PASSWORD);
  await page.click("#unlock");
  await page.locator("#app").waitFor({ state: "visible" });
  assert.equal(await page.textContent("#error"), "");
  await page.locator("#prompts li").first().waitFor();
  assert.match(await page.textContent("#prompts li"), /★ TITLEMARK-7f3a lighthouse \(2\)/);
  await page.click("#prompts li");
  await page.locator("#history li.version").nth(1).waitFor();
  assert.equal(await page.locator("#history li.version").count(), 2);
});

test("IndexedDB holds ciphertext only (no marker, no password)", async () => {
  const rows = await dumpIndexedDb();
  // header + item key + metadata + 2 versions, at least.
  assert.ok(rows.length >= 5, `records stored: ${rows.length}`);
  assert.ok(rows.some((r) => r.key === "header"));
  for (const r of rows) {
    assert.equal(r.type, "[object Uint8Array]", r.key);
    assert.ok(r.latin1.startsWith("PVLT"), `${r.key} is a sealed record`);
    for (const m of MARKERS) {
      assert.ok(!r.latin1.includes(m) && !r.utf8.includes(m), `${r.key} leaks ${m}`);
      assert.ok(!r.key.includes(m), `key ${r.key} leaks ${m}`);
    }
  }
});

test("lock again", async () => {
  await page.click("#lock");
  await page.locator("#unlock").waitFor({ state: "visible" });
  assert.equal(await page.isVisible("#app"), false);
  assert.equal(await page.locator("#prompts li").count(), 0);
  assert.deepEqual(errors, []);
});
