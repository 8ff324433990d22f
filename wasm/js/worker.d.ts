import type { CreatedVault, KdfParams, RecordInput, SeenRevisions, Vault } from "../pkg/web/promptvault_wasm.js";

type Fn = (...args: never[]) => unknown;
/** The `Vault` methods a worker runs: every method but `free`. */
export type VaultMethod = Exclude<
  { [K in Extract<keyof Vault, string>]: Vault[K] extends Fn ? K : never }[Extract<keyof Vault, string>],
  "free"
>;
type Args<F> = F extends (...args: infer A) => unknown ? A : never;
type Result<F> = F extends (...args: never[]) => infer R ? R : never;

/** A vault in a Web Worker (see `serveVault` in promptvault/worker-host). Errors reject the promise; a `PromptVaultError` keeps its `code`. */
export interface VaultWorker {
  /** Creates a vault in the worker (closing any open one). */
  create(password: string, kdf?: KdfParams | null): Promise<Omit<CreatedVault, "vault">>;
  /** Unlocks a vault in the worker (closing any open one). */
  unlock(header: RecordInput, records: Iterable<RecordInput>, password: string, seen?: SeenRevisions | null): Promise<void>;
  /** Unlocks a vault in the worker with its recovery key. */
  unlockWithRecoveryKey(header: RecordInput, records: Iterable<RecordInput>, key: string, seen?: SeenRevisions | null): Promise<void>;
  /** Calls a method of the worker's vault, with the method's own argument and result types. */
  call<M extends VaultMethod>(method: M, ...args: Args<Vault[M]>): Promise<Result<Vault[M]>>;
  /** Frees the worker's vault (its keys are wiped); the worker stays up. */
  close(): Promise<void>;
  /** Terminates the worker; pending calls reject. */
  terminate(): void;
}

/** The page's side of a vault run in `worker`, a module Worker that calls `serveVault()`. */
export function createVaultWorker(worker: Worker): VaultWorker;
