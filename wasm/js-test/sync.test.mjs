// Sync under Node through the real reference server: two devices of one
// account, the package's fetch driver (promptvault/sync) and nothing else.
// Device A signs up and pushes; device B logs in and downloads; both edit
// the same prompt and add prompts while A is offline; both sync and must
// hold the same prompts and every version written anywhere.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";

import { ErrorCode, Store, SyncRun, SyncState, Vault, challengeRequest, preloginRequest, readSession } from "promptvault";
import { download, login, register, sync } from "promptvault/sync";
import { startSyncServer } from "./sync-server.mjs";

const FAST = { mCostKib: 19456, tCost: 1, pCost: 1 };
const PASSWORD = "sync password ✓";
const ACCOUNT = `node-${process.pid}`;

let server;
before(async () => {
  server = await startSyncServer();
});
after(async () => {
  await server?.close();
});

/** A device: an unlocked vault, its store and sync state, and what it persisted. */
function device(name, vault, store, state) {
  const d = { name, vault, store, state, saved: null, persists: 0 };
  // What an app does at each persist point: save the store, then the state.
  // Reloading both from the saved bytes checks they round-trip.
  d.onPersist = ({ store: s, state: st }) => {
    d.saved = { bundle: s.toBundle(), state: st.toBytes() };
    d.persists++;
  };
  // A local edit: applied to the store, which the app saves as well.
  d.edit = (changes) => {
    d.store.apply(changes);
    if (d.saved) d.saved.bundle = d.store.toBundle();
  };
  d.reload = () => {
    d.store.free();
    d.state.free();
    d.store = Store.fromBundle(d.saved.bundle);
    d.state = SyncState.fromBytes(d.saved.state);
  };
  d.sync = (extra = {}) =>
    sync({ server: server.url, token: d.token, vault: d.vault, store: d.store, state: d.state, onPersist: d.onPersist, ...extra });
  return d;
}

/** Every prompt with its whole history, as a device shows it. */
function everything(d) {
  const list = d.vault.list({ archived: "include" });
  return list
    .map((s) => ({
      id: s.id,
      title: s.title,
      current: s.currentVersion,
      history: d.vault.history(s.id).map((v) => `${v.id}|${v.title}|${d.vault.version(s.id, v.id).body}`),
    }))
    .sort((a, b) => a.id.localeCompare(b.id));
}

const offline = async () => {
  throw new TypeError("fetch failed (offline)");
};

test("two devices of one account converge through the server, offline edits and a conflict included", async () => {
  // A: create, sign up, add two prompts, sync (pushes everything).
  const made = Vault.create(PASSWORD, FAST);
  const a = device("A", made.vault, new Store(), new SyncState());
  a.edit(made.changes);
  const sessionA = await register({ server: server.url, account: ACCOUNT, password: PASSWORD, vault: a.vault });
  a.token = sessionA.token;
  assert.equal(sessionA.vaultId, a.vault.id);
  const p1 = a.vault.createPrompt({ title: "Lighthouse", body: "a lighthouse in a storm" }, { tags: ["art"] }, 1_700_000_000_000);
  a.edit(p1.changes);
  const p2 = a.vault.createPrompt({ title: "Haiku bot", body: "answer only in haiku" }, {}, 1_700_000_001_000);
  a.edit(p2.changes);
  let r = await a.sync();
  assert.ok(r.commits >= 1 && r.pushed >= 4, JSON.stringify(r));
  assert.ok(a.persists >= 1);
  assert.equal(a.state.cursor, r.cursor);
  a.reload(); // the persisted store and state are what the next sync uses

  // B: a fresh device, same account and password: log in, download, sync.
  const sessionB = await login({ server: server.url, account: ACCOUNT, password: PASSWORD });
  assert.equal(sessionB.vaultId, a.vault.id);
  const got = await download({ server: server.url, session: sessionB, password: PASSWORD });
  const b = device("B", got.vault, got.store, got.state);
  b.token = sessionB.token;
  r = await b.sync();
  assert.equal(r.commits, 0, JSON.stringify(r));
  assert.deepEqual(everything(b), everything(a));

  // A goes offline; both edit the same prompt and add one.
  const versions = new Set();
  for (const d of [a, b]) for (const p of everything(d)) for (const h of p.history) versions.add(h);
  const va = a.vault.addVersion(p1.promptId, { title: "Lighthouse", body: "a lighthouse in a storm, at night (A)" }, 1_700_000_002_000);
  a.edit(va.changes);
  const pa = a.vault.createPrompt({ title: "From A", body: "written offline on A" }, {}, 1_700_000_003_000);
  a.edit(pa.changes);
  const vb = b.vault.addVersion(p1.promptId, { title: "Lighthouse (B)", body: "a lighthouse in fog (B)" }, 1_700_000_004_000);
  b.edit(vb.changes);
  const pb = b.vault.createPrompt({ title: "From B", body: "written on B" }, {}, 1_700_000_005_000);
  b.edit(pb.changes);

  // A's sync fails while offline: a TRANSPORT error, nothing lost locally.
  const before = a.store.toBundle();
  await assert.rejects(a.sync({ fetch: offline }), (e) => e.name === "PromptVaultError" && e.code === ErrorCode.Transport);
  assert.deepEqual(a.store.toBundle(), before);
  assert.equal(a.vault.size, 3);

  // B syncs first (online); A comes back and meets B's edit of the same
  // prompt: the core merges it; then B takes A's changes.
  r = await b.sync();
  assert.ok(r.commits >= 1, JSON.stringify(r));
  a.reload();
  const ra = await a.sync();
  assert.ok(ra.conflictsResolved >= 1, `A merged the diverged prompt: ${JSON.stringify(ra)}`);
  assert.ok(ra.versionsAdded >= 1 && ra.promptsAdded >= 1, JSON.stringify(ra));
  const rb = await b.sync();
  assert.ok(rb.versionsAdded >= 1 && rb.promptsAdded >= 1, JSON.stringify(rb));
  // Nothing left to move: two syncs in a row, the second moves nothing.
  await a.sync();
  const quiet = await a.sync();
  assert.equal(quiet.pushed + quiet.pulled + quiet.commits, 0, JSON.stringify(quiet));

  // Converged, with every version written anywhere.
  const all = everything(a);
  assert.deepEqual(everything(b), all);
  for (const t of ["From A", "From B", "Haiku bot"]) assert.ok(all.some((p) => p.title === t), t);
  assert.equal(all.length, 4);
  const light = all.find((p) => p.id === p1.promptId);
  assert.equal(light.history.length, 3);
  const bodies = light.history.map((h) => h.split("|")[2]);
  assert.deepEqual(new Set(bodies), new Set(["a lighthouse in a storm", "a lighthouse in a storm, at night (A)", "a lighthouse in fog (B)"]));
  for (const v of [va.versionId, vb.versionId]) assert.ok(light.history.some((h) => h.startsWith(v)), `version ${v} kept`);
  for (const old of versions) assert.ok(all.some((p) => p.history.includes(old)), `old version kept: ${old}`);
  for (const id of [pa.promptId, pb.promptId, p2.promptId]) assert.ok(all.some((p) => p.id === id));
  assert.equal(a.state.cursor, b.state.cursor);

  for (const d of [a, b]) {
    d.vault.free();
    d.store.free();
    d.state.free();
  }
});

test("refusals come back as typed errors with the server's status and code", async () => {
  await assert.rejects(login({ server: server.url, account: ACCOUNT, password: "not the password" }), (e) => {
    assert.equal(e.code, ErrorCode.ServerRefused);
    assert.equal(e.codeName, "SERVER_REFUSED");
    assert.equal(e.httpStatus, 401);
    assert.equal(e.serverCode, "authentication_failed");
    return true;
  });
  const made = Vault.create(PASSWORD, FAST);
  const store = new Store();
  store.apply(made.changes);
  const state = new SyncState();
  await assert.rejects(
    sync({ server: server.url, token: "A".repeat(43), vault: made.vault, store, state }),
    (e) => e.code === ErrorCode.ServerRefused && e.httpStatus === 401 && e.serverCode === "unauthorized",
  );
  // Registering a taken name.
  await assert.rejects(
    register({ server: server.url, account: ACCOUNT, password: PASSWORD, vault: made.vault }),
    (e) => e.code === ErrorCode.ServerRefused && e.httpStatus === 409 && e.serverCode === "account_exists",
  );
  // Nothing listening: TRANSPORT.
  await assert.rejects(
    login({ server: "http://127.0.0.1:9", account: ACCOUNT, password: PASSWORD }),
    (e) => e.code === ErrorCode.Transport && e.codeName === "TRANSPORT",
  );
  made.vault.free();
  store.free();
  state.free();
});

test("the binding's conversions refuse bad input with typed errors", () => {
  const made = Vault.create(PASSWORD, FAST);
  const store = new Store();
  const code = (fn) => {
    try {
      fn();
    } catch (e) {
      assert.equal(e.name, "PromptVaultError", String(e));
      return e.codeName;
    }
    return "no error";
  };
  assert.equal(code(() => store.apply(42)), "INVALID_INPUT");
  assert.equal(code(() => store.apply({ puts: [new Uint8Array([1, 2, 3])] })), "MALFORMED");
  assert.equal(store.size, 0); // a refused changeset changes nothing
  assert.equal(code(() => store.toBundle()), "MISSING_RECORD");
  store.apply(made.changes);
  assert.equal(store.header().key, made.changes.header.key);
  assert.deepEqual(Store.fromBundle(store.toBundle()).toBundle(), store.toBundle());
  assert.equal(code(() => Store.fromBundle(new Uint8Array([0, 1]))), "MALFORMED");
  assert.equal(code(() => SyncState.fromBytes(new TextEncoder().encode("{nope"))), "ENCODING");
  assert.equal(code(() => challengeRequest("alice", "sudo")), "INVALID_INPUT");
  const pre = preloginRequest("alice");
  assert.deepEqual({ method: pre.method, path: pre.path, body: JSON.parse(new TextDecoder().decode(pre.body)) }, {
    method: "POST",
    path: "/v1/prelogin",
    body: { account: "alice" },
  });
  assert.equal(code(() => readSession({ status: 200, body: "{}" })), "TRANSPORT");
  assert.equal(code(() => readSession({ status: 503, body: "" })), "TRANSPORT");

  const state = new SyncState();
  const run = new SyncRun(made.vault, state);
  const step = run.step;
  assert.equal(step.done, false);
  assert.equal(step.request.path, "/v1/pull");
  assert.deepEqual(JSON.parse(new TextDecoder().decode(step.request.body)), { after: 0 });
  assert.equal(code(() => run.resume(made.vault, store, state, { status: "200", body: "" })), "INVALID_INPUT");
  assert.equal(code(() => run.resume(made.vault, store, state, { status: 200 })), "INVALID_INPUT");
  assert.equal(code(() => run.resume(made.vault, store, state, { status: 200, body: "not json" })), "TRANSPORT");
  // An empty vault on the server: nothing after cursor 0, then the push.
  const next = run.resume(made.vault, store, state, { status: 200, body: '{"status":"changes","changes":[],"cursor":0,"more":false}' });
  assert.equal(next.done, false);
  assert.equal(next.request.path, "/v1/commit");
  assert.equal(next.persist, true);
  made.vault.lock();
  assert.equal(code(() => new SyncRun(made.vault, state)), "INVALID_INPUT");
  run.free();
  store.free();
  state.free();
});
