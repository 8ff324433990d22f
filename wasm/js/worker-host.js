// promptvault/worker-host: the worker's side of promptvault/worker. Holds
// at most one unlocked Vault and answers the page's requests
// ({id, op, method?, args} → {id, ok, value} or {id, ok: false, error}).
import init, { ErrorCode, Vault } from "../pkg/web/promptvault_wasm.js";

const LOCKED = {
  name: "PromptVaultError",
  message: "invalid input: no vault is open in this worker",
  code: ErrorCode.InvalidInput,
  codeName: "INVALID_INPUT",
};

export function serveVault(scope = globalThis, module) {
  const ready = init(module === undefined ? undefined : { module_or_path: module });
  ready.catch(() => {}); // reported to each request instead (below)
  let vault = null;
  const open = (next) => {
    vault?.free();
    vault = next;
  };
  const run = (op, method, args) => {
    switch (op) {
      case "create": {
        const made = Vault.create(...args);
        open(made.vault);
        return { recoveryKey: made.recoveryKey, changes: made.changes };
      }
      case "unlock":
      case "unlockWithRecoveryKey":
        open(Vault[op](...args));
        return undefined;
      case "close":
        open(null);
        return undefined;
      case "call":
        if (vault === null) throw LOCKED;
        if (typeof method !== "string" || method === "free" || method === "constructor" || typeof Vault.prototype[method] !== "function") {
          throw new TypeError(`promptvault worker: Vault has no method ${String(method)}`);
        }
        return vault[method](...args);
      default:
        throw new TypeError(`promptvault worker: unknown request ${String(op)}`);
    }
  };
  scope.addEventListener("message", async (event) => {
    const { id, op, method, args } = event.data ?? {};
    if (typeof id !== "number" || !Array.isArray(args)) return;
    try {
      await ready;
      scope.postMessage({ id, ok: true, value: run(op, method, args) });
    } catch (e) {
      const error = { name: e?.name ?? "Error", message: String(e?.message ?? e) };
      if (typeof e?.code === "number") Object.assign(error, { code: e.code, codeName: e.codeName });
      scope.postMessage({ id, ok: false, error });
    }
  });
}
