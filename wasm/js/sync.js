// promptvault/sync: moves the core's sync requests over `fetch`. Transport
// only: every request is built by the core (SyncRun, Download, LoginKey,
// preloginRequest, challengeRequest) and every answer goes back to it as
// {status, body}; this module decides nothing about the protocol. It loops
// request → fetch → answer, persists when a step says so, and waits when a
// step says to back off.
//
// Works wherever `fetch` does: a page, a Worker, Node ≥ 20.19. In a page or
// a Worker, `await init()` (from "promptvault/web") first; under Node the
// "promptvault" entry is ready when imported.
import {
  Download,
  ErrorCode,
  LoginKey,
  Store,
  SyncRun,
  SyncState,
  Vault,
  challengeRequest,
  preloginRequest,
  readSession,
} from "../pkg/web/promptvault_wasm.js";

/** A PromptVaultError with code TRANSPORT: the server could not be reached. */
function transportError(cause) {
  const error = new Error(`cannot reach the server: ${cause?.message ?? String(cause)}`, { cause });
  error.name = "PromptVaultError";
  error.code = ErrorCode.Transport;
  error.codeName = "TRANSPORT";
  return error;
}

/** The base URL without a trailing slash (request paths start with `/`). */
function base(server) {
  return String(server).replace(/\/+$/, "");
}

/** The origin a client signs: the server as this client reaches it. */
export function originOf(server) {
  return new URL(base(server)).origin;
}

/**
 * Sends one request built by the core to `server` and resolves to the
 * answer `{status, body}` as it came (the core reads it). A failed fetch
 * (offline, refused connection, CORS) rejects with a TRANSPORT error; an
 * abort rejects with the abort's error.
 */
export async function send(server, request, { token, fetch: doFetch = globalThis.fetch, signal } = {}) {
  const headers = { "content-type": "application/json" };
  if (token) headers.authorization = `Bearer ${token}`;
  try {
    const res = await doFetch(base(server) + request.path, {
      method: request.method,
      headers,
      body: request.body,
      signal,
    });
    return { status: res.status, body: new Uint8Array(await res.arrayBuffer()) };
  } catch (e) {
    if (signal?.aborted) throw e;
    throw transportError(e);
  }
}

/** Waits before the next commit after `attempt` conflicts in a row: full jitter, capped at 5 s. */
export function backoffDelay(attempt) {
  const cap = Math.min(5000, 50 * 2 ** Math.min(attempt, 7));
  return new Promise((resolve) => setTimeout(resolve, Math.random() * cap));
}

/** Logs in with the password: pre-login, one Argon2id run, a signed challenge. Resolves to the session. */
export async function login({ server, account, password, origin = originOf(server), fetch, signal }) {
  const opts = { fetch, signal };
  const key = LoginKey.fromPrelogin(await send(server, preloginRequest(account), opts), password);
  try {
    const challenge = await send(server, challengeRequest(account, "login"), opts);
    return readSession(await send(server, key.loginRequest(challenge, origin, account), opts));
  } finally {
    key.free(); // zeroizes the login key
  }
}

/** Registers `account` with the vault's header (its records follow by `sync`). Resolves to the session. */
export async function register({ server, account, password, vault, origin = originOf(server), fetch, signal }) {
  const opts = { fetch, signal };
  const header = vault.header();
  const key = LoginKey.fromHeader(header, password);
  try {
    const challenge = await send(server, challengeRequest(account, "register"), opts);
    return readSession(await send(server, key.registerRequest(challenge, origin, account, header), opts));
  } finally {
    key.free();
  }
}

/**
 * Brings the session's vault onto a device that does not hold it: pulls
 * everything, unlocks the server's header with the password, merges.
 * Resolves to `{vault, store, state}` (after `onPersist` ran for them).
 */
export async function download({ server, session, password, fetch, signal, onPersist }) {
  const opts = { token: session.token, fetch, signal };
  const state = new SyncState();
  const dl = new Download(session.vaultId, state);
  let vault = null;
  let store = null;
  try {
    for (let more = true; more; ) more = dl.absorb(await send(server, dl.request, opts));
    vault = Vault.unlock(dl.header(), [], password);
    store = Store.fromVault(vault);
    dl.finish(vault, store, state);
    if (onPersist) await onPersist({ store, state });
    return { vault, store, state };
  } catch (e) {
    vault?.free();
    store?.free();
    state.free();
    throw e;
  } finally {
    dl.free();
  }
}

/**
 * One whole sync of `vault` (whose records `store` holds) with the server:
 * the core's steps, `fetch` for each request. Before each step that says
 * `persist`, awaits `onPersist({store, state})` (save the store, then the
 * state). Resolves to the report. On an error the sync ends; what earlier
 * steps did stays done (and was handed to `onPersist`).
 */
export async function sync({ server, token, vault, store, state, fetch, signal, onPersist, backoff = backoffDelay }) {
  const opts = { token, fetch, signal };
  const run = new SyncRun(vault, state);
  try {
    for (let step = run.step; ; ) {
      if (step.persist && onPersist) await onPersist({ store, state });
      if (step.done) return step.report;
      if (step.backoff !== null) await backoff(step.backoff);
      step = run.resume(vault, store, state, await send(server, step.request, opts));
    }
  } finally {
    run.free();
  }
}
