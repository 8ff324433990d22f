// promptvault/worker-host: the worker's side of promptvault/worker. Holds
// at most one unlocked Vault and the Store of its records (kept in step:
// every changeset a call returns is applied to it before it goes to the
// page), and answers the page's requests ({id, op, method?, args} →
// {id, ok, value} or {id, ok: false, error}). The sync ops run
// promptvault/sync here, so Argon2id and the merge stay in the worker;
// during a sync the worker also posts {id, persist: {header, records,
// state}} at every step that says persist, for the page to save.
import init, { ErrorCode, Store, SyncState, Vault } from "../pkg/web/promptvault_wasm.js";
import { download, login, register, sync } from "./sync.js";

const LOCKED = {
  name: "PromptVaultError",
  message: "invalid input: no vault is open in this worker",
  code: ErrorCode.InvalidInput,
  codeName: "INVALID_INPUT",
};

/** The changeset a Vault method returned (itself, or its `changes`), if any. */
function changesOf(result) {
  const isChangeset = (c) => c !== null && typeof c === "object" && Array.isArray(c.puts) && Array.isArray(c.deletes);
  if (isChangeset(result)) return result;
  if (result !== null && typeof result === "object" && isChangeset(result.changes)) return result.changes;
  return null;
}

/** What the page persists after a sync step: every record and the state blob. */
function snapshot(store, state) {
  return { header: store.header(), records: store.records(), state: state.toBytes() };
}

export function serveVault(scope = globalThis, module) {
  const ready = init(module === undefined ? undefined : { module_or_path: module });
  ready.catch(() => {}); // reported to each request instead (below)
  let vault = null;
  let store = null;
  const open = (next, nextStore) => {
    vault?.free();
    store?.free();
    vault = next;
    store = nextStore;
  };
  const need = () => {
    if (vault === null) throw LOCKED;
    return vault;
  };
  const run = async (id, op, method, args) => {
    switch (op) {
      case "create": {
        const made = Vault.create(...args);
        const s = new Store();
        s.apply(made.changes);
        open(made.vault, s);
        return { recoveryKey: made.recoveryKey, changes: made.changes };
      }
      case "unlock":
      case "unlockWithRecoveryKey": {
        const [header, records] = args;
        const next = Vault[op](...args);
        const s = new Store();
        try {
          s.apply({ header, puts: records, deletes: [] });
        } catch (e) {
          next.free();
          s.free();
          throw e;
        }
        open(next, s);
        return undefined;
      }
      case "close":
        open(null, null);
        return undefined;
      case "call": {
        const v = need();
        if (typeof method !== "string" || method === "free" || method === "constructor" || typeof Vault.prototype[method] !== "function") {
          throw new TypeError(`promptvault worker: Vault has no method ${String(method)}`);
        }
        const result = v[method](...args);
        const changes = changesOf(result);
        if (changes !== null) store.apply(changes);
        return result;
      }
      case "login":
        return login(args[0]);
      case "register":
        return register({ ...args[0], vault: need() });
      case "download": {
        const got = await download(args[0]);
        open(got.vault, got.store);
        const out = snapshot(got.store, got.state);
        got.state.free();
        return out;
      }
      case "sync": {
        const { state: blob, ...options } = args[0];
        const v = need();
        const state = blob ? SyncState.fromBytes(blob) : new SyncState();
        try {
          const onPersist = () => scope.postMessage({ id, persist: snapshot(store, state) });
          return await sync({ ...options, vault: v, store, state, onPersist });
        } finally {
          state.free();
        }
      }
      default:
        throw new TypeError(`promptvault worker: unknown request ${String(op)}`);
    }
  };
  const answer = async ({ id, op, method, args }) => {
    try {
      await ready;
      scope.postMessage({ id, ok: true, value: await run(id, op, method, args) });
    } catch (e) {
      const error = { name: e?.name ?? "Error", message: String(e?.message ?? e) };
      if (typeof e?.code === "number") Object.assign(error, { code: e.code, codeName: e.codeName });
      if (typeof e?.httpStatus === "number") Object.assign(error, { httpStatus: e.httpStatus, serverCode: e.serverCode });
      scope.postMessage({ id, ok: false, error });
    }
  };
  // One request at a time, in order: a call never changes the vault while
  // a sync waits for the server.
  let queue = Promise.resolve();
  scope.addEventListener("message", (event) => {
    const request = event.data ?? {};
    if (typeof request.id !== "number" || !Array.isArray(request.args)) return;
    queue = queue.then(() => answer(request));
  });
}
