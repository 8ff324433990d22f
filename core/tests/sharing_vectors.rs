//! Frozen sharing vectors (SPEC §13): one JSON file per case in
//! `tests/vectors-sharing/`, must-fail cases prefixed `fail_`. One
//! table-driven runner checks them all and asserts how many ran;
//! `generate_sharing_vectors` (ignored) writes fresh ones.
//!
//! They live apart from `tests/vectors/` because every binding runs that
//! directory, and the bindings do not build sharing yet (see the README).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

use std::path::{Path, PathBuf};

use promptvault::format::text;
use promptvault::share::{Identity, KeyDelivery, PublicBundle, SpaceKey};
use promptvault::{
    Credential, Draft, Error, KdfParams, MemoryStore, Password, SealedRecord, SeenRevisions,
    Timestamp, Vault, VaultId,
};
use serde_json::{Value, json};

const EXPECTED_CASES: usize = 11;

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors-sharing")
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex<const N: usize>(v: &Value) -> [u8; N] {
    let s = v.as_str().unwrap();
    let bytes: Vec<u8> = (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect();
    bytes.try_into().unwrap()
}

fn unb64(v: &Value) -> Vec<u8> {
    text::decode(v.as_str().unwrap()).unwrap()
}

/// An identity as a vector holds it: its two seeds, account and time.
fn identity_json(kem: u8, signing: u8, account: &str, created: u64) -> Value {
    json!({
        "kem_seed": hex(&seeded(kem)),
        "signing_seed": hex(&seeded(signing)),
        "account": account,
        "created": created,
    })
}

/// 32 distinct bytes from one tag (vectors only: real seeds are random).
fn seeded(tag: u8) -> [u8; 32] {
    core::array::from_fn(|i| {
        tag.wrapping_mul(31)
            .wrapping_add(u8::try_from(i).unwrap() * 7)
    })
}

fn identity(v: &Value) -> Result<Identity, Error> {
    Identity::from_seeds(
        &unhex(&v["kem_seed"]),
        &unhex(&v["signing_seed"]),
        v["account"].as_str().unwrap(),
        Timestamp(v["created"].as_u64().unwrap()),
    )
}

fn space_snapshot(v: &Vault) -> Value {
    let prompts: Vec<Value> = v
        .prompt_ids()
        .into_iter()
        .map(|id| {
            let history: Vec<Value> = v
                .history(id)
                .unwrap()
                .iter()
                .map(|e| {
                    let full = v.version(id, Some(e.id)).unwrap();
                    json!({"id": e.id.to_hex(), "title": full.title, "body": full.body})
                })
                .collect();
            json!({"id": id.to_hex(), "versions": history})
        })
        .collect();
    json!({"generation": v.key_generation(), "prompts": prompts})
}

fn run_case(name: &str, case: &Value) -> Result<Value, Error> {
    match case["type"].as_str().unwrap() {
        "bundle" => {
            let bundle = PublicBundle::from_text(case["bundle"].as_str().unwrap())?;
            if !name.starts_with("fail_") {
                // The bundle is a function of the seeds, account and time.
                let made = identity(&case["identity"])?;
                assert_eq!(made.bundle(), &bundle, "{name}: bundle bytes");
            }
            Ok(json!({
                "account": bundle.account(),
                "created": bundle.created().0,
                "fingerprint": bundle.fingerprint().to_string(),
                "key_id": hex(&bundle.key_id()),
                "hash": hex(bundle.hash()),
            }))
        }
        "delivery" => {
            let sender = identity(&case["sender"])?;
            let recipient = identity(&case["recipient"])?;
            let delivery = KeyDelivery::from_text(case["delivery"].as_str().unwrap())?;
            if let Some(r) = case.get("randomness") {
                // SealBase with these 64 bytes gives exactly these bytes.
                let key = SpaceKey::from_parts_for_tests(
                    VaultId::from_bytes(unhex(&case["space"])),
                    u32::try_from(case["generation"].as_u64().unwrap()).unwrap(),
                    unhex(&case["space_key"]),
                );
                let again = sender.deliver_with_randomness(&key, recipient.bundle(), &unhex(r))?;
                assert_eq!(again.record().as_bytes(), delivery.record().as_bytes());
            }
            let accepting = match case.get("accepting") {
                Some(v) => identity(v)?,
                None => recipient,
            };
            let pinned = match case.get("pinned_sender") {
                Some(v) => identity(v)?,
                None => sender,
            };
            let key = accepting.accept(&delivery, pinned.bundle())?;
            let expected = SpaceKey::from_parts_for_tests(
                VaultId::from_bytes(unhex(&case["space"])),
                u32::try_from(case["generation"].as_u64().unwrap()).unwrap(),
                unhex(&case["space_key"]),
            );
            assert_eq!(key, expected, "{name}: the delivered key");
            Ok(json!({"space": key.space_id().to_hex(), "generation": key.generation()}))
        }
        "space" => {
            let sender = identity(&case["sender"])?;
            let recipient = identity(&case["recipient"])?;
            let delivery = KeyDelivery::from_text(case["delivery"].as_str().unwrap())?;
            let key = recipient.accept(&delivery, sender.bundle())?;
            let records: Vec<Vec<u8>> = case["records"]
                .as_array()
                .unwrap()
                .iter()
                .map(unb64)
                .collect();
            let v = Vault::open_space(
                &unb64(&case["header"]),
                &records,
                &key,
                &SeenRevisions::default(),
            )?;
            v.verify()?;
            Ok(space_snapshot(&v))
        }
        "identity" => {
            let password = Password::new(case["password"].as_str().unwrap())?;
            let v = Vault::open(
                &unb64(&case["header"]),
                [unb64(&case["record"])],
                Credential::Password(&password),
            )?;
            let id = v.identity()?.expect("the vault keeps its identity");
            Ok(json!({"bundle": id.bundle().to_text()}))
        }
        other => panic!("{name}: unknown case type {other}"),
    }
}

#[test]
fn frozen_sharing_vectors() {
    let mut entries: Vec<_> = std::fs::read_dir(dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    entries.sort();
    let mut ran = 0;
    for path in &entries {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let case: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let got = run_case(&name, &case);
        if name.starts_with("fail_") {
            let err = got.expect_err(&name);
            assert_eq!(
                err.code().name(),
                case["expect"]["error"].as_str().unwrap(),
                "{name}: {err:?}"
            );
        } else {
            assert_eq!(got.unwrap(), case["expect"], "{name}");
        }
        ran += 1;
    }
    assert_eq!(ran, EXPECTED_CASES);
}

fn write(name: &str, case: &Value) {
    let mut text = serde_json::to_string_pretty(case).unwrap();
    text.push('\n');
    std::fs::write(dir().join(name), text).unwrap();
}

fn with_expect(mut case: Value, name: &str) -> Value {
    let expect = match run_case(name, &case) {
        Ok(v) => v,
        Err(e) => json!({"error": e.code().name()}),
    };
    case["expect"] = expect;
    case
}

fn flip_b64(text: &str, at_from_end: usize) -> String {
    let mut bytes = text::decode(text).unwrap();
    let i = bytes.len() - at_from_end;
    bytes[i] ^= 0x01;
    text::encode(&bytes)
}

#[test]
#[ignore = "writes tests/vectors-sharing; run by hand only to regenerate"]
fn generate_sharing_vectors() {
    std::fs::create_dir_all(dir()).unwrap();
    let alice_j = identity_json(1, 2, "alice", 1_700_000_000_000);
    let bob_j = identity_json(3, 4, "bob", 1_700_000_000_001);
    let carol_j = identity_json(5, 6, "carol", 1_700_000_000_002);
    let mallory_j = identity_json(7, 8, "mallory", 1_700_000_000_003);
    let alice = identity(&alice_j).unwrap();
    let bob = identity(&bob_j).unwrap();

    // Bundles.
    let bundle = json!({"type": "bundle", "identity": alice_j, "bundle": alice.bundle().to_text()});
    write(
        "bundle_alice.json",
        &with_expect(bundle.clone(), "bundle_alice.json"),
    );
    let mut bad = bundle;
    bad["bundle"] = json!(flip_b64(alice.bundle().to_text().as_str(), 1));
    write(
        "fail_bundle_flipped_signature.json",
        &with_expect(bad, "fail_bundle_flipped_signature.json"),
    );

    // A delivery of a fixed key, with fixed randomness.
    let space = [0x5a; 16];
    let key_bytes = [0x42; 32];
    let randomness: [u8; 64] = core::array::from_fn(|i| u8::try_from(i).unwrap());
    let key = SpaceKey::from_parts_for_tests(VaultId::from_bytes(space), 3, key_bytes);
    let d = alice
        .deliver_with_randomness(&key, bob.bundle(), &randomness)
        .unwrap();
    let delivery = json!({
        "type": "delivery",
        "sender": alice_j,
        "recipient": bob_j,
        "space": hex(&space),
        "generation": 3,
        "space_key": hex(&key_bytes),
        "randomness": hex(&randomness),
        "delivery": d.record().to_text(),
    });
    write(
        "delivery_alice_to_bob.json",
        &with_expect(delivery.clone(), "delivery_alice_to_bob.json"),
    );
    let mut to_carol = delivery.clone();
    to_carol["accepting"] = carol_j;
    write(
        "fail_delivery_other_recipient.json",
        &with_expect(to_carol, "fail_delivery_other_recipient.json"),
    );
    let mut other_sender = delivery.clone();
    other_sender["pinned_sender"] = mallory_j;
    write(
        "fail_delivery_other_sender.json",
        &with_expect(other_sender, "fail_delivery_other_sender.json"),
    );
    for (name, from_end) in [
        ("fail_delivery_flipped_signature.json", 1),
        ("fail_delivery_flipped_ciphertext.json", 64 + 1),
        ("fail_delivery_flipped_enc.json", 64 + 48 + 1),
    ] {
        let mut bad = delivery.clone();
        bad.as_object_mut().unwrap().remove("randomness");
        bad["delivery"] = json!(flip_b64(&d.record().to_text(), from_end));
        write(name, &with_expect(bad, name));
    }

    // A space with one shared prompt, delivered to bob; then revoked.
    let t = Timestamp(1_700_000_000_000);
    let params = KdfParams::new(KdfParams::MIN_M_COST_KIB, 1, 1).unwrap();
    let mut own = Vault::create(&Password::new("alice's password").unwrap(), params)
        .unwrap()
        .vault;
    let draft = |body: &str| Draft {
        title: "Haiku".into(),
        body: body.into(),
        settings: None,
        note: String::new(),
    };
    let (pid, _) = own
        .create_prompt(&draft("write a haiku"), &[], false, t)
        .unwrap();
    let created = Vault::create_space().unwrap();
    let mut space_vault = created.vault;
    let mut store = MemoryStore::new();
    store.apply(&created.changes);
    store.apply(&own.share_prompt(pid, &mut space_vault, t).unwrap());
    let to_bob = alice.deliver(&created.key, bob.bundle()).unwrap();
    let records =
        |s: &MemoryStore| -> Vec<String> { s.records().map(SealedRecord::to_text).collect() };
    let space_case = json!({
        "type": "space",
        "sender": alice_j,
        "recipient": bob_j,
        "delivery": to_bob.record().to_text(),
        "header": text::encode(store.header().unwrap()),
        "records": records(&store),
    });
    write(
        "space_shared.json",
        &with_expect(space_case.clone(), "space_shared.json"),
    );
    store.apply(&space_vault.rotate_space().unwrap().1);
    store.apply(&space_vault.finish_rotation().unwrap());
    store.apply(
        &space_vault
            .add_version(pid, &draft("write a haiku about rain"), t)
            .unwrap()
            .1,
    );
    let mut revoked = space_case;
    revoked["header"] = json!(text::encode(store.header().unwrap()));
    revoked["records"] = json!(records(&store));
    write(
        "fail_space_revoked.json",
        &with_expect(revoked, "fail_space_revoked.json"),
    );

    // Alice's identity record in her own vault.
    let mut created = Vault::create(&Password::new("alice's password").unwrap(), params).unwrap();
    let rec = created.vault.set_identity(&alice).unwrap().puts.remove(0);
    let id_case = json!({
        "type": "identity",
        "password": "alice's password",
        "header": text::encode(created.vault.header_bytes()),
        "record": rec.to_text(),
    });
    write(
        "identity_record.json",
        &with_expect(id_case, "identity_record.json"),
    );
}
