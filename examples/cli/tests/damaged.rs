//! Issue 12 item 1 through the real binary: a crafted export (65 tags)
//! cannot brick the vault, and a prompt with rule-breaking metadata is
//! reported by `list` and removable with `rm`.
// Test code: unwrap/expect/indexing/panic are how a test fails, and failing
// loudly is the point; the library itself denies them (workspace lints).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use promptvault::{Credential, KdfParams, MemoryStore, Password, PromptId, Vault};

const PW: &str = "correct horse battery";
const EXPORT_PW: &str = "export pw";

fn run(vault: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_promptvault"))
        .args(args)
        .env("PROMPTVAULT_VAULT", vault)
        .env("PROMPTVAULT_PASSWORD", PW)
        .env("PROMPTVAULT_EXPORT_PASSWORD", EXPORT_PW)
        .env_remove("PROMPTVAULT_NEW_PASSWORD")
        .env_remove("PROMPTVAULT_RECOVERY_KEY")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn ok(vault: &Path, args: &[&str]) -> (String, String) {
    let o = run(vault, args);
    let (out, err) = (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    );
    assert!(o.status.success(), "{args:?} failed: {err}");
    (out, err)
}

fn setup() -> (tempfile::TempDir, PathBuf, String) {
    let dir = tempfile::tempdir().unwrap();
    let vault = dir.path().join("v.pvlt");
    ok(
        &vault,
        &["init", "--kdf-memory-mib", "19", "--kdf-time", "1"],
    );
    let (out, _) = ok(&vault, &["add", "--title", "kept", "--body", "b"]);
    let id = out.trim().strip_prefix("Added ").unwrap().to_owned();
    (dir, vault, id)
}

#[test]
fn an_export_with_65_tags_does_not_brick_the_vault() {
    let (dir, vault, _) = setup();
    let tags: Vec<String> = (0..65).map(|i| format!("t{i}")).collect();
    let id = format!("{:032x}", 7);
    let vid = format!("{:032x}", 8);
    // The version index (SPEC §6.1): one entry, id 8 ‖ created 1 (u64 LE).
    let mut entry = 8u128.to_be_bytes().to_vec();
    entry.extend(1u64.to_le_bytes());
    let index = promptvault::format::text::encode(&entry);
    let payload = serde_json::json!({"format": "promptvault-export/1", "prompts": [{
        "id": id,
        "meta": {"archived": false, "created": 1, "current": vid, "deleted": "",
                 "favorite": false, "tags": tags, "title": "bad", "updated": 1,
                 "versions": index},
        "versions": {vid.clone(): {"title": "bad", "body": "", "settings": null, "note": "",
                                   "created": 1, "parent": null}}}]});
    let params = KdfParams::new(KdfParams::MIN_M_COST_KIB, 1, 1).unwrap();
    let file = promptvault::unchecked_export_for_tests(
        payload.to_string().as_bytes(),
        &Password::new(EXPORT_PW).unwrap(),
        params,
    )
    .unwrap();
    let export = dir.path().join("bad.pvx");
    std::fs::write(&export, file).unwrap();
    let (_, err) = ok(&vault, &["import", export.to_str().unwrap()]);
    assert!(err.contains("was not imported"), "{err}");
    assert!(err.contains("tags on one prompt is 65"), "{err}");
    let (out, _) = ok(&vault, &["list"]);
    assert!(out.contains("kept") && out.contains("1 prompt(s)"), "{out}");
    ok(
        &vault,
        &["export", dir.path().join("again.pvx").to_str().unwrap()],
    );
}

#[test]
fn a_damaged_prompt_is_reported_by_list_and_removed_by_rm() {
    let (_dir, vault, kept) = setup();
    let (out, _) = ok(&vault, &["add", "--title", "victim", "--body", "b"]);
    let victim = out.trim().strip_prefix("Added ").unwrap().to_owned();
    // A client holding the keys writes metadata that breaks a rule.
    let mut store = MemoryStore::from_bundle(&std::fs::read(&vault).unwrap()).unwrap();
    let v = Vault::open(
        store.header().unwrap(),
        store.record_bytes(),
        Credential::Password(&Password::new(PW).unwrap()),
    )
    .unwrap();
    let id: PromptId = v
        .prompt_ids()
        .into_iter()
        .find(|p| p.to_hex().starts_with(&victim))
        .unwrap();
    let mut meta: serde_json::Value =
        serde_json::from_slice(&v.meta_json_for_tests(id).unwrap()).unwrap();
    meta["tags"] = serde_json::json!(["\u{1b}]52;c;aGk=\u{7}"]);
    store.apply(
        &v.unchecked_meta_for_tests(id, &serde_json::to_vec(&meta).unwrap())
            .unwrap(),
    );
    std::fs::write(&vault, store.to_bundle().unwrap()).unwrap();

    let (out, err) = ok(&vault, &["list"]);
    assert!(out.contains("kept") && !out.contains("victim"), "{out}");
    assert!(
        err.contains("damaged") && err.contains(&victim[..8]),
        "{err}"
    );
    assert!(!err.contains('\u{1b}'), "the reason carries no user text");
    ok(&vault, &["rm", &victim]);
    let (out, err) = ok(&vault, &["list"]);
    assert!(
        out.contains(&kept[..8]) && out.contains("1 prompt(s)"),
        "{out}"
    );
    assert!(!err.contains("damaged"), "{err}");
}
