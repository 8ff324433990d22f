// The built npm package under Node ESM (node:test). Imports the package by
// its own name, so this runs through package.json's `exports` map.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";

import {
  Vault,
  ErrorCode,
  errorCodeName,
  inspect,
  isPromptVaultError,
  validateForStore,
} from "promptvault";

const here = dirname(fileURLToPath(import.meta.url));
const vectorsDir = join(here, "../../core/tests/vectors");
/** Core ships 21 frozen vectors (core/tests/vectors.rs asserts the same). */
const EXPECTED_VECTORS = 21;
const FAST = { mCostKib: 19456, tCost: 1, pCost: 1 };
const PASSWORD = "node password ✓";

/** A changeset-applying key-value store, as any app would keep. */
class Store {
  header = null;
  records = new Map();
  apply(changes) {
    if (changes.header) this.header = changes.header.bytes;
    for (const r of changes.puts) this.records.set(r.key, r.bytes);
    for (const k of changes.deletes) this.records.delete(k);
  }
}

function newVault() {
  const { vault, recoveryKey, changes } = Vault.create(PASSWORD, FAST);
  const store = new Store();
  store.apply(changes);
  return { vault, recoveryKey, store };
}

function expectCode(fn, code) {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof Error, "a real Error");
    assert.ok(isPromptVaultError(e), "type guard");
    assert.equal(e.name, "PromptVaultError");
    assert.equal(e.code, code, `${e.codeName}: ${e.message}`);
    assert.equal(e.codeName, errorCodeName(code));
    assert.ok(e.message.length > 0);
    return e;
  }
  assert.fail(`expected error code ${code}`);
}

function snapshot(v) {
  return {
    prompts: v.promptIds().map((id) => {
      const s = v.summary(id);
      return {
        id,
        current: s.currentVersion,
        tags: s.tags,
        favorite: s.favorite,
        archived: s.archived,
        versions: v.history(id).map((e) => {
          const full = v.version(id, e.id);
          return {
            id: e.id,
            parent: e.parent,
            created: e.created,
            title: full.title,
            body: full.body,
            note: full.note,
            settings: full.settings,
          };
        }),
      };
    }),
  };
}

/** Key order does not matter for equality of JSON values. */
function canon(v) {
  if (Array.isArray(v)) return v.map(canon);
  if (v && typeof v === "object")
    return Object.fromEntries(Object.keys(v).sort().map((k) => [k, canon(v[k])]));
  return v;
}

function runCase(c) {
  switch (c.type) {
    case "vault": {
      const v =
        c.password !== undefined
          ? Vault.unlock(c.header, c.records, c.password)
          : Vault.unlockWithRecoveryKey(c.header, c.records, c.recovery_key);
      v.verify();
      return snapshot(v);
    }
    case "export": {
      const { vault } = Vault.create("scratch", FAST);
      vault.import(c.file, c.password, 0);
      return snapshot(vault);
    }
    case "inspect":
      return inspect(c.record);
    default:
      throw new Error(`unknown case type ${c.type}`);
  }
}

test("frozen vectors open identically in WASM (every file, counted)", () => {
  const files = readdirSync(vectorsDir).filter((f) => f.endsWith(".json")).sort();
  let ran = 0;
  for (const name of files) {
    const c = JSON.parse(readFileSync(join(vectorsDir, name), "utf8"));
    if (name.startsWith("fail_")) {
      const e = expectCode(() => runCase(c), ErrorCode[toPascal(c.expect.error)]);
      assert.equal(e.codeName, c.expect.error, name);
    } else {
      assert.deepEqual(canon(runCase(c)), canon(c.expect), name);
    }
    ran++;
  }
  assert.equal(ran, EXPECTED_VECTORS, "number of vector cases");
});

function toPascal(name) {
  return name
    .toLowerCase()
    .split("_")
    .map((w) => w[0].toUpperCase() + w.slice(1))
    .join("");
}

test("create, edit, history, diff, tags, favorites, search, reopen", () => {
  const { vault, recoveryKey, store } = newVault();
  const made = vault.createPrompt(
    { title: "Lighthouse", body: "a lighthouse\nin a storm", settings: { model: "sdxl", seed: 7 } },
    { tags: ["Art"], favorite: true },
    1_700_000_000_000,
  );
  store.apply(made.changes);
  for (const r of made.changes.puts) {
    assert.ok(r.bytes instanceof Uint8Array);
    assert.match(r.text, /^[A-Za-z0-9_-]+$/);
  }
  const first = vault.summary(made.promptId).currentVersion;
  const next = vault.addVersion(made.promptId, { title: "Lighthouse", body: "a lighthouse\nat night" });
  store.apply(next.changes);
  store.apply(vault.addTags(made.promptId, ["night", "ART"]));
  assert.deepEqual(vault.summary(made.promptId).tags, ["Art", "night"]);
  assert.equal(vault.history(made.promptId).length, 2);
  assert.deepEqual(vault.diff(made.promptId, first, next.versionId), [
    { op: "equal", text: "a lighthouse" },
    { op: "delete", text: "in a storm" },
    { op: "insert", text: "at night" },
  ]);
  assert.deepEqual(vault.version(made.promptId, first).settings, { model: "sdxl", seed: 7 });
  assert.equal(vault.list({ text: "NIGHT" }).length, 1);
  assert.equal(vault.list({ tags: ["art"], favoritesOnly: true }).length, 1);
  store.apply(vault.setFavorite(made.promptId, false));
  assert.equal(vault.list({ favoritesOnly: true }).length, 0);
  store.apply(vault.setArchived(made.promptId, true));
  assert.equal(vault.list().length, 0);
  assert.equal(vault.list({ archived: "only" }).length, 1);
  store.apply(vault.renameTag("art", "Painting"));
  assert.deepEqual(vault.tags(), [
    { tag: "Painting", count: 1 },
    { tag: "night", count: 1 },
  ]);
  store.apply(vault.removeTags(made.promptId, ["NIGHT"]));

  const seen = vault.seenRevisions();
  const again = Vault.unlock(store.header, store.records.values(), PASSWORD, seen);
  assert.deepEqual(canon(snapshot(again)), canon(snapshot(vault)));
  const byKey = Vault.unlockWithRecoveryKey(store.header, [...store.records.values()], recoveryKey);
  assert.equal(byKey.size, 1);
  byKey.free();

  // Records also cross as base64url text.
  const text = [...store.records.values()].map((b) => Buffer.from(b).toString("base64url"));
  assert.equal(Vault.unlock(Buffer.from(store.header).toString("base64url"), text, PASSWORD).size, 1);
});

test("errors carry stable codes, and the same vault keeps working after each", () => {
  const { vault, store } = newVault();
  const made = vault.createPrompt({ title: "keep", body: "me" });
  store.apply(made.changes);
  const { promptId } = made;
  const other = newVault();
  const file = other.vault.export("export pw", FAST);
  other.store.apply(other.vault.createPrompt({ title: "foreign" }).changes);
  const current = () => vault.summary(promptId).currentVersion;
  const cases = [
    [ErrorCode.InvalidInput, () => vault.createPrompt({ title: " " })],
    [ErrorCode.InvalidInput, () => vault.createPrompt({ title: "x", colour: "red" })],
    [ErrorCode.InvalidInput, () => vault.createPrompt(undefined)],
    [ErrorCode.InvalidInput, () => vault.addVersion(promptId, { title: "x" }, Number.NaN)],
    [ErrorCode.InvalidInput, () => vault.list({ nonsense: true })],
    [ErrorCode.InvalidInput, () => vault.deleteVersion(promptId, current())],
    [ErrorCode.LimitExceeded, () => vault.createPrompt({ title: "t".repeat(5000) })],
    [ErrorCode.NotFound, () => vault.summary("0".repeat(32))],
    [ErrorCode.Encoding, () => vault.summary("xyz")],
    [ErrorCode.Authentication, () => vault.verifyPassword("wrong")],
    [ErrorCode.Authentication, () => vault.import(file, "wrong")],
    [ErrorCode.Authentication, () => vault.merge(other.store.records.values())],
    [ErrorCode.Malformed, () => vault.import(new Uint8Array([1, 2, 3]), "pw")],
    [ErrorCode.Encoding, () => vault.merge(["***"])],
    [ErrorCode.KdfParamsOutOfBounds, () => vault.changePassword("new", { mCostKib: 1 << 30, tCost: 1, pCost: 1 })],
    [ErrorCode.Malformed, () => inspect(new Uint8Array(10))],
  ];
  let n = 0;
  for (const [code, fn] of cases) {
    expectCode(fn, code);
    // Still works: a write, a read, and its changeset persists.
    store.apply(vault.addTags(promptId, [`after-${n++}`]));
    assert.equal(vault.list().length, 1);
  }
  const again = Vault.unlock(store.header, store.records.values(), PASSWORD);
  again.verify();
  assert.equal(again.summary(promptId).tags.length, cases.length);

  // Errors from static calls.
  expectCode(() => Vault.unlock(store.header, [], "wrong"), ErrorCode.Authentication);
  expectCode(() => Vault.unlockWithRecoveryKey(store.header, [], "nope"), ErrorCode.InvalidRecoveryKey);
  expectCode(() => Vault.unlock(store.header, [], PASSWORD, { header: 1e6, prompts: {} }), ErrorCode.Rollback);
  expectCode(() => Vault.create(""), ErrorCode.InvalidInput);
  assert.equal(isPromptVaultError(new Error("x")), false);
  assert.equal(isPromptVaultError({ name: "PromptVaultError", code: 1 }), false);

  // Lock: keys gone, handle still answers with a coded error.
  vault.lock();
  assert.equal(vault.isLocked, true);
  expectCode(() => vault.list(), ErrorCode.InvalidInput);
  vault.free();
});

test("credentials, rotation, export/import, merge, publish, keyless inspect", () => {
  const { vault, recoveryKey, store } = newVault();
  const { promptId, changes } = vault.createPrompt({ title: "Haiku", body: "five seven five" });
  store.apply(changes);
  store.apply(vault.changePassword("second"));
  Vault.unlock(store.header, store.records.values(), "second").free();
  const replaced = vault.replaceRecoveryKey();
  store.apply(replaced.changes);
  assert.notEqual(replaced.recoveryKey, recoveryKey);
  expectCode(() => Vault.unlockWithRecoveryKey(store.header, [], recoveryKey), ErrorCode.Authentication);

  const rotated = vault.rotate("second");
  store.apply(rotated.changes);
  assert.equal(vault.keyGeneration, 2);
  store.apply(vault.finishRotation());
  assert.equal(vault.rotationPending, false);
  Vault.unlock(store.header, store.records.values(), "second").verify();

  const file = vault.export("export pw", FAST);
  assert.ok(file instanceof Uint8Array);
  const target = Vault.create("t", FAST).vault;
  const first = target.import(file, "export pw");
  assert.equal(first.promptsAdded, 1);
  assert.deepEqual(first.refused, []);
  assert.equal(target.import(file, "export pw").promptsAdded, 0);
  assert.deepEqual(target.damagedPrompts(), []);

  const device2 = Vault.unlock(store.header, store.records.values(), "second");
  const edit = device2.addVersion(promptId, { title: "Haiku", body: "offline edit" });
  const report = vault.merge(edit.changes.puts);
  assert.equal(report.versionsAdded, 1);
  assert.deepEqual(report.damaged, []);
  assert.deepEqual(vault.damagedPrompts(), []);
  assert.deepEqual(vault.publish(promptId), { title: "Haiku", body: "offline edit", settings: null });

  const info = inspect(vault.header().text);
  assert.equal(info.kind, "vault-header");
  assert.equal(info.vaultId, vault.id);
  assert.deepEqual(info.kdf, FAST);
  const meta = edit.changes.puts.find((r) => r.kind === "prompt-meta");
  assert.equal(validateForStore(meta.bytes, vault.id, meta.key).promptId, promptId);
  expectCode(() => validateForStore(meta.bytes, "0".repeat(32), meta.key), ErrorCode.WrongVault);
  expectCode(() => validateForStore(meta.bytes, vault.id, "elsewhere"), ErrorCode.InvalidInput);

  // A freed handle throws (a plain Error from the glue), and nothing else is affected.
  device2.free();
  assert.throws(() => device2.list(), Error);
  assert.equal(vault.list().length, 1);
  assert.equal(Vault.unlock(store.header, store.records.values(), "second").size, 1);
});
