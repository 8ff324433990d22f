//! wasm-bindgen-test suite: runs under Node and in headless Chromium
//! (`scripts/test-wasm.sh` runs it in both). Drives the bindings exactly as
//! JS would, through the exported functions and the JS values they return.
#![cfg(target_arch = "wasm32")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::cast_possible_truncation,
    missing_docs,
    unreachable_pub
)]

use std::collections::BTreeMap;

use js_sys::{Array, Object, Reflect, Uint8Array};
use serde_json::{Value, json};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_test::wasm_bindgen_test;

use promptvault_wasm::{
    DraftInput, ErrorCode, KdfInput, QueryInput, RecordInput, RecordList, StringList, Vault,
    inspect, is_promptvault_error,
};

mod vectors {
    include!(concat!(env!("OUT_DIR"), "/vectors.rs"));
}

/// Number of frozen vector files core ships (core/tests/vectors.rs asserts the same).
const EXPECTED_VECTORS: usize = 21;
const PASSWORD: &str = "correct horse ✓";

fn js(v: &Value) -> JsValue {
    js_sys::JSON::parse(&v.to_string()).unwrap()
}

fn to_json(v: &JsValue) -> Value {
    let text: String = js_sys::JSON::stringify(v).unwrap().into();
    serde_json::from_str(&text).unwrap()
}

fn get(obj: &JsValue, key: &str) -> JsValue {
    Reflect::get(obj, &JsValue::from_str(key)).unwrap()
}

fn fast() -> Option<KdfInput> {
    Some(js(&json!({"mCostKib": 19456, "tCost": 1, "pCost": 1})).unchecked_into())
}

fn draft(title: &str, body: &str) -> DraftInput {
    js(&json!({"title": title, "body": body})).unchecked_into()
}

fn tags(list: &[&str]) -> StringList {
    js(&json!(list)).unchecked_into()
}

/// A key-value store that applies changesets exactly as a page would.
#[derive(Default)]
struct Store {
    header: Option<Vec<u8>>,
    records: BTreeMap<String, Vec<u8>>,
}

impl Store {
    fn apply(&mut self, changes: &JsValue) {
        let header = get(changes, "header");
        if !header.is_null() {
            self.header = Some(
                get(&header, "bytes")
                    .unchecked_into::<Uint8Array>()
                    .to_vec(),
            );
        }
        for put in Array::from(&get(changes, "puts")).iter() {
            let key = get(&put, "key").as_string().unwrap();
            let bytes = get(&put, "bytes").unchecked_into::<Uint8Array>().to_vec();
            // The text form is the same record.
            let text = get(&put, "text").as_string().unwrap();
            assert_eq!(promptvault::format::text::decode(&text).unwrap(), bytes);
            self.records.insert(key, bytes);
        }
        for key in Array::from(&get(changes, "deletes")).iter() {
            self.records.remove(&key.as_string().unwrap());
        }
    }

    fn header(&self) -> RecordInput {
        JsValue::from(Uint8Array::from(self.header.as_deref().unwrap())).unchecked_into()
    }

    fn records(&self) -> RecordList {
        let a = Array::new();
        for r in self.records.values() {
            a.push(&Uint8Array::from(r.as_slice()));
        }
        JsValue::from(a).unchecked_into()
    }

    fn records_as_text(&self) -> RecordList {
        let a = Array::new();
        for r in self.records.values() {
            a.push(&JsValue::from_str(&promptvault::format::text::encode(r)));
        }
        JsValue::from(a).unchecked_into()
    }
}

fn new_vault() -> (Vault, String, Store) {
    let created = Vault::create(PASSWORD, fast()).unwrap();
    let created: JsValue = created.into();
    let mut store = Store::default();
    store.apply(&get(&created, "changes"));
    let rk = get(&created, "recoveryKey").as_string().unwrap();
    // The vault is a class instance inside a plain object: take it back out.
    let vault = Vault::unlock(store.header(), store.records(), PASSWORD, None).unwrap();
    (vault, rk, store)
}

fn code_of(err: &JsValue) -> u32 {
    assert!(err.is_instance_of::<js_sys::Error>(), "a real Error");
    assert!(is_promptvault_error(err));
    assert_eq!(
        get(err, "name").as_string().as_deref(),
        Some("PromptVaultError")
    );
    let code = get(err, "code").as_f64().unwrap() as u32;
    let name = get(err, "codeName").as_string().unwrap();
    assert_eq!(
        promptvault::ErrorCode::from_u32(code).unwrap().name(),
        name,
        "codeName matches code"
    );
    code
}

#[wasm_bindgen_test]
fn create_edit_reopen_with_password_and_recovery_key() {
    let (mut v, rk, mut store) = new_vault();
    let made: JsValue = v
        .create_prompt(
            draft("Lighthouse", "a lighthouse\nin a storm"),
            Some(js(&json!({"tags": ["Art", "Straße"], "favorite": true})).unchecked_into()),
            Some(1_700_000_000_000.0),
        )
        .unwrap()
        .into();
    store.apply(&get(&made, "changes"));
    let id = get(&made, "promptId").as_string().unwrap();
    let first = to_json(&v.summary(&id).unwrap().into())["currentVersion"].clone();
    let next: JsValue = v
        .add_version(
            &id,
            draft("Lighthouse", "a lighthouse\nat night"),
            Some(1_700_000_100_000.0),
        )
        .unwrap()
        .into();
    store.apply(&get(&next, "changes"));
    let second = get(&next, "versionId").as_string().unwrap();
    store.apply(
        &v.add_tags(&id, tags(&["ART", "night"]), None)
            .unwrap()
            .into(),
    );

    let history = to_json(&v.history(&id).unwrap().into());
    assert_eq!(history.as_array().unwrap().len(), 2);
    assert_eq!(history[1]["parent"], first);
    let diff: Vec<Value> = v
        .diff(&id, first.as_str().unwrap(), &second)
        .unwrap()
        .iter()
        .map(|l| to_json(l))
        .collect();
    assert_eq!(
        diff,
        vec![
            json!({"op": "equal", "text": "a lighthouse"}),
            json!({"op": "delete", "text": "in a storm"}),
            json!({"op": "insert", "text": "at night"}),
        ]
    );

    // Reopen from what the changesets persisted, with the password (bytes)
    // and with the recovery key (base64url text).
    let seen = v.seen_revisions().unwrap();
    let again = Vault::unlock(store.header(), store.records(), PASSWORD, Some(seen)).unwrap();
    let s = to_json(&again.summary(&id).unwrap().into());
    assert_eq!(s["tags"], json!(["Art", "Straße", "night"]));
    assert_eq!(s["favorite"], json!(true));
    assert_eq!(s["versionCount"], json!(2));
    let body = to_json(&again.version(&id, None).unwrap().into())["body"].clone();
    assert_eq!(body, json!("a lighthouse\nat night"));
    let by_rk = Vault::unlock_with_recovery_key(store.header(), store.records_as_text(), &rk, None)
        .unwrap();
    assert_eq!(by_rk.prompt_ids().unwrap(), vec![id.clone()]);

    // Search, tags, favorites, archive.
    let q = |q: Value| -> Vec<Value> {
        again
            .list(Some(js(&q).unchecked_into::<QueryInput>()))
            .unwrap()
            .iter()
            .map(|s| to_json(s))
            .collect()
    };
    assert_eq!(q(json!({"text": "NIGHT"})).len(), 1);
    assert_eq!(q(json!({"text": "storm"})).len(), 0);
    assert_eq!(q(json!({"tags": ["art"], "favoritesOnly": true})).len(), 1);
    assert_eq!(q(json!({"tags": ["art"], "tagMode": "none"})).len(), 0);
    assert_eq!(
        to_json(&again.tags().unwrap().into())[0],
        json!({"tag": "Art", "count": 1})
    );

    // Lock zeroizes; the handle stays usable and reports it.
    v.lock();
    assert!(v.is_locked());
    let err = v.list(None).err().unwrap();
    assert_eq!(code_of(&err), ErrorCode::InvalidInput as u32);
}

#[wasm_bindgen_test]
fn every_kind_of_error_leaves_the_vault_working() {
    let (mut v, _rk, mut store) = new_vault();
    let made: JsValue = v
        .create_prompt(draft("Keep me", "body"), None, None)
        .unwrap()
        .into();
    store.apply(&get(&made, "changes"));
    let id = get(&made, "promptId").as_string().unwrap();
    let unknown = "0123456789abcdef0123456789abcdef";

    // A foreign vault's export and records, for import/merge errors.
    let (mut other, _, mut other_store) = new_vault();
    let o: JsValue = other
        .create_prompt(draft("other", "x"), None, None)
        .unwrap()
        .into();
    other_store.apply(&get(&o, "changes"));
    let export = other.export("export pw", fast()).unwrap();

    let long_title = "t".repeat(5000);
    type Attempt<'a> = Box<dyn Fn(&mut Vault) -> Result<JsValue, JsValue> + 'a>;
    let kdf_bad = || -> Option<KdfInput> {
        Some(js(&json!({"mCostKib": 1, "tCost": 1, "pCost": 1})).unchecked_into())
    };
    let bytes = |b: &[u8]| -> RecordInput { JsValue::from(Uint8Array::from(b)).unchecked_into() };
    let attempts: Vec<(ErrorCode, Attempt<'_>)> = vec![
        (
            ErrorCode::InvalidInput,
            Box::new(|v: &mut Vault| {
                v.create_prompt(draft("  ", "empty title"), None, None)
                    .map(Into::into)
            }),
        ),
        (
            ErrorCode::InvalidInput,
            Box::new(|v: &mut Vault| {
                let d = js(&json!({"title": "x", "colour": "red"})).unchecked_into();
                v.create_prompt(d, None, None).map(Into::into)
            }),
        ),
        (
            ErrorCode::InvalidInput,
            Box::new(|v: &mut Vault| {
                v.add_version(&id, draft("x", "y"), Some(-1.0))
                    .map(Into::into)
            }),
        ),
        (
            ErrorCode::LimitExceeded,
            Box::new(|v: &mut Vault| {
                v.create_prompt(draft(&long_title, ""), None, None)
                    .map(Into::into)
            }),
        ),
        (
            ErrorCode::NotFound,
            Box::new(|v: &mut Vault| {
                v.add_version(unknown, draft("x", "y"), None)
                    .map(Into::into)
            }),
        ),
        (
            ErrorCode::Encoding,
            Box::new(|v: &mut Vault| v.summary("not hex").map(Into::into)),
        ),
        (
            ErrorCode::Authentication,
            Box::new(|v: &mut Vault| v.verify_password("wrong password").map(|()| JsValue::NULL)),
        ),
        (
            ErrorCode::Authentication,
            Box::new(|v: &mut Vault| v.rotate("wrong password").map(Into::into)),
        ),
        (
            ErrorCode::Authentication,
            Box::new(|v: &mut Vault| {
                v.import(bytes(&export), "not the export password", None)
                    .map(Into::into)
            }),
        ),
        (
            ErrorCode::Malformed,
            Box::new(|v: &mut Vault| v.import(bytes(b"garbage"), "pw", None).map(Into::into)),
        ),
        (
            ErrorCode::Encoding,
            Box::new(|v: &mut Vault| {
                v.merge(js(&json!(["!!not base64!!"])).unchecked_into())
                    .map(Into::into)
            }),
        ),
        (
            ErrorCode::Authentication,
            Box::new(|v: &mut Vault| v.merge(other_store.records()).map(Into::into)),
        ),
        (
            ErrorCode::KdfParamsOutOfBounds,
            Box::new(|v: &mut Vault| v.change_password("new password", kdf_bad()).map(Into::into)),
        ),
        (
            ErrorCode::InvalidInput,
            Box::new(|v: &mut Vault| v.merge(js(&json!(42)).unchecked_into()).map(Into::into)),
        ),
        (
            ErrorCode::InvalidInput,
            Box::new(|v: &mut Vault| {
                let current = to_json(&v.summary(&id).unwrap().into())["currentVersion"]
                    .as_str()
                    .unwrap()
                    .to_owned();
                v.delete_version(&id, &current, None).map(Into::into)
            }),
        ),
        (
            ErrorCode::NotFound,
            Box::new(|v: &mut Vault| v.rename_tag("no such tag", "x", None).map(Into::into)),
        ),
    ];
    for (i, (want, attempt)) in attempts.into_iter().enumerate() {
        let err = attempt(&mut v).expect_err(&format!("attempt {i} must fail"));
        assert_eq!(code_of(&err), want as u32, "attempt {i}: {err:?}");
        // The same object keeps working after the error.
        let c = v
            .add_tags(&id, tags(&[&format!("after-{i}")]), None)
            .unwrap();
        store.apply(&c.into());
        assert_eq!(v.list(None).unwrap().len(), 1);
    }
    // And everything it wrote in between still opens.
    let again = Vault::unlock(store.header(), store.records(), PASSWORD, None).unwrap();
    again.verify().unwrap();
    assert_eq!(
        to_json(&again.summary(&id).unwrap().into())["tags"]
            .as_array()
            .unwrap()
            .len(),
        16
    );
    // The foreign vault is untouched too.
    assert_eq!(other.size().unwrap(), 1);
}

#[wasm_bindgen_test]
fn unlock_errors_have_codes() {
    let (_v, _rk, store) = new_vault();
    let err = Vault::unlock(store.header(), store.records(), "wrong", None).unwrap_err();
    assert_eq!(code_of(&err), ErrorCode::Authentication as u32);
    let err =
        Vault::unlock_with_recovery_key(store.header(), store.records(), "ABC", None).unwrap_err();
    assert_eq!(code_of(&err), ErrorCode::InvalidRecoveryKey as u32);
    let seen = js(&json!({"header": 99, "prompts": {}}));
    let err = Vault::unlock(
        store.header(),
        store.records(),
        PASSWORD,
        Some(seen.unchecked_into()),
    )
    .unwrap_err();
    assert_eq!(code_of(&err), ErrorCode::Rollback as u32);
    let err = Vault::unlock(
        JsValue::from_str("").unchecked_into(),
        store.records(),
        PASSWORD,
        None,
    )
    .unwrap_err();
    assert_eq!(code_of(&err), ErrorCode::Malformed as u32);
    let err = Vault::create("", fast()).err().unwrap();
    assert_eq!(code_of(&err), ErrorCode::InvalidInput as u32);
    // A plain Error is not ours.
    assert!(!is_promptvault_error(&js_sys::Error::new("x").into()));
    assert!(!is_promptvault_error(&Object::new().into()));
}

#[wasm_bindgen_test]
fn credentials_rotation_export_merge_publish() {
    let (mut v, rk, mut store) = new_vault();
    let made: JsValue = v
        .create_prompt(draft("Haiku", "five seven five"), None, None)
        .unwrap()
        .into();
    store.apply(&get(&made, "changes"));
    let id = get(&made, "promptId").as_string().unwrap();

    store.apply(&v.change_password("second password", None).unwrap().into());
    assert!(Vault::unlock(store.header(), store.records(), PASSWORD, None).is_err());
    Vault::unlock(store.header(), store.records(), "second password", None).unwrap();
    Vault::unlock_with_recovery_key(store.header(), store.records(), &rk, None).unwrap();

    let replaced: JsValue = v.replace_recovery_key().unwrap().into();
    store.apply(&get(&replaced, "changes"));
    let rk2 = get(&replaced, "recoveryKey").as_string().unwrap();
    assert!(Vault::unlock_with_recovery_key(store.header(), store.records(), &rk, None).is_err());
    Vault::unlock_with_recovery_key(store.header(), store.records(), &rk2, None).unwrap();

    let rotated: JsValue = v.rotate("second password").unwrap().into();
    store.apply(&get(&rotated, "changes"));
    assert_eq!(v.key_generation().unwrap(), 2);
    store.apply(&v.finish_rotation().unwrap().into());
    assert!(!v.rotation_pending().unwrap());
    let after = Vault::unlock(store.header(), store.records(), "second password", None).unwrap();
    after.verify().unwrap();
    assert_eq!(after.key_generation().unwrap(), 2);

    // Export into a fresh vault, twice: idempotent.
    let file = v.export("export pw", fast()).unwrap();
    let (mut w, _, _) = new_vault();
    let file_js =
        || -> RecordInput { JsValue::from(Uint8Array::from(file.as_slice())).unchecked_into() };
    let r1 = to_json(&get(
        &w.import(file_js(), "export pw", None).unwrap().into(),
        "promptsAdded",
    ));
    let r2 = to_json(&get(
        &w.import(file_js(), "export pw", None).unwrap().into(),
        "promptsAdded",
    ));
    assert_eq!((r1, r2), (json!(1), json!(0)));

    // Merge a second device's records.
    let mut device2 =
        Vault::unlock(store.header(), store.records(), "second password", None).unwrap();
    let edit: JsValue = device2
        .add_version(&id, draft("Haiku", "five seven five, offline"), None)
        .unwrap()
        .into();
    let puts = get(&get(&edit, "changes"), "puts");
    let report: JsValue = v.merge(puts.unchecked_into()).unwrap().into();
    assert_eq!(to_json(&get(&report, "versionsAdded")), json!(1));

    let published = to_json(&v.publish(&id, None).unwrap().into());
    assert_eq!(published["body"], json!("five seven five, offline"));
    assert_eq!(published["settings"], Value::Null);

    // Keyless inspection of what the store holds.
    let header_info = to_json(&inspect(store.header()).unwrap().into());
    assert_eq!(header_info["kind"], json!("vault-header"));
    assert_eq!(header_info["kdf"]["mCostKib"], json!(19456));
    assert_eq!(header_info["vaultId"], json!(v.id().unwrap()));
}

fn snapshot(v: &Vault) -> Value {
    let mut prompts = Vec::new();
    for id in v.prompt_ids().unwrap() {
        let s = to_json(&v.summary(&id).unwrap().into());
        let history = to_json(&v.history(&id).unwrap().into());
        let versions: Vec<Value> = history
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                let full = to_json(
                    &v.version(&id, Some(e["id"].as_str().unwrap().to_owned()))
                        .unwrap()
                        .into(),
                );
                json!({
                    "id": e["id"], "parent": e["parent"], "created": e["created"],
                    "title": full["title"], "body": full["body"], "note": full["note"],
                    "settings": full["settings"],
                })
            })
            .collect();
        prompts.push(json!({
            "id": id, "current": s["currentVersion"], "tags": s["tags"],
            "favorite": s["favorite"], "archived": s["archived"], "versions": versions,
        }));
    }
    json!({ "prompts": prompts })
}

fn run_case(case: &Value) -> Result<Value, JsValue> {
    let text = |k: &str| js(&case[k]).unchecked_into::<RecordInput>();
    match case["type"].as_str().unwrap() {
        "vault" => {
            let records: RecordList = js(&case["records"]).unchecked_into();
            let v = if let Some(pw) = case["password"].as_str() {
                Vault::unlock(text("header"), records, pw, None)?
            } else {
                let rk = case["recovery_key"].as_str().unwrap();
                Vault::unlock_with_recovery_key(text("header"), records, rk, None)?
            };
            v.verify()?;
            Ok(snapshot(&v))
        }
        "export" => {
            let created: JsValue = Vault::create("scratch", fast())?.into();
            let mut v: Vault = Vault::unlock(
                get(&get(&get(&created, "changes"), "header"), "bytes").unchecked_into(),
                JsValue::from(Array::new()).unchecked_into(),
                "scratch",
                None,
            )?;
            v.import(text("file"), case["password"].as_str().unwrap(), Some(0.0))?;
            Ok(snapshot(&v))
        }
        "inspect" => Ok(to_json(&inspect(text("record"))?.into())),
        other => panic!("unknown case type {other}"),
    }
}

#[wasm_bindgen_test]
fn frozen_vectors_open_identically() {
    let mut ran = 0;
    for (name, text) in vectors::VECTORS {
        let case: Value = serde_json::from_str(text).unwrap();
        let got = run_case(&case);
        if name.starts_with("fail_") {
            let want = case["expect"]["error"].as_str().unwrap();
            let err = got.expect_err(&format!("{name} must fail with {want}"));
            let code = code_of(&err);
            assert_eq!(
                get(&err, "codeName").as_string().as_deref(),
                Some(want),
                "{name} (code {code})"
            );
        } else {
            let got = got.unwrap_or_else(|e| panic!("{name}: {e:?}"));
            assert_eq!(got, case["expect"], "{name}");
        }
        ran += 1;
    }
    assert_eq!(ran, EXPECTED_VECTORS, "number of vector cases");
}

/// JSON of the `{promptId, code, message, versionCount}` objects the
/// bindings must give for core's damaged prompts.
fn damaged_json(list: &[promptvault::DamagedPrompt]) -> Value {
    Value::Array(
        list.iter()
            .map(|d| {
                json!({
                    "promptId": d.id.to_hex(),
                    "code": d.reason.code().as_u32(),
                    "message": d.reason.js_message(),
                    "versionCount": d.versions,
                })
            })
            .collect(),
    )
}

/// Degraded reads (issue 12): a damaged prompt, a merge that brings one, and
/// an import that refuses a prompt, built with core's test hooks and read
/// through the bindings; each result must be core's, converted.
#[wasm_bindgen_test]
fn damaged_prompts_and_refused_imports_are_core_s_converted() {
    use promptvault::{
        Credential, Draft, KdfParams, MemoryStore, Password, Timestamp, Vault as Core,
        unchecked_export_for_tests,
    };
    let pw = Password::new(PASSWORD).unwrap();
    let params = KdfParams::new(19456, 1, 1).unwrap();
    let created = Core::create(&pw, params).unwrap();
    let mut core = created.vault;
    let mut s = MemoryStore::new();
    s.apply(&created.changes);
    let header = |s: &MemoryStore| -> RecordInput {
        JsValue::from(Uint8Array::from(s.header().unwrap())).unchecked_into()
    };
    let records = |s: &MemoryStore| -> RecordList {
        let list = Array::new();
        for r in s.record_bytes() {
            list.push(&Uint8Array::from(r));
        }
        JsValue::from(list).unchecked_into()
    };

    // A vault with nothing damaged: empty list.
    let mut clean = Vault::unlock(header(&s), records(&s), PASSWORD, None).unwrap();
    assert_eq!(to_json(&clean.damaged_prompts().unwrap().into()), json!([]));

    // A client holding the keys writes metadata that breaks a rule.
    let (bad, c) = core
        .create_prompt(
            &Draft {
                title: "bad".into(),
                ..Draft::default()
            },
            &[],
            false,
            Timestamp(1),
        )
        .unwrap();
    s.apply(&c);
    let mut meta: Value = serde_json::from_slice(&core.meta_json_for_tests(bad).unwrap()).unwrap();
    meta["tags"] = json!([""]);
    s.apply(
        &core
            .unchecked_meta_for_tests(bad, &serde_json::to_vec(&meta).unwrap())
            .unwrap(),
    );
    let opened = Core::open(
        s.header().unwrap(),
        s.record_bytes(),
        Credential::Password(&pw),
    )
    .unwrap();
    let want = damaged_json(&opened.damaged_prompts());
    assert_eq!(want.as_array().unwrap().len(), 1);
    assert_eq!(want[0]["promptId"], json!(bad.to_hex()));
    let mut v = Vault::unlock(header(&s), records(&s), PASSWORD, None).unwrap();
    assert_eq!(to_json(&v.damaged_prompts().unwrap().into()), want);
    // The code is one of the JS `ErrorCode`s, named as errors name it.
    let code = want[0]["code"].as_u64().unwrap() as u32;
    assert!(promptvault::ErrorCode::from_u32(code).is_some());

    // A merge that brings it keeps it damaged and says so, as core does.
    let mut core_clean = Core::open(
        s.header().unwrap(),
        Vec::<&[u8]>::new(),
        Credential::Password(&pw),
    )
    .unwrap();
    let core_merge = core_clean.merge(s.record_bytes()).unwrap();
    let report: JsValue = clean.merge(records(&s)).unwrap().into();
    assert_eq!(
        to_json(&get(&report, "damaged")),
        damaged_json(&core_merge.damaged)
    );
    assert_eq!(core_merge.damaged.len(), 1);
    assert_eq!(
        to_json(&clean.damaged_prompts().unwrap().into()),
        damaged_json(&core_clean.damaged_prompts())
    );

    // An export whose one prompt does not parse: refused alone, as core
    // refuses it (the Node tests check a healthy import's empty list).
    let export_pw = Password::new("export pw").unwrap();
    let payload = json!({
        "format": "promptvault-export/1",
        "prompts": [{"id": "0123456789abcdef0123456789abcdef", "meta": {"hello": 1}, "versions": {}}],
    });
    let file =
        unchecked_export_for_tests(payload.to_string().as_bytes(), &export_pw, params).unwrap();
    let core_report = opened
        .clone()
        .import(&file, &export_pw, Timestamp(5))
        .unwrap();
    assert_eq!(core_report.refused.len(), 1);
    let want_refused: Value = core_report
        .refused
        .iter()
        .map(|r| {
            json!({
                "promptId": r.id.to_hex(),
                "code": r.reason.code().as_u32(),
                "message": r.reason.to_string(),
            })
        })
        .collect();
    let file_js: RecordInput = JsValue::from(Uint8Array::from(file.as_slice())).unchecked_into();
    let report: JsValue = v.import(file_js, "export pw", Some(5.0)).unwrap().into();
    assert_eq!(to_json(&get(&report, "refused")), want_refused);
    assert_eq!(to_json(&get(&report, "promptsAdded")), json!(0));
}

/// Error texts are JS-style (issue 13): camelCase names, no Rust syntax, no
/// JSON line/column positions, no Rust type names.
#[wasm_bindgen_test]
fn error_texts_are_js_style() {
    let message = |err: JsValue| -> String { get(&err, "message").as_string().unwrap() };
    let rustisms = [
        "_cost",
        "..=",
        " at line ",
        " column ",
        "`",
        "u32",
        "struct ",
    ];
    let check = |text: &str| {
        for r in rustisms {
            assert!(!text.contains(r), "{r:?} in {text:?}");
        }
    };

    let kdf: KdfInput = js(&json!({"mCostKib": 1000, "tCost": 3, "pCost": 1})).unchecked_into();
    let err = Vault::create(PASSWORD, Some(kdf)).err().unwrap();
    assert_eq!(code_of(&err), ErrorCode::KdfParamsOutOfBounds as u32);
    let text = message(err);
    assert!(text.contains("mCostKib is 1000"), "{text}");
    assert!(text.contains("19456 to 1048576"), "{text}");
    check(&text);

    let (mut v, _rk, _store) = new_vault();
    let typo: DraftInput = js(&json!({"title": "t", "bodyy": "b"})).unchecked_into();
    let err = v.create_prompt(typo, None, None).err().unwrap();
    assert_eq!(code_of(&err), ErrorCode::InvalidInput as u32);
    let text = message(err);
    assert!(text.contains("unknown field \"bodyy\""), "{text}");
    check(&text);

    let wrong: DraftInput = js(&json!({"title": 5})).unchecked_into();
    let text = message(v.create_prompt(wrong, None, None).err().unwrap());
    check(&text);
    let kdf: KdfInput = js(&json!({"mCostKib": "lots", "tCost": 3, "pCost": 1})).unchecked_into();
    let text = message(Vault::create(PASSWORD, Some(kdf)).err().unwrap());
    assert!(text.contains("mCostKib"), "{text}");
    check(&text);
}

/// The hand-kept `RecordKindName` union in `types.ts` names every kind the
/// core can report (a kind added to the core and not here would type an
/// `inspect` result wrongly).
#[wasm_bindgen_test]
fn the_typescript_kind_names_are_the_cores() {
    const TYPES_TS: &str = include_str!("../src/types.ts");
    let union = TYPES_TS
        .split("export type RecordKindName =")
        .nth(1)
        .and_then(|rest| rest.split(';').next())
        .expect("RecordKindName in types.ts");
    let listed: Vec<&str> = union
        .split('|')
        .map(|s| s.trim().trim_matches('"'))
        .filter(|s| !s.is_empty())
        .collect();
    let core: Vec<&str> = (0..=u8::MAX)
        .filter_map(promptvault::RecordKind::from_u8)
        .map(promptvault::RecordKind::name)
        .collect();
    assert_eq!(listed, core);
}

fn answer(status: u16, body: &Value) -> promptvault_wasm::HttpAnswer {
    js(&json!({"status": status, "body": body.to_string()})).unchecked_into()
}

fn request_json(step: &JsValue) -> (String, Value) {
    let request = get(step, "request");
    assert_eq!(get(&request, "method").as_string().as_deref(), Some("POST"));
    let body = get(&request, "body")
        .dyn_into::<Uint8Array>()
        .unwrap()
        .to_vec();
    (
        get(&request, "path").as_string().unwrap(),
        serde_json::from_slice(&body).unwrap(),
    )
}

/// The sync binding drives core's machine with typed requests and answers:
/// a first sync against an empty server pulls, pushes one commit, ends;
/// the state blob round-trips; the caller's mistakes are typed errors.
#[wasm_bindgen_test]
fn a_sync_run_is_core_s_machine_with_typed_requests() {
    use promptvault_wasm::{Store as SyncStore, SyncRun, SyncState};
    let (mut vault, _, _) = new_vault();
    vault
        .create_prompt(draft("Lighthouse", "a storm"), None, Some(1.0))
        .unwrap();
    let mut store = SyncStore::from_vault(&vault).unwrap();
    assert_eq!(store.size(), 3); // item key, metadata, version
    let mut state = SyncState::new();
    let mut run = SyncRun::new(&vault, &mut state).unwrap();
    let step: JsValue = run.step().unwrap().into();
    assert_eq!(get(&step, "done"), JsValue::FALSE);
    assert_eq!(
        request_json(&step),
        ("/v1/pull".to_owned(), json!({"after": 0}))
    );

    // Bad answers are the caller's (INVALID_INPUT) or the transport's.
    let not_answer: promptvault_wasm::HttpAnswer = JsValue::from(3).unchecked_into();
    let err = run
        .resume(&mut vault, &mut store, &mut state, not_answer)
        .map(|_| ())
        .unwrap_err();
    assert_eq!(code_of(&err), ErrorCode::InvalidInput as u32);
    let err = run
        .resume(&mut vault, &mut store, &mut state, answer(502, &json!("")))
        .map(|_| ())
        .unwrap_err();
    assert_eq!(code_of(&err), ErrorCode::Transport as u32);
    let refused = json!({"error": {"code": "unauthorized", "message": "log in"}});
    let err = run
        .resume(&mut vault, &mut store, &mut state, answer(401, &refused))
        .map(|_| ())
        .unwrap_err();
    assert_eq!(code_of(&err), ErrorCode::ServerRefused as u32);
    assert_eq!(get(&err, "httpStatus").as_f64(), Some(401.0));
    assert_eq!(
        get(&err, "serverCode").as_string().as_deref(),
        Some("unauthorized")
    );

    // An empty server: nothing to pull, then one commit with everything.
    let page = json!({"status": "changes", "changes": [], "cursor": 0, "more": false});
    let step: JsValue = run
        .resume(&mut vault, &mut store, &mut state, answer(200, &page))
        .unwrap()
        .into();
    assert_eq!(get(&step, "persist"), JsValue::TRUE);
    let (path, body) = request_json(&step);
    assert_eq!(path, "/v1/commit");
    // The header, the three records and the checkpoint.
    assert_eq!(body["puts"].as_array().unwrap().len(), 5, "{body}");
    let accepted = json!({"status": "accepted", "cursor": 1});
    let done: JsValue = run
        .resume(&mut vault, &mut store, &mut state, answer(200, &accepted))
        .unwrap()
        .into();
    assert_eq!(get(&done, "done"), JsValue::TRUE);
    let report = to_json(&get(&done, "report"));
    assert_eq!(report["commits"], json!(1));
    assert_eq!(report["pushed"], json!(5));
    assert_eq!(report["cursor"], json!(1));
    assert_eq!(state.cursor(), 1.0);
    assert_eq!(state.vault_id(), Some(vault.id().unwrap()));
    let err = run
        .resume(&mut vault, &mut store, &mut state, answer(200, &accepted))
        .map(|_| ())
        .unwrap_err();
    assert_eq!(code_of(&err), ErrorCode::NotFound as u32);

    // The blob the app persists reads back as the same state.
    let again = SyncState::from_bytes(&state.to_bytes().unwrap()).unwrap();
    assert_eq!(again.to_bytes().unwrap(), state.to_bytes().unwrap());
    let err = SyncState::from_bytes(b"{}x").unwrap_err();
    assert_eq!(code_of(&err), ErrorCode::Encoding as u32);
    let bundle = store.to_bundle().unwrap();
    assert_eq!(
        SyncStore::from_bundle(&bundle)
            .unwrap()
            .to_bundle()
            .unwrap(),
        bundle
    );
}
