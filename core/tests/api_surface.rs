//! The smaller public surfaces: error texts and codes, record forms,
//! changesets, keyless validation for stores, accessors.
// Test code: unwrap/expect/indexing/panic are how a test fails, and failing
// loudly is the point; the library itself denies them (workspace lints).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    missing_docs
)]

use promptvault::format::{RecordKind, text};
use promptvault::inspect::{inspect, inspect_text, validate_for_store};
use promptvault::{
    Changeset, Credential, Draft, Error, ErrorCode, KdfParams, MemoryStore, Password, SealedRecord,
    Timestamp, Vault, VaultId,
};

fn fast() -> KdfParams {
    KdfParams::new(KdfParams::MIN_M_COST_KIB, 1, 1).unwrap()
}

fn small_vault() -> (Vault, MemoryStore) {
    let c = Vault::create(&Password::new("pw").unwrap(), fast()).unwrap();
    let mut s = MemoryStore::new();
    s.apply(&c.changes);
    let mut v = c.vault;
    let (id, ch) = v
        .create_prompt(
            &Draft {
                title: "t".into(),
                body: "b".into(),
                ..Draft::default()
            },
            &[],
            false,
            Timestamp(1),
        )
        .unwrap();
    s.apply(&ch);
    s.apply(
        &v.add_version(
            id,
            &Draft {
                title: "t".into(),
                body: "c".into(),
                ..Draft::default()
            },
            Timestamp(2),
        )
        .unwrap()
        .1,
    );
    (v, s)
}

#[test]
fn every_error_has_a_code_and_a_message_that_says_what_to_do() {
    let all = [
        Error::Authentication,
        Error::Malformed { what: "magic" },
        Error::UnsupportedVersion { found: 9 },
        Error::UnsupportedSuite { found: 7 },
        Error::KdfParamsOutOfBounds {
            param: "t_cost",
            value: 1000,
            min: 1,
            max: 10,
        },
        Error::LimitExceeded {
            what: "body",
            limit: 1,
            actual: 2,
        },
        Error::InvalidRecoveryKey,
        Error::InvalidInput {
            reason: "empty title",
        },
        Error::NotFound { what: "prompt" },
        Error::WrongVault,
        Error::Rollback { found: 1, seen: 2 },
        Error::Encoding { what: "base64url" },
        Error::InvalidUtf8,
        Error::Randomness,
        Error::WrongKind { found: 99 },
        Error::MissingRecord { what: "version" },
    ];
    let mut codes = std::collections::BTreeSet::new();
    for e in &all {
        let text = e.to_string();
        assert!(!text.is_empty());
        assert!(codes.insert(e.code().as_u32()), "{e:?}");
        assert_eq!(ErrorCode::from_u32(e.code().as_u32()), Some(e.code()));
        let _: &dyn std::error::Error = e;
    }
    assert!(
        Error::UnsupportedVersion { found: 9 }
            .to_string()
            .contains("upgrade")
    );
    assert!(
        Error::KdfParamsOutOfBounds {
            param: "t_cost",
            value: 1000,
            min: 1,
            max: 10
        }
        .to_string()
        .contains("1..=10")
    );
    assert_eq!(ErrorCode::Panic.as_u32(), 101);
    assert_eq!(ErrorCode::BufferTooSmall.name(), "BUFFER_TOO_SMALL");
}

#[test]
fn records_round_trip_in_binary_and_text_form() {
    let (_, s) = small_vault();
    for r in s.records() {
        let text_form = r.to_text();
        let back = SealedRecord::from_text(&text_form).unwrap();
        assert_eq!(&back, r);
        assert_eq!(back.clone().into_bytes(), r.as_bytes());
        assert_eq!(
            inspect_text(&text_form).unwrap(),
            inspect(r.as_bytes()).unwrap()
        );
        let dbg = format!("{r:?}");
        assert!(dbg.contains("SealedRecord") && dbg.contains("len"));
        assert_eq!(r.kind(), r.header().kind());
        assert_eq!(r.header().total_len(), r.as_bytes().len());
        assert_eq!(r.header().body_len() as usize + 72, r.as_bytes().len());
    }
    assert!(matches!(
        SealedRecord::from_text("not base64!"),
        Err(Error::Encoding { .. })
    ));
    assert!(
        matches!(text::decode("AA=="), Err(Error::Encoding { .. })),
        "padding is refused"
    );
    assert!(matches!(
        SealedRecord::from_bytes(b"PVLT".to_vec()),
        Err(Error::Malformed { .. })
    ));
    assert!(matches!(
        SealedRecord::from_bytes(b"nope".to_vec()),
        Err(Error::Malformed { .. })
    ));
}

#[test]
fn kinds_have_stable_bytes_and_names() {
    for (b, name, sealed) in [
        (1u8, "vault-header", false),
        (2, "item-key", true),
        (3, "prompt-meta", true),
        (4, "prompt-version", true),
        (5, "export-header", false),
        (6, "export-payload", true),
        (7, "prompt-index", true),
    ] {
        let k = RecordKind::from_u8(b).unwrap();
        assert_eq!(k as u8, b);
        assert_eq!(k.name(), name);
        assert_eq!(k.is_sealed(), sealed);
        assert!(k.max_body_len() >= k.max_plaintext());
    }
    assert_eq!(RecordKind::from_u8(0), None);
    // The largest prompt-index body: 64 entries of 24 bytes, framed and
    // padded (SPEC §3.1: padmé(4 + 1536) = 1600), plus nonce and tag.
    assert_eq!(RecordKind::PromptIndex.max_plaintext(), 1536);
    assert_eq!(RecordKind::PromptIndex.max_body_len(), 12 + 1600 + 16);
    assert_eq!(RecordKind::from_u8(200), None);
}

#[test]
fn keyless_validation_for_stores() {
    let (v, s) = small_vault();
    for r in s.records() {
        let info = validate_for_store(r.as_bytes(), v.id(), &r.storage_key()).unwrap();
        assert_eq!(info.vault_id, v.id());
        assert!(info.prompt_id.is_some());
        assert!(
            validate_for_store(r.as_bytes(), VaultId::generate().unwrap(), &r.storage_key())
                == Err(Error::WrongVault)
        );
        assert!(matches!(
            validate_for_store(r.as_bytes(), v.id(), "h"),
            Err(Error::InvalidInput { .. })
        ));
    }
    let h = inspect(s.header().unwrap()).unwrap();
    assert_eq!(h.kind, "vault-header");
    assert_eq!(h.storage_key, "h");
    assert_eq!(h.kdf.unwrap().m_cost_kib(), KdfParams::MIN_M_COST_KIB);
    let export = v.export(&Password::new("e").unwrap(), fast()).unwrap();
    let xh = inspect(&export[..72 + promptvault::format::EXPORT_HEADER_BODY_LEN]).unwrap();
    assert_eq!((xh.kind, xh.storage_key.as_str()), ("export-header", "xh"));
    let xp = inspect(&export[72 + promptvault::format::EXPORT_HEADER_BODY_LEN..]).unwrap();
    assert_eq!((xp.kind, xp.storage_key.as_str()), ("export-payload", "xp"));
}

#[test]
fn changesets_combine_in_order() {
    let (mut v, s) = small_vault();
    let id = v.prompt_ids()[0];
    let mut c = v.set_favorite(id, true, Timestamp(3)).unwrap();
    assert_eq!(c.put_count(), 1);
    let later = v.delete_prompt(id).unwrap();
    c.extend(later.clone());
    // The delete of the metadata cancels the earlier put of it.
    assert!(c.puts.is_empty());
    assert_eq!(c.deletes, later.deletes);
    let mut h = Changeset::default();
    assert!(h.is_empty());
    h.extend(
        v.change_password(&Password::new("new").unwrap(), None)
            .unwrap(),
    );
    assert!(h.header.is_some() && h.put_count() == 1);
    let mut store = s.clone();
    store.apply(&c);
    store.apply(&h);
    assert!(store.is_empty());
    assert_eq!(store.len(), 0);
}

#[test]
fn accessors_and_resealed_records() {
    let (v, s) = small_vault();
    assert_eq!(v.key_generation(), 1);
    assert_eq!(v.header_revision(), 1);
    assert_eq!(v.kdf_params(), fast());
    assert_eq!(v.header_bytes(), s.header().unwrap());
    assert!(!v.is_empty());
    assert!(format!("{v:?}").contains("Vault"));
    let pw = Password::new("pw").unwrap();
    v.verify_password(&pw).unwrap();
    assert_eq!(
        v.verify_password(&Password::new("no").unwrap()),
        Err(Error::Authentication)
    );
    // `records()` re-seals the current state; it opens to the same vault.
    let fresh: Vec<Vec<u8>> = v
        .records()
        .unwrap()
        .into_iter()
        .map(SealedRecord::into_bytes)
        .collect();
    let w = Vault::open(s.header().unwrap(), &fresh, Credential::Password(&pw)).unwrap();
    w.verify().unwrap();
    assert_eq!(
        w.list(&Default::default()).unwrap(),
        v.list(&Default::default()).unwrap()
    );
    assert!(!w.rotation_pending());
    assert_eq!(w.clone().finish_rotation().unwrap(), Changeset::default());
}

#[test]
fn merge_ignores_partial_changesets_and_reports_metadata_updates() {
    let (mut a, s) = small_vault();
    let pw = Password::new("pw").unwrap();
    let mut b = Vault::open(
        s.header().unwrap(),
        s.record_bytes(),
        Credential::Password(&pw),
    )
    .unwrap();
    // An item key and a version with no metadata yet: nothing to show, nothing stored.
    let (_, c) = a
        .create_prompt(
            &Draft {
                title: "n".into(),
                ..Draft::default()
            },
            &[],
            false,
            Timestamp(5),
        )
        .unwrap();
    let partial: Vec<&[u8]> = c
        .puts
        .iter()
        .filter(|r| r.kind() != RecordKind::PromptMeta)
        .map(SealedRecord::as_bytes)
        .collect();
    let r = b.merge(&partial).unwrap();
    assert_eq!((r.prompts_added, r.changes.puts.len()), (0, 0));
    // The rest arrives: the prompt appears.
    let r = b.merge(c.puts.iter().map(SealedRecord::as_bytes)).unwrap();
    assert_eq!(r.prompts_added, 1);
    // A newer metadata revision replaces the old one.
    let id = a.prompt_ids()[0];
    let c = a.set_archived(id, true, Timestamp(6)).unwrap();
    let r = b.merge(c.puts.iter().map(SealedRecord::as_bytes)).unwrap();
    assert_eq!(r.metadata_updated, 1);
    assert!(b.summary(id).unwrap().archived);
    // Records of a kind a merge does not take are refused.
    assert_eq!(
        b.merge([s.header().unwrap()]).unwrap_err(),
        Error::Authentication
    );
    // An export file is not a vault record.
    let file = a.export(&pw, fast()).unwrap();
    assert!(b.merge([&file]).is_err());
}

#[test]
fn import_refuses_what_is_not_an_export() {
    let (mut v, s) = small_vault();
    let pw = Password::new("pw").unwrap();
    assert!(matches!(
        v.import(s.header().unwrap(), &pw, Timestamp(0)),
        Err(Error::WrongKind { found: 1 })
    ));
    let file = v.export(&pw, fast()).unwrap();
    let (head, _) = file.split_at(72 + promptvault::format::EXPORT_HEADER_BODY_LEN);
    assert!(matches!(
        v.import(head, &pw, Timestamp(0)),
        Err(Error::Malformed { .. })
    ));
    let mut spliced = head.to_vec();
    spliced.extend_from_slice(s.records().next().unwrap().as_bytes());
    assert!(matches!(
        v.import(&spliced, &pw, Timestamp(0)),
        Err(Error::WrongKind { .. })
    ));
    // Another export's payload under this header.
    let other = v.export(&pw, fast()).unwrap();
    let mut mixed = head.to_vec();
    mixed.extend_from_slice(&other[72 + promptvault::format::EXPORT_HEADER_BODY_LEN..]);
    assert_eq!(
        v.import(&mixed, &pw, Timestamp(0)).unwrap_err(),
        Error::Authentication
    );
}

/// SPEC §10's table lists exactly the core's error codes (the one table
/// the bindings are emitted from), number by number and name by name.
#[test]
fn the_spec_error_table_is_the_code_table() {
    let spec = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../SPEC.md"))
        .expect("SPEC.md beside the core");
    let section = spec
        .split("\n## 10. Errors")
        .nth(1)
        .and_then(|s| s.split("\n## 11.").next())
        .expect("SPEC §10");
    let rows: Vec<(u32, String)> = section
        .lines()
        .filter_map(|line| {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            Some((cells.get(1)?.parse().ok()?, (*cells.get(2)?).to_owned()))
        })
        .collect();
    let table: Vec<(u32, String)> = promptvault::ErrorCode::ALL
        .iter()
        .map(|c| (*c as u32, c.name().to_owned()))
        .collect();
    assert_eq!(rows, table);
}
