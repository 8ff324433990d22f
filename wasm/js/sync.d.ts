import type { HttpAnswer, Session, Store, SyncReport, SyncRequest, SyncState, Vault } from "../pkg/web/promptvault_wasm.js";

/** The `fetch` the driver calls (the global one by default). */
export type FetchLike = (url: string, init: { method: string; headers: Record<string, string>; body: Uint8Array; signal?: AbortSignal }) => Promise<{
  readonly status: number;
  arrayBuffer(): Promise<ArrayBuffer>;
}>;

/** Options every call takes. */
export interface TransportOptions {
  /** The server's base URL, e.g. `https://sync.example.org` or a page's own origin behind a proxy. */
  server: string;
  /** Another `fetch` (tests, a custom HTTP stack). */
  fetch?: FetchLike;
  /** Aborts the request in flight. */
  signal?: AbortSignal;
}

/** What to save: the store (first), then the state. */
export interface PersistPoint {
  readonly store: Store;
  readonly state: SyncState;
}

/** The origin a client signs (`scheme://host[:port]` of `server`). */
export function originOf(server: string): string;

/** Sends one core-built request; the answer as it came. A failed fetch rejects with a `TRANSPORT` PromptVaultError. */
export function send(
  server: string,
  request: SyncRequest,
  options?: { token?: string; fetch?: FetchLike; signal?: AbortSignal },
): Promise<HttpAnswer & { readonly body: Uint8Array }>;

/** The default wait after `attempt` conflicts in a row (full jitter, at most 5 s). */
export function backoffDelay(attempt: number): Promise<void>;

/** Logs in with the password (one Argon2id run). */
export function login(options: TransportOptions & { account: string; password: string; origin?: string }): Promise<Session>;

/** Registers an account for `vault` (its header; the records follow by `sync`). */
export function register(
  options: TransportOptions & { account: string; password: string; vault: Vault; origin?: string },
): Promise<Session>;

/** Brings the session's vault onto a new device: pull everything, unlock the server's header, merge. */
export function download(
  options: TransportOptions & { session: Session; password: string; onPersist?: (point: PersistPoint) => unknown },
): Promise<{ vault: Vault; store: Store; state: SyncState }>;

/** One whole sync; resolves to the report. */
export function sync(
  options: TransportOptions & {
    token: string;
    vault: Vault;
    store: Store;
    state: SyncState;
    onPersist?: (point: PersistPoint) => unknown;
    backoff?: (attempt: number) => Promise<void>;
  },
): Promise<SyncReport>;
