// The whole vault lives here, in a dedicated Web Worker: Argon2id (64 MiB by
// default) grows this worker's wasm memory, not the page's, and unlocking
// never freezes the page. Keys never leave this worker; the page receives
// only what it displays (see wasm/README.md, "What crosses to the page").
// Persistence is here too: every changeset goes to IndexedDB in one
// transaction, so only ciphertext is ever stored.
//
// Sync: the package's driver (promptvault/sync, served at /js/sync.js) runs
// the core's requests over fetch against this page's own origin, which
// proxies /v1/ to the sync server (examples/web/serve.mjs). At every step
// the core says to persist, the store's records and the sync state (cursor
// and what this device saw the server hold) go to IndexedDB in one
// transaction.
import init, { Store, SyncState, Vault } from "/pkg/web/promptvault_wasm.js";
import { download, login, register, sync } from "/js/sync.js";

const DB = "promptvault-example";
const RECORDS = "records"; // storage key → sealed record bytes (ciphertext)
const SYNC = "sync"; // "state" (blob), "session", "seen", "dirty", "last"
const HEADER = "header";
const SERVER = self.location.origin; // same origin: serve.mjs proxies /v1/
const ready = init();
/** @type {Vault | null} */
let vault = null;
/** @type {Store | null} the records of `vault`, as IndexedDB holds them */
let store = null;

function openDb() {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(DB, 2);
    req.onupgradeneeded = () => {
      for (const name of [RECORDS, SYNC]) {
        if (!req.result.objectStoreNames.contains(name)) req.result.createObjectStore(name);
      }
    };
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

/** Runs `fill(stores)` in one readwrite (or readonly) transaction over both stores. */
async function transact(mode, fill) {
  const db = await openDb();
  try {
    return await new Promise((resolve, reject) => {
      const tx = db.transaction([RECORDS, SYNC], mode);
      const out = fill({ records: tx.objectStore(RECORDS), sync: tx.objectStore(SYNC) });
      tx.oncomplete = () => resolve(out);
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error);
    });
  } finally {
    db.close();
  }
}

const read = (req) => ({ get value() { return req.result; } });

async function loadAll() {
  const got = await transact("readonly", ({ records, sync: s }) => ({
    keys: read(records.getAllKeys()),
    values: read(records.getAll()),
    session: read(s.get("session")),
    seen: read(s.get("seen")),
  }));
  let header = null;
  const list = [];
  got.keys.value.forEach((k, i) => {
    if (k === HEADER) header = got.values.value[i];
    else list.push(got.values.value[i]);
  });
  return { header, records: list, session: got.session.value ?? null, seen: got.seen.value ?? null };
}

async function getSync(key) {
  const r = await transact("readonly", ({ sync: s }) => read(s.get(key)));
  return r.value ?? null;
}

/** A local edit: the changeset in one transaction, marked as not yet on the server. */
async function persist(changes) {
  store.apply(changes);
  await transact("readwrite", ({ records, sync: s }) => {
    if (changes.header) records.put(changes.header.bytes, HEADER);
    for (const r of changes.puts) records.put(r.bytes, r.key);
    for (const k of changes.deletes) records.delete(k);
    s.put(true, "dirty");
    s.put(vault.seenRevisions(), "seen");
  });
}

/** A sync step to keep: every record of the store and the sync state, in one transaction. */
async function persistSync({ store: st, state }, extra = {}) {
  const header = st.header();
  const all = st.records();
  const blob = state.toBytes();
  await transact("readwrite", ({ records, sync: s }) => {
    records.clear();
    if (header) records.put(header.bytes, HEADER);
    for (const r of all) records.put(r.bytes, r.key);
    s.put(blob, "state");
    if (vault) s.put(vault.seenRevisions(), "seen");
    for (const [k, v] of Object.entries(extra)) s.put(v, k);
  });
}

function need() {
  if (!vault) throw Object.assign(new Error("the vault is locked"), { codeName: "LOCKED" });
  return vault;
}

function detail(id) {
  const v = need();
  return { summary: v.summary(id), current: v.version(id), history: v.history(id) };
}

/** What the page shows about sync. */
async function syncInfo() {
  const got = await transact("readonly", ({ sync: s }) => ({
    session: read(s.get("session")),
    dirty: read(s.get("dirty")),
    last: read(s.get("last")),
    state: read(s.get("state")),
  }));
  const session = got.session.value;
  if (!session) return { state: "local only", account: null };
  let cursor = 0;
  if (got.state.value) {
    const st = SyncState.fromBytes(got.state.value);
    cursor = st.cursor;
    st.free();
  }
  const last = got.last.value ?? null;
  const state = got.dirty.value ? "pending offline edits" : last?.merged ? "conflict merged" : "synced";
  return { state, account: session.account, cursor, last };
}

/** One sync of the open vault; a server that cannot be reached leaves the edits pending. */
async function runSync() {
  const session = await getSync("session");
  if (!session || !vault) return syncInfo();
  const blob = await getSync("state");
  const state = blob ? SyncState.fromBytes(blob) : new SyncState();
  try {
    const report = await sync({
      server: SERVER,
      token: session.token,
      vault,
      store,
      state,
      onPersist: (point) => persistSync(point),
    });
    // A sync that moved nothing keeps the last one that did (and so
    // "conflict merged" stays until a later sync moves something).
    const before = (await getSync("last")) ?? {};
    const quiet = report.pulled === 0 && report.pushed === 0 && report.deleted === 0;
    const merged = report.conflictsResolved > 0 || report.conflicts > 0;
    const last = quiet && before.report ? { ...before, offline: false } : { merged, report, offline: false };
    await transact("readwrite", ({ sync: s }) => {
      s.put(false, "dirty");
      s.put(last, "last");
    });
  } catch (e) {
    if (e?.codeName !== "TRANSPORT") throw e;
    const last = (await getSync("last")) ?? {};
    await transact("readwrite", ({ sync: s }) => s.put({ ...last, offline: true }, "last"));
  } finally {
    state.free();
  }
  return syncInfo();
}

const ops = {
  async status() {
    const { header, session } = await loadAll();
    return { exists: header !== null, unlocked: vault !== null, account: session?.account ?? null };
  },
  async create({ password, kdf, account }) {
    const created = Vault.create(password, kdf ?? undefined);
    let session = null;
    if (account) {
      // Sign up: the account is registered with the vault's header (its
      // records follow by the first sync) before anything is stored here.
      try {
        session = await register({ server: SERVER, account, password, vault: created.vault });
      } catch (e) {
        created.vault.free();
        throw e;
      }
    }
    vault = created.vault;
    store = new Store();
    await persist(created.changes);
    if (session) {
      await transact("readwrite", ({ sync: s }) => s.put({ account, token: session.token, vaultId: session.vaultId }, "session"));
      await runSync();
    }
    // Shown once by the page; stored nowhere.
    return { recoveryKey: created.recoveryKey, sync: await syncInfo() };
  },
  async login({ account, password }) {
    // A device without the vault: log in, pull everything, open it.
    const session = await login({ server: SERVER, account, password });
    const got = await download({ server: SERVER, session, password });
    vault = got.vault;
    store = got.store;
    await persistSync(got, { session: { account, token: session.token, vaultId: session.vaultId }, dirty: false, last: { merged: false, offline: false } });
    got.state.free();
    return { size: vault.size, sync: await syncInfo() };
  },
  async unlock({ password }) {
    const { header, records, session, seen } = await loadAll();
    if (header === null) throw new Error("no vault here yet; create one");
    vault = Vault.unlock(header, records, password, seen ?? undefined);
    store = new Store();
    store.apply({ header, puts: records, deletes: [] });
    if (session) {
      // A fresh session while the password is at hand; offline, the old one stays.
      try {
        const next = await login({ server: SERVER, account: session.account, password });
        await transact("readwrite", ({ sync: s }) => s.put({ ...session, token: next.token }, "session"));
      } catch {
        // Offline, or refused: the stored session stays; a sync says more.
      }
    }
    return { size: vault.size, sync: await syncInfo() };
  },
  async lock() {
    vault?.free(); // zeroizes every key now, without waiting for the GC
    store?.free();
    vault = null;
    store = null;
    return {};
  },
  async sync() {
    need();
    return runSync();
  },
  async syncInfo() {
    return syncInfo();
  },
  async list({ text, favoritesOnly }) {
    return need().list({ text: text || null, favoritesOnly: !!favoritesOnly, archived: "exclude" });
  },
  async tags() {
    return need().tags();
  },
  async get({ id }) {
    return detail(id);
  },
  async add({ title, body, tags }) {
    const made = need().createPrompt({ title, body }, { tags });
    await persist(made.changes);
    return detail(made.promptId);
  },
  async edit({ id, title, body, note }) {
    const next = need().addVersion(id, { title, body, note: note ?? "" });
    await persist(next.changes);
    return detail(id);
  },
  async version({ id, versionId }) {
    return need().version(id, versionId);
  },
  async diff({ id, from, to }) {
    return need().diff(id, from, to);
  },
  async addTags({ id, tags }) {
    await persist(need().addTags(id, tags));
    return detail(id);
  },
  async removeTag({ id, tag }) {
    await persist(need().removeTags(id, [tag]));
    return detail(id);
  },
  async favorite({ id, value }) {
    await persist(need().setFavorite(id, value));
    return detail(id);
  },
};

// One operation at a time, in order: an edit never lands while a sync
// waits for the server.
let queue = Promise.resolve();
self.onmessage = (event) => {
  const { seq, op, args } = event.data;
  queue = queue.then(async () => {
    try {
      await ready;
      const fn = ops[op];
      if (!fn) throw new Error(`unknown operation ${op}`);
      self.postMessage({ seq, ok: true, result: await fn(args ?? {}) });
    } catch (e) {
      // Only the error's code and message cross, never a key or a password.
      self.postMessage({
        seq,
        ok: false,
        error: { message: String(e?.message ?? e), code: e?.code ?? null, codeName: e?.codeName ?? null },
      });
    }
  });
};
