// The whole vault lives here, in a dedicated Web Worker: Argon2id (64 MiB by
// default) grows this worker's wasm memory, not the page's, and unlocking
// never freezes the page. Keys never leave this worker; the page receives
// only what it displays (see wasm/README.md, "What crosses to the page").
// Persistence is here too: every changeset goes to IndexedDB in one
// transaction, so only ciphertext is ever stored.
import init, { Vault } from "/pkg/promptvault_wasm.js";

const DB = "promptvault-example";
const STORE = "records";
const HEADER = "header";
const ready = init();
/** @type {Vault | null} */
let vault = null;

function openDb() {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(DB, 1);
    req.onupgradeneeded = () => req.result.createObjectStore(STORE);
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

async function loadAll() {
  const db = await openDb();
  return new Promise((resolve, reject) => {
    const tx = db.transaction(STORE, "readonly");
    const store = tx.objectStore(STORE);
    const keys = store.getAllKeys();
    const values = store.getAll();
    tx.oncomplete = () => {
      let header = null;
      const records = [];
      keys.result.forEach((k, i) => {
        if (k === HEADER) header = values.result[i];
        else records.push(values.result[i]);
      });
      db.close();
      resolve({ header, records });
    };
    tx.onerror = () => reject(tx.error);
  });
}

/** Applies a changeset in one IndexedDB transaction: header, puts, deletes. */
async function persist(changes) {
  const db = await openDb();
  await new Promise((resolve, reject) => {
    const tx = db.transaction(STORE, "readwrite");
    const store = tx.objectStore(STORE);
    if (changes.header) store.put(changes.header.bytes, HEADER);
    for (const r of changes.puts) store.put(r.bytes, r.key);
    for (const k of changes.deletes) store.delete(k);
    tx.oncomplete = resolve;
    tx.onerror = () => reject(tx.error);
  });
  db.close();
}

function need() {
  if (!vault) throw Object.assign(new Error("the vault is locked"), { codeName: "LOCKED" });
  return vault;
}

function detail(id) {
  const v = need();
  return { summary: v.summary(id), current: v.version(id), history: v.history(id) };
}

const ops = {
  async status() {
    const { header } = await loadAll();
    return { exists: header !== null, unlocked: vault !== null };
  },
  async create({ password, kdf }) {
    const created = Vault.create(password, kdf ?? undefined);
    await persist(created.changes);
    vault = created.vault;
    // Shown once by the page; stored nowhere.
    return { recoveryKey: created.recoveryKey };
  },
  async unlock({ password }) {
    const { header, records } = await loadAll();
    if (header === null) throw new Error("no vault here yet; create one");
    vault = Vault.unlock(header, records, password);
    return { size: vault.size };
  },
  async lock() {
    vault?.free(); // zeroizes every key now, without waiting for the GC
    vault = null;
    return {};
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

self.onmessage = async (event) => {
  const { seq, op, args } = event.data;
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
};
