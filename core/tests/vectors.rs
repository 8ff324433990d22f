//! Frozen format-v1 test vectors: one JSON file per case in `tests/vectors/`,
//! must-fail cases prefixed `fail_`. One table-driven runner checks them all
//! and asserts how many ran; `generate_vectors` (ignored) writes fresh ones.
//!
//! Case shapes (see `tests/vectors/README.md`):
//! - `"type": "vault"`: `header`, `records` (base64url), `password` or
//!   `recovery_key`; open, verify every version, compare with `expect`.
//! - `"type": "export"`: `file`, `password`; import into a fresh vault and
//!   compare with `expect`.
//! - `"type": "inspect"`: `record`; the keyless API's view, or its error.
// Test code: unwrap/expect/indexing/panic are how a test fails, and failing
// loudly is the point; the library itself denies them (workspace lints).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::print_stdout,
    missing_docs
)]

use std::path::{Path, PathBuf};

use promptvault::format::text;
use promptvault::{
    Credential, Draft, Error, KdfParams, MemoryStore, Password, RecordKind, RecoveryKey,
    SealedRecord, Timestamp, Vault,
};
use serde_json::{Value, json};

const EXPECTED_CASES: usize = 21;

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors")
}

fn fast() -> KdfParams {
    KdfParams::new(KdfParams::MIN_M_COST_KIB, 1, 1).unwrap()
}

/// The observable state of a vault, as vectors record it.
fn snapshot(v: &Vault) -> Value {
    let mut prompts = Vec::new();
    for id in v.prompt_ids() {
        let s = v.summary(id).unwrap();
        let versions: Vec<Value> = v
            .history(id)
            .unwrap()
            .iter()
            .map(|e| {
                let full = v.version(id, Some(e.id)).unwrap();
                json!({
                    "id": e.id.to_hex(),
                    "parent": e.parent.map(|p| p.to_hex()),
                    "created": e.created.0,
                    "title": full.title,
                    "body": full.body,
                    "note": full.note,
                    "settings": full.settings,
                })
            })
            .collect();
        prompts.push(json!({
            "id": id.to_hex(),
            "current": s.current_version.to_hex(),
            "tags": s.tags,
            "favorite": s.favorite,
            "archived": s.archived,
            "versions": versions,
        }));
    }
    json!({ "prompts": prompts })
}

fn code_of(e: &Error) -> &'static str {
    e.code().name()
}

fn b64(bytes: &[u8]) -> String {
    text::encode(bytes)
}

fn unb64(v: &Value) -> Vec<u8> {
    text::decode(v.as_str().unwrap()).unwrap()
}

fn run_case(name: &str, case: &Value) -> Result<Value, Error> {
    match case["type"].as_str().unwrap() {
        "vault" => {
            let header = unb64(&case["header"]);
            let records: Vec<Vec<u8>> = case["records"]
                .as_array()
                .unwrap()
                .iter()
                .map(unb64)
                .collect();
            let pw;
            let rk;
            let cred = if let Some(p) = case["password"].as_str() {
                pw = Password::new(p)?;
                Credential::Password(&pw)
            } else {
                rk = RecoveryKey::parse(case["recovery_key"].as_str().unwrap())?;
                Credential::RecoveryKey(&rk)
            };
            let v = Vault::open(&header, &records, cred)?;
            v.verify()?;
            Ok(snapshot(&v))
        }
        "export" => {
            let file = unb64(&case["file"]);
            let mut v = Vault::create(&Password::new("scratch")?, fast())?.vault;
            v.import(
                &file,
                &Password::new(case["password"].as_str().unwrap())?,
                Timestamp(0),
            )?;
            Ok(snapshot(&v))
        }
        "inspect" => {
            let info = promptvault::inspect::inspect_text(case["record"].as_str().unwrap())?;
            Ok(serde_json::to_value(info).unwrap())
        }
        other => panic!("{name}: unknown case type {other}"),
    }
}

#[test]
fn frozen_vectors() {
    let mut ran = 0;
    let mut entries: Vec<_> = std::fs::read_dir(dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
    {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let case: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        let got = run_case(&name, &case);
        if name.starts_with("fail_") {
            let want = case["expect"]["error"].as_str().unwrap();
            match got {
                Err(e) => assert_eq!(code_of(&e), want, "{name}: {e}"),
                Ok(_) => panic!("{name}: must fail with {want}, but succeeded"),
            }
        } else {
            let got = got.unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(got, case["expect"], "{name}");
        }
        ran += 1;
    }
    assert_eq!(ran, EXPECTED_CASES, "number of vector cases");
}

/// Every single-byte flip of every record of the frozen vault vector gives
/// the opaque error; every flip of its header fails too (with the opaque
/// error or a typed structural one), never succeeds and never panics.
#[test]
fn every_byte_of_the_vector_vault_is_bound() {
    let case: Value =
        serde_json::from_slice(&std::fs::read(dir().join("vault_password.json")).unwrap()).unwrap();
    let header = unb64(&case["header"]);
    let records: Vec<Vec<u8>> = case["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(unb64)
        .collect();
    let pw = Password::new(case["password"].as_str().unwrap()).unwrap();
    let empty = Vault::open(&header, Vec::<Vec<u8>>::new(), Credential::Password(&pw)).unwrap();
    let mut flips = 0;
    for (i, rec) in records.iter().enumerate() {
        for at in 0..rec.len() {
            let mut all = records.clone();
            all[i][at] ^= 0x01;
            let mut v = empty.clone();
            let err = v.merge(&all).and_then(|_| v.verify()).unwrap_err();
            assert_eq!(err, Error::Authentication, "record {i} byte {at}");
            flips += 1;
        }
    }
    assert!(flips > 1000);
    // The header: one KDF run per flip, so a stride keeps this quick while
    // touching every field; the slots and the seal are covered byte by byte.
    for at in (0..header.len()).filter(|at| at % 5 == 0 || *at >= 100) {
        let mut bad = header.clone();
        bad[at] ^= 0x01;
        let got = Vault::open(&bad, &records, Credential::Password(&pw));
        assert!(got.is_err(), "header byte {at} flipped still opened");
    }
}

fn write(name: &str, value: &Value) {
    let mut text = serde_json::to_string_pretty(value).unwrap();
    text.push('\n');
    std::fs::write(dir().join(name), text).unwrap();
    println!("wrote {name}");
}

fn records_of(store: &MemoryStore) -> Vec<String> {
    store.records().map(|r| b64(r.as_bytes())).collect()
}

/// `inspect_checkpoint`: the keyless view of a checkpoint record (kind 8,
/// SPEC §12.11) as the sync engine seals it, for a vault of one prompt.
fn checkpoint_vector() -> Value {
    let created = Vault::create(&Password::new("checkpoint vector").unwrap(), fast()).unwrap();
    let mut store = MemoryStore::new();
    store.apply(&created.changes);
    let mut v = created.vault;
    let (_, c) = v
        .create_prompt(
            &Draft {
                title: "Harbour".into(),
                ..Draft::default()
            },
            &[],
            false,
            Timestamp(1_700_000_000_000),
        )
        .unwrap();
    store.apply(&c);
    let prepared = promptvault::sync::SyncState::new()
        .prepare_commit(&v, &store)
        .unwrap()
        .unwrap();
    let record = prepared
        .request
        .puts
        .iter()
        .find(|p| text::decode(&p.record).is_ok_and(|b| b.get(5) == Some(&8)))
        .map(|p| p.record.clone())
        .expect("a first commit carries the checkpoint");
    let info = promptvault::inspect::inspect_text(&record).unwrap();
    json!({"type": "inspect", "description": "keyless view of a checkpoint record (kind 8): the sealed list of prompts a server must hold", "record": record, "expect": info})
}

#[test]
#[ignore = "writes the checkpoint vector; run by hand, review, commit"]
fn generate_checkpoint_vector() {
    write("inspect_checkpoint.json", &checkpoint_vector());
}

#[test]
#[ignore = "writes fresh vectors; run by hand, review, commit"]
fn generate_vectors() {
    write("inspect_checkpoint.json", &checkpoint_vector());
    let password = "vector password ✓";
    let created = Vault::create(&Password::new(password).unwrap(), fast()).unwrap();
    let rk = created.recovery_key.to_display_string().to_string();
    let mut store = MemoryStore::new();
    store.apply(&created.changes);
    let mut v = created.vault;
    let (p1, c) = v
        .create_prompt(
            &Draft {
                title: "Lighthouse".into(),
                body: "a lighthouse in a storm,\noil painting".into(),
                // JCS (SPEC §6): stored as {"cfg":7.5,"model":"sdxl","scale":1000,
                // "steps":30,"😀":…,"｡":…} — ECMAScript numbers, and members
                // in UTF-16 order (U+1F600 is D83D DE00, before U+FF61).
                settings: Some(
                    serde_json::from_str(
                        r#"{"model": "sdxl", "steps": 30, "cfg": 7.50, "scale": 1e3,
                            "\uff61": "after the emoji in UTF-16 order", "😀": "non-BMP key"}"#,
                    )
                    .unwrap(),
                ),
                note: "first try".into(),
            },
            &["Art".into(), "Straße".into()],
            true,
            Timestamp(1_700_000_000_000),
        )
        .unwrap();
    store.apply(&c);
    let (_, c) = v
        .add_version(
            p1,
            &Draft {
                title: "Lighthouse".into(),
                body: "a lighthouse in a storm at night,\noil painting".into(),
                settings: None,
                note: "darker".into(),
            },
            Timestamp(1_700_000_100_000),
        )
        .unwrap();
    store.apply(&c);
    let (p2, c) = v
        .create_prompt(
            &Draft {
                title: "Haiku bot".into(),
                body: "You are a poet who answers only in haiku.".into(),
                settings: None,
                note: String::new(),
            },
            &["llm".into()],
            false,
            Timestamp(1_700_000_200_000),
        )
        .unwrap();
    store.apply(&c);
    store.apply(
        &v.set_archived(p2, true, Timestamp(1_700_000_300_000))
            .unwrap(),
    );
    let expect = snapshot(&v);
    let header = b64(store.header().unwrap());
    let records = records_of(&store);

    write(
        "vault_password.json",
        &json!({"type": "vault", "description": "two prompts, two versions, tags, favorite, archive; opened with the password",
                "password": password, "header": header, "records": records, "expect": expect}),
    );
    write(
        "vault_recovery.json",
        &json!({"type": "vault", "description": "the same vault opened with its recovery key",
                "recovery_key": rk, "header": header, "records": records, "expect": expect}),
    );
    write(
        "fail_wrong_password.json",
        &json!({"type": "vault", "description": "wrong password", "password": "not the password",
                "header": header, "records": records, "expect": {"error": "AUTHENTICATION"}}),
    );

    // One byte flipped in the ciphertext of a version record.
    let version_idx = store
        .records()
        .position(|r| r.kind() == RecordKind::PromptVersion)
        .unwrap();
    let mut flipped: Vec<Vec<u8>> = store.records().map(|r| r.as_bytes().to_vec()).collect();
    let n = flipped[version_idx].len();
    flipped[version_idx][n - 20] ^= 0x01;
    write(
        "fail_flipped_byte.json",
        &json!({"type": "vault", "description": "one ciphertext byte of a version record flipped", "password": password,
                "header": header, "records": flipped.iter().map(|r| b64(r)).collect::<Vec<_>>(),
                "expect": {"error": "AUTHENTICATION"}}),
    );
    // The metadata record flipped in its header's revision field (AAD).
    let meta_idx = store
        .records()
        .position(|r| r.kind() == RecordKind::PromptMeta)
        .unwrap();
    let mut flipped: Vec<Vec<u8>> = store.records().map(|r| r.as_bytes().to_vec()).collect();
    flipped[meta_idx][60] ^= 0x02;
    write(
        "fail_flipped_header_byte.json",
        &json!({"type": "vault", "description": "metadata revision (associated data) changed", "password": password,
                "header": header, "records": flipped.iter().map(|r| b64(r)).collect::<Vec<_>>(),
                "expect": {"error": "AUTHENTICATION"}}),
    );
    // A version record of prompt 1 relabelled as belonging to prompt 2.
    let mut moved: Vec<Vec<u8>> = store.records().map(|r| r.as_bytes().to_vec()).collect();
    let p1_version = store
        .records()
        .find(|r| r.kind() == RecordKind::PromptVersion && r.header().prompt_id() == Some(p1))
        .unwrap();
    let mut m = p1_version.as_bytes().to_vec();
    m[28..44].copy_from_slice(p2.as_bytes());
    moved.push(m);
    write(
        "fail_moved_record.json",
        &json!({"type": "vault", "description": "a version record moved to another prompt", "password": password,
                "header": header, "records": moved.iter().map(|r| b64(r)).collect::<Vec<_>>(),
                "expect": {"error": "AUTHENTICATION"}}),
    );
    // A dropped version record (listed in metadata, absent).
    let dropped: Vec<String> = store
        .records()
        .filter(|r| r.storage_key() != p1_version.storage_key())
        .map(|r| b64(r.as_bytes()))
        .collect();
    write(
        "fail_dropped_version.json",
        &json!({"type": "vault", "description": "a version record dropped by the server", "password": password,
                "header": header, "records": dropped, "expect": {"error": "MISSING_RECORD"}}),
    );
    // The password slot's key commitment (SPEC §4.1) flipped: refused
    // before its AEAD is opened, with the same opaque error.
    let mut committed = store.header().unwrap().to_vec();
    committed[72 + 28] ^= 0x01;
    write(
        "fail_flipped_commitment.json",
        &json!({"type": "vault", "description": "first byte of the password slot's key commitment flipped", "password": password,
                "header": b64(&committed), "records": records, "expect": {"error": "AUTHENTICATION"}}),
    );
    // A hostile KDF header: m = 4 GiB.
    let mut hostile = store.header().unwrap().to_vec();
    hostile[72..76].copy_from_slice(&(4u32 * 1024 * 1024).to_le_bytes());
    write(
        "fail_hostile_kdf.json",
        &json!({"type": "vault", "description": "header asks for m = 4 GiB; refused before any work", "password": password,
                "header": b64(&hostile), "records": [], "expect": {"error": "KDF_PARAMS_OUT_OF_BOUNDS"}}),
    );
    let mut hostile_t = store.header().unwrap().to_vec();
    hostile_t[76..80].copy_from_slice(&1000u32.to_le_bytes());
    write(
        "fail_hostile_kdf_time.json",
        &json!({"type": "vault", "description": "header asks for t = 1000", "password": password,
                "header": b64(&hostile_t), "records": [], "expect": {"error": "KDF_PARAMS_OUT_OF_BOUNDS"}}),
    );

    // A rotated vault (generation 2) whose rotation was applied only in part.
    let mut rotated_store = store.clone();
    let (_, mut rc) = v.rotate(&Password::new(password).unwrap()).unwrap();
    rc.puts.truncate(rc.puts.len() / 2);
    rc.deletes.clear();
    rotated_store.apply(&rc);
    write(
        "vault_rotation_interrupted.json",
        &json!({"type": "vault", "description": "generation 2 header with generation 1 key kept; half the records re-encrypted",
                "password": password, "header": b64(rotated_store.header().unwrap()),
                "records": records_of(&rotated_store), "expect": expect}),
    );

    // Export file.
    let export = v
        .export(&Password::new("export password").unwrap(), fast())
        .unwrap();
    write(
        "export_basic.json",
        &json!({"type": "export", "description": "export file with every prompt and version", "password": "export password",
                "file": b64(&export), "expect": expect}),
    );
    write(
        "fail_export_wrong_password.json",
        &json!({"type": "export", "description": "export file, wrong password", "password": "nope",
                "file": b64(&export), "expect": {"error": "AUTHENTICATION"}}),
    );

    // Keyless inspection.
    let meta = store
        .records()
        .find(|r| r.kind() == RecordKind::PromptMeta)
        .unwrap()
        .clone();
    let info = promptvault::inspect::inspect(meta.as_bytes()).unwrap();
    write(
        "inspect_meta.json",
        &json!({"type": "inspect", "description": "keyless view of a metadata record", "record": b64(meta.as_bytes()),
                "expect": serde_json::to_value(info).unwrap()}),
    );
    let info = promptvault::inspect::inspect(store.header().unwrap()).unwrap();
    write(
        "inspect_header.json",
        &json!({"type": "inspect", "description": "keyless view of a vault header", "record": header,
                "expect": serde_json::to_value(info).unwrap()}),
    );
    let mut newer = meta.as_bytes().to_vec();
    newer[4] = 2;
    write(
        "fail_inspect_newer_version.json",
        &json!({"type": "inspect", "description": "format version 2 is not readable by this release",
                "record": b64(&newer), "expect": {"error": "UNSUPPORTED_VERSION"}}),
    );
    let truncated = &meta.as_bytes()[..meta.as_bytes().len() - 1];
    write(
        "fail_inspect_truncated.json",
        &json!({"type": "inspect", "description": "record one byte short", "record": b64(truncated),
                "expect": {"error": "MALFORMED"}}),
    );
    let _ = SealedRecord::from_bytes(meta.into_bytes()).unwrap();

    // A history long enough for one index segment (SPEC §6.4): 70
    // versions, the oldest 64 in a `prompt-index` record, 6 in the tail.
    let seg_created = Vault::create(&Password::new(password).unwrap(), fast()).unwrap();
    let mut seg_store = MemoryStore::new();
    seg_store.apply(&seg_created.changes);
    let mut sv = seg_created.vault;
    let (sp, c) = sv
        .create_prompt(
            &Draft {
                title: "Segmented 00".into(),
                body: "version 00".into(),
                settings: None,
                note: String::new(),
            },
            &["long".into()],
            false,
            Timestamp(1_700_000_000_000),
        )
        .unwrap();
    seg_store.apply(&c);
    for i in 1..70u64 {
        let (_, c) = sv
            .add_version(
                sp,
                &Draft {
                    title: format!("Segmented {i:02}"),
                    body: format!("version {i:02}"),
                    settings: None,
                    note: format!("edit {i}"),
                },
                Timestamp(1_700_000_000_000 + i * 1000),
            )
            .unwrap();
        seg_store.apply(&c);
    }
    let segment = seg_store
        .records()
        .find(|r| r.kind() == RecordKind::PromptIndex)
        .unwrap()
        .clone();
    assert_eq!(
        seg_store
            .records()
            .filter(|r| r.kind() == RecordKind::PromptIndex)
            .count(),
        1
    );
    let seg_header = b64(seg_store.header().unwrap());
    write(
        "vault_segments.json",
        &json!({"type": "vault", "description": "one prompt of 70 versions: 64 index entries in a prompt-index segment, 6 in the metadata's tail",
                "password": password, "header": seg_header, "records": records_of(&seg_store),
                "expect": snapshot(&sv)}),
    );
    let without: Vec<String> = seg_store
        .records()
        .filter(|r| r.kind() != RecordKind::PromptIndex)
        .map(|r| b64(r.as_bytes()))
        .collect();
    write(
        "fail_dropped_segment.json",
        &json!({"type": "vault", "description": "the index segment the metadata lists dropped by the server", "password": password,
                "header": seg_header, "records": without, "expect": {"error": "MISSING_RECORD"}}),
    );
    let info = promptvault::inspect::inspect(segment.as_bytes()).unwrap();
    write(
        "inspect_segment.json",
        &json!({"type": "inspect", "description": "keyless view of a prompt-index segment record", "record": b64(segment.as_bytes()),
                "expect": serde_json::to_value(info).unwrap()}),
    );
}
