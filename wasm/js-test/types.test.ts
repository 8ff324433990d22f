// Compile-only typing test: `tsc -p js-test/tsconfig.json` must accept every
// correct call and every `@ts-expect-error` line must really be an error
// (tsc fails on an unused @ts-expect-error), so wrong calls are rejected.
import {
  Vault,
  ErrorCode,
  inspect,
  isPromptVaultError,
  type Changeset,
  type DamagedPrompt,
  type ImportReport,
  type MergeReport,
  type PromptSummary,
  type RecordInfo,
  type Version,
} from "promptvault";
import initWeb, { Vault as WebVault } from "promptvault/web";
import { createVaultWorker, type VaultWorker } from "promptvault/worker";
import { serveVault } from "promptvault/worker-host";
import {
  Download,
  LoginKey,
  Store,
  SyncRun,
  SyncState,
  challengeRequest,
  preloginRequest,
  readSession,
  type Session,
  type SyncReport,
  type SyncRequest,
  type SyncStep,
} from "promptvault";
import { download, login, register, sync } from "promptvault/sync";

const FAST = { mCostKib: 19456, tCost: 1, pCost: 1 };

export async function typed(): Promise<void> {
  await initWeb();
  const created = WebVault.create("pw", FAST);
  const v: Vault = Vault.create("pw", FAST).vault;
  const rk: string = created.recoveryKey;
  const changes: Changeset = created.changes;
  const firstKey: string | undefined = changes.puts[0]?.key;
  const headerBytes: Uint8Array | undefined = changes.header?.bytes;
  const made = v.createPrompt({ title: "t", body: "b", settings: { seed: 1 } }, { tags: ["a"] });
  const id: string = made.promptId;
  const next = v.addVersion(id, { title: "t2" }, Date.now());
  const ver: Version = v.version(id, next.versionId);
  const body: string = ver.body;
  const list: PromptSummary[] = v.list({ text: "x", tagMode: "all", archived: "include" });
  const count: number = list[0]?.versionCount ?? 0;
  const op: "equal" | "insert" | "delete" | undefined = v.diff(id, next.versionId, next.versionId)[0]?.op;
  const info: RecordInfo = inspect(changes.header?.text ?? "");
  const kind: string = info.kind;
  const unlocked: Vault = Vault.unlock(changes.header?.bytes ?? "", [new Uint8Array(), "text"], "pw");
  unlocked.free();
  try {
    v.verify();
  } catch (e) {
    if (isPromptVaultError(e)) {
      const code: ErrorCode = e.code;
      const isAuth: boolean = code === ErrorCode.Authentication;
      const name: string = e.codeName;
      void [isAuth, name];
    }
  }
  const damaged: DamagedPrompt[] = v.damagedPrompts();
  const damagedCode: ErrorCode | undefined = damaged[0]?.code;
  const damagedVersions: number | undefined = damaged[0]?.versionCount;
  const imported: ImportReport = v.import(new Uint8Array(), "pw");
  const refusedId: string | undefined = imported.refused[0]?.promptId;
  const merged: MergeReport = v.merge([]);
  const mergedDamaged: readonly DamagedPrompt[] = merged.damaged;
  void [rk, firstKey, headerBytes, body, count, op, kind, damagedCode, damagedVersions, refusedId, mergedDamaged];

  // Wrong calls are rejected:
  // @ts-expect-error a draft needs a title
  v.createPrompt({ body: "no title" });
  // @ts-expect-error unknown draft field
  v.createPrompt({ title: "t", colour: "red" });
  // @ts-expect-error tags are strings
  v.addTags(id, [1, 2]);
  // @ts-expect-error tagMode is "any" | "all" | "none"
  v.list({ tagMode: "some" });
  // @ts-expect-error records are bytes or base64url strings
  Vault.unlock(42, [], "pw");
  // @ts-expect-error KDF params need all three fields
  Vault.create("pw", { mCostKib: 19456 });
  // @ts-expect-error results are read-only
  list[0]!.title = "changed";
  // @ts-expect-error no such method
  v.decryptEverything();
  // @ts-expect-error summaries have no body (a list view decrypts none)
  const noBody: string = list[0]!.body;
  // @ts-expect-error the error code is a number enum, not a string
  const wrongCode: string = ErrorCode.Authentication;
  // @ts-expect-error refused prompts are read-only
  imported.refused.push({ promptId: "x", code: ErrorCode.Malformed, message: "m" });
  void [noBody, wrongCode];
}

export async function workerTyped(w: Worker): Promise<void> {
  const vault: VaultWorker = createVaultWorker(w);
  const { recoveryKey } = await vault.create("pw", FAST);
  const rk: string = recoveryKey;
  const made = await vault.call("createPrompt", { title: "t", body: "b" }, { tags: ["a"] });
  const id: string = made.promptId;
  const list: PromptSummary[] = await vault.call("list", { tags: ["a"] });
  const body: string = (await vault.call("version", id)).body;
  await vault.unlock(new Uint8Array(0), [new Uint8Array(0)], "pw");
  // @ts-expect-error: not a Vault method
  await vault.call("nope");
  // @ts-expect-error: free() is not run through the worker
  await vault.call("free");
  // @ts-expect-error: summary takes a prompt id
  await vault.call("summary", 1);
  // @ts-expect-error: list returns summaries, not strings
  const wrong: string[] = await vault.call("list");
  void [rk, list, body, wrong];
  vault.terminate();
  serveVault();
  serveVault(self, new URL("promptvault_wasm_bg.wasm", "https://example.invalid/"));
}

export async function syncTyped(v: Vault, server: string): Promise<void> {
  // The sans-IO binding: typed requests and answers.
  const store = new Store();
  store.apply(Vault.create("pw", FAST).changes);
  const state: SyncState = SyncState.fromBytes(new SyncState().toBytes());
  const cursor: number = state.cursor;
  const run = new SyncRun(v, state);
  let step: SyncStep = run.step;
  while (!step.done) {
    const request: SyncRequest = step.request;
    const method: "POST" = request.method;
    const backoff: number | null = step.backoff;
    void [method, backoff];
    step = run.resume(v, store, state, { status: 200, body: new Uint8Array(request.body.length) });
  }
  const report: SyncReport = step.report;
  const merged: number = report.conflictsResolved;
  const key = LoginKey.fromPrelogin({ status: 200, body: "{}" }, "pw");
  const loginReq: SyncRequest = key.loginRequest({ status: 200, body: "" }, "https://o.example", "alice");
  const session: Session = readSession({ status: 200, body: loginReq.body });
  const dl = new Download(session.vaultId, state);
  const more: boolean = dl.absorb({ status: 200, body: "" });
  const pre: SyncRequest = preloginRequest("alice");
  const ch: SyncRequest = challengeRequest("alice", "register");
  void [cursor, merged, more, pre, ch];
  // @ts-expect-error an answer needs a status
  run.resume(v, store, state, { body: "" });
  // @ts-expect-error a request's body is bytes
  const text: string = pre.body;
  // @ts-expect-error no such action
  challengeRequest("alice", "sudo");
  // @ts-expect-error a report is read-only
  report.cursor = 0;
  void text;

  // The fetch driver.
  const s: Session = await login({ server, account: "alice", password: "pw" });
  const r2: Session = await register({ server, account: "alice", password: "pw", vault: v });
  const got = await download({ server, session: s, password: "pw", onPersist: ({ store: st, state: ss }) => [st.toBundle(), ss.toBytes()] });
  const done: SyncReport = await sync({ server, token: r2.token, vault: got.vault, store: got.store, state: got.state });
  // @ts-expect-error sync needs the store
  await sync({ server, token: s.token, vault: v, state });
  void done;
}

export async function workerSyncTyped(w: Worker): Promise<void> {
  const vault: VaultWorker = createVaultWorker(w);
  const session: Session = await vault.login({ server: "https://s.example", account: "a", password: "pw" });
  const snap = await vault.download({ server: "https://s.example", session, password: "pw" });
  const blob: Uint8Array = snap.state;
  const report: SyncReport = await vault.sync({
    server: "https://s.example",
    token: session.token,
    state: blob,
    onPersist: (p) => p.records.length,
  });
  // @ts-expect-error the state is a blob (or null), not a SyncState
  await vault.sync({ server: "https://s.example", token: session.token, state: new SyncState() });
  void report;
}
