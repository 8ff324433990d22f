// promptvault/worker: the page's side of a vault run in a Web Worker (the
// worker's side is promptvault/worker-host). Argon2id then grows the
// worker's memory, not the page's, unlocking never freezes the page, and
// keys never leave the worker. This module does not load the .wasm.
//
//   // vault.worker.js
//   import { serveVault } from "promptvault/worker-host";
//   serveVault();
//   // the page
//   import { createVaultWorker } from "promptvault/worker";
//   const vault = createVaultWorker(new Worker(new URL("./vault.worker.js", import.meta.url), { type: "module" }));
//   const { recoveryKey, changes } = await vault.create(password);
//   const { promptId } = await vault.call("createPrompt", { title: "t", body: "b" });
//   const session = await vault.register({ server, account, password });
//   const report = await vault.sync({ server, token: session.token, state, onPersist });

/** An error as the worker sent it, rebuilt (a PromptVaultError keeps name, code and codeName; a server's refusal its httpStatus and serverCode). */
function rebuild(e) {
  const error = new Error(e?.message ?? "promptvault worker: unknown error");
  if (typeof e?.name === "string") error.name = e.name;
  if (typeof e?.code === "number") {
    error.code = e.code;
    error.codeName = e.codeName;
  }
  if (typeof e?.httpStatus === "number") {
    error.httpStatus = e.httpStatus;
    error.serverCode = e.serverCode;
  }
  return error;
}

export function createVaultWorker(worker) {
  let next = 0;
  const pending = new Map();
  const failAll = (error) => {
    for (const { reject } of pending.values()) reject(error);
    pending.clear();
  };
  worker.addEventListener("message", (event) => {
    const { id, ok, value, error, persist } = event.data ?? {};
    const call = pending.get(id);
    if (call === undefined) return;
    if (persist !== undefined) {
      // A sync step to save: in order, and before the sync's answer settles.
      call.saved = call.saved.then(() => call.onPersist?.(persist));
      return;
    }
    pending.delete(id);
    call.saved.then(
      () => (ok ? call.resolve(value) : call.reject(rebuild(error))),
      (e) => call.reject(e),
    );
  });
  worker.addEventListener("error", (event) => {
    failAll(new Error(`promptvault worker: ${event.message ?? "failed to load"}`));
  });
  const send = (request, onPersist) =>
    new Promise((resolve, reject) => {
      const id = next++;
      pending.set(id, { resolve, reject, onPersist, saved: Promise.resolve() });
      worker.postMessage({ ...request, id });
    });
  return {
    create: (password, kdf) => send({ op: "create", args: [password, kdf] }),
    unlock: (header, records, password, seen) =>
      send({ op: "unlock", args: [header, [...records], password, seen] }),
    unlockWithRecoveryKey: (header, records, key, seen) =>
      send({ op: "unlockWithRecoveryKey", args: [header, [...records], key, seen] }),
    call: (method, ...args) => send({ op: "call", method, args }),
    close: () => send({ op: "close", args: [] }),
    login: (options) => send({ op: "login", args: [options] }),
    register: (options) => send({ op: "register", args: [options] }),
    download: (options) => send({ op: "download", args: [options] }),
    sync: ({ onPersist, ...options }) => send({ op: "sync", args: [options] }, onPersist),
    terminate: () => {
      worker.terminate();
      failAll(new Error("promptvault worker: terminated"));
    },
  };
}
