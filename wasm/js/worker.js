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

/** An error as the worker sent it, rebuilt (a PromptVaultError keeps name, code and codeName). */
function rebuild(e) {
  const error = new Error(e?.message ?? "promptvault worker: unknown error");
  if (typeof e?.name === "string") error.name = e.name;
  if (typeof e?.code === "number") {
    error.code = e.code;
    error.codeName = e.codeName;
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
    const { id, ok, value, error } = event.data ?? {};
    const call = pending.get(id);
    if (call === undefined) return;
    pending.delete(id);
    if (ok) call.resolve(value);
    else call.reject(rebuild(error));
  });
  worker.addEventListener("error", (event) => {
    failAll(new Error(`promptvault worker: ${event.message ?? "failed to load"}`));
  });
  const send = (request) =>
    new Promise((resolve, reject) => {
      const id = next++;
      pending.set(id, { resolve, reject });
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
    terminate: () => {
      worker.terminate();
      failAll(new Error("promptvault worker: terminated"));
    },
  };
}
