import type {
  CreatedVault,
  KdfParams,
  RecordInput,
  SealedRecord,
  SeenRevisions,
  Session,
  SyncReport,
  Vault,
} from "../pkg/web/promptvault_wasm.js";
import type { FetchLike } from "./sync.js";

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
  /** Logs in (Argon2id runs in the worker). The session's token is the bearer credential for `sync`. */
  login(options: WorkerServer & { account: string; password: string; origin?: string }): Promise<Session>;
  /** Registers `account` for the worker's vault. */
  register(options: WorkerServer & { account: string; password: string; origin?: string }): Promise<Session>;
  /** Downloads the session's vault into the worker (closing any open one); persist what it resolves to. */
  download(options: WorkerServer & { session: Session; password: string }): Promise<WorkerSnapshot>;
  /**
   * Syncs the worker's vault. `state` is the blob saved last time (null the
   * first time); `onPersist` runs, in order, at every step that says persist
   * (save the records, then the state), and the promise settles after the last.
   */
  sync(
    options: WorkerServer & {
      token: string;
      state: Uint8Array | null;
      onPersist?: (snapshot: WorkerSnapshot) => unknown;
    },
  ): Promise<SyncReport>;
  /** Terminates the worker; pending calls reject. */
  terminate(): void;
}

/** Where the worker's sync requests go (`fetch` runs in the worker; `FetchLike` functions cannot cross). */
export interface WorkerServer {
  server: string;
}
export type { FetchLike };

/** What to persist after a sync step: every record of the vault and the sync-state blob. */
export interface WorkerSnapshot {
  readonly header: SealedRecord | null;
  readonly records: readonly SealedRecord[];
  readonly state: Uint8Array;
}

/** The page's side of a vault run in `worker`, a module Worker that calls `serveVault()`. */
export function createVaultWorker(worker: Worker): VaultWorker;
