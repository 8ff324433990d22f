// The page: UI only. It never holds a key and never touches wasm; every
// vault operation is a message to worker.js (see wasm/README.md for exactly
// what crosses). `?kdf=min` creates vaults with the minimum Argon2id cost
// (for tests); the default is the library's 64 MiB, t = 3.
const $ = (id) => /** @type {any} */ (document.getElementById(id));
const kdf = new URLSearchParams(location.search).get("kdf") === "min"
  ? { mCostKib: 19456, tCost: 1, pCost: 1 }
  : null;

let worker = null;
let seq = 0;
const pending = new Map();
let selected = null; // the selected prompt's detail

function startWorker() {
  worker = new Worker(new URL("./worker.js", import.meta.url), { type: "module" });
  worker.onmessage = ({ data }) => {
    const p = pending.get(data.seq);
    pending.delete(data.seq);
    if (data.ok) p.resolve(data.result);
    else p.reject(Object.assign(new Error(data.error.message), data.error));
  };
}

function call(op, args) {
  if (!worker) startWorker();
  return new Promise((resolve, reject) => {
    pending.set(++seq, { resolve, reject });
    worker.postMessage({ seq, op, args });
  });
}

function showError(e) {
  $("error").textContent = e ? (e.codeName ? `${e.message} (${e.codeName})` : e.message) : "";
}

async function busy(label, fn) {
  $("status").textContent = label;
  showError(null);
  try {
    return await fn();
  } catch (e) {
    showError(e);
  } finally {
    if ($("status").textContent === label) $("status").textContent = "";
  }
}

async function showAuth() {
  const { exists, account } = await call("status");
  $("app").hidden = true;
  $("auth").hidden = false;
  $("unlock").hidden = !exists;
  $("create").hidden = exists;
  $("login").hidden = exists;
  $("auth-hint").hidden = exists;
  $("account-label").hidden = exists;
  $("status").textContent = exists
    ? `Locked${account ? ` (${account})` : ""}. Enter your password.`
    : "No vault yet: choose a password, or log in to an account.";
  $("password").focus();
}

/** Shows the sync state: synced, pending offline edits, conflict merged (or local only). */
function showSync(info) {
  if (!info) return;
  $("sync-state").textContent = info.state;
  $("sync-state").dataset.state = info.state;
  $("sync").hidden = info.account === null;
  const last = info.last?.report;
  $("sync-detail").textContent = info.account === null
    ? ""
    : `${info.account} · cursor ${info.cursor}` +
      (last ? ` · last change: ${last.pulled} pulled, ${last.pushed} pushed, ${last.conflictsResolved} merged` : "") +
      (info.last?.offline ? " · server unreachable" : "");
}

async function syncNow() {
  showSync(await call("sync"));
  await refresh();
  if (selected) selected = await call("get", { id: selected.summary.id }).catch(() => null);
  if (selected) await select(selected);
}

async function showApp(info) {
  $("auth").hidden = true;
  $("app").hidden = false;
  $("password").value = "";
  showSync(info);
  await refresh();
}

async function refresh() {
  const list = await call("list", { text: $("search").value, favoritesOnly: $("fav-only").checked });
  const ul = $("prompts");
  ul.replaceChildren(
    ...list.map((s) => {
      const li = document.createElement("li");
      li.dataset.id = s.id;
      li.textContent = `${s.favorite ? "★ " : ""}${s.title} (${s.versionCount})`;
      li.className = selected?.summary.id === s.id ? "selected" : "";
      li.onclick = () => busy("", async () => select(await call("get", { id: s.id })));
      return li;
    }),
  );
  const tags = await call("tags");
  $("tag-cloud").replaceChildren(
    ...tags.map((t) => Object.assign(document.createElement("span"), { className: "tag", textContent: `${t.tag} ${t.count}` })),
  );
}

async function select(d) {
  selected = d;
  $("detail").hidden = !d;
  if (!d) {
    for (const id of ["title", "body", "tags", "note"]) $(id).value = "";
    return refresh();
  }
  $("title").value = d.current.title;
  $("body").value = d.current.body;
  $("note").value = "";
  $("favorite").textContent = d.summary.favorite ? "★ favorite" : "☆ favorite";
  $("prompt-tags").replaceChildren(
    ...d.summary.tags.map((t) => {
      const b = Object.assign(document.createElement("button"), { className: "tag", textContent: `${t} ✕`, title: "remove tag" });
      b.onclick = () => busy("", async () => select(await call("removeTag", { id: d.summary.id, tag: t })));
      return b;
    }),
  );
  const hist = d.history;
  $("history").replaceChildren(
    ...hist.map((v, i) => {
      const li = document.createElement("li");
      li.className = "version";
      li.textContent = `${new Date(v.created).toLocaleString()} — ${v.title}${v.id === d.summary.currentVersion ? " (current)" : ""}`;
      li.onclick = () => busy("", () => showDiff(d.summary.id, hist[i - 1]?.id ?? v.id, v.id));
      return li;
    }),
  );
  const last = hist.at(-1);
  const prev = hist.at(-2);
  if (last) await showDiff(d.summary.id, prev?.id ?? last.id, last.id);
  await refresh();
}

async function showDiff(id, from, to) {
  const lines = await call("diff", { id, from, to });
  $("diff").replaceChildren(
    ...lines.map((l) => {
      const div = document.createElement("div");
      div.className = l.op;
      div.textContent = `${l.op === "insert" ? "+ " : l.op === "delete" ? "- " : "  "}${l.text}`;
      return div;
    }),
  );
}

$("create").onclick = () =>
  busy("Creating (Argon2id runs in the worker)…", async () => {
    const account = $("account").value.trim();
    const { recoveryKey, sync } = await call("create", { password: $("password").value, kdf, account });
    $("recovery").hidden = false;
    $("recovery").textContent = `Recovery key (shown once, write it down): ${recoveryKey}`;
    await showApp(sync);
  });
$("login").onclick = () =>
  busy("Logging in and downloading (Argon2id runs in the worker)…", async () => {
    const account = $("account").value.trim();
    if (!account) throw new Error("enter the account name to log in");
    const { sync } = await call("login", { account, password: $("password").value });
    await showApp(sync);
  });
$("unlock").onclick = () =>
  busy("Unlocking (Argon2id runs in the worker)…", async () => {
    const { sync } = await call("unlock", { password: $("password").value });
    await showApp(sync);
  });
$("sync").onclick = () => busy("Syncing…", syncNow);
// Back online: sync what was written offline.
addEventListener("online", () => {
  if (!$("app").hidden && !$("sync").hidden) busy("Syncing…", syncNow);
});
$("password").onkeydown = (e) => {
  if (e.key === "Enter") ($("unlock").hidden ? $("create") : $("unlock")).click();
};
$("lock").onclick = () =>
  busy("Locking…", async () => {
    await call("lock");
    // Wasm memory never shrinks: end the worker so the KDF's memory goes too.
    worker.terminate();
    worker = null;
    selected = null;
    $("recovery").hidden = true;
    $("recovery").textContent = "";
    $("detail").hidden = true;
    $("prompts").replaceChildren();
    await showAuth();
  });
$("new").onclick = () => busy("", () => select(null));
$("save").onclick = () =>
  busy("Saving…", async () => {
    const title = $("title").value;
    const body = $("body").value;
    const d = selected
      ? await call("edit", { id: selected.summary.id, title, body, note: $("note").value })
      : await call("add", { title, body, tags: $("tags").value.split(",").map((t) => t.trim()).filter(Boolean) });
    await select(d);
    showSync(await call("syncInfo"));
  });
$("favorite").onclick = () =>
  busy("", async () => select(await call("favorite", { id: selected.summary.id, value: !selected.summary.favorite })));
$("add-tag").onclick = () =>
  busy("", async () => {
    const tag = $("new-tag").value.trim();
    if (!tag) return;
    $("new-tag").value = "";
    await select(await call("addTags", { id: selected.summary.id, tags: [tag] }));
  });
$("search").oninput = () => busy("", refresh);
$("fav-only").onchange = () => busy("", refresh);

busy("", showAuth);
