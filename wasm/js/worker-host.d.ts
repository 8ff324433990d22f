import type { InitInput } from "../pkg/web/promptvault_wasm.js";

/** The place a worker receives messages on and posts answers from (`self` in a worker). */
export interface WorkerScope {
  addEventListener(type: "message", listener: (event: MessageEvent) => void): void;
  postMessage(message: unknown): void;
}

/**
 * Serves one vault to the page's `createVaultWorker` from inside a Worker.
 * Loads the .wasm with `init(module)` (by default the file next to the module).
 */
export function serveVault(scope?: WorkerScope, module?: InitInput | Promise<InitInput>): void;
