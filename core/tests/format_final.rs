//! Issue 11, "format v1, final": canonical JSON (C), metadata that scales
//! (B) and the rules SPEC.md now states (D), each checked through the
//! public API. Key commitment (A) is tested in `core/src/slot/tests.rs`,
//! where the slot internals are reachable.
// Test code: unwrap/expect/indexing/panic are how a test fails, and failing
// loudly is the point; the library itself denies them (workspace lints).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

use promptvault::{Credential, Draft, Error, KdfParams, MemoryStore, Password, Timestamp, Vault};
use serde_json::json;

fn fast() -> KdfParams {
    KdfParams::new(KdfParams::MIN_M_COST_KIB, 1, 1).unwrap()
}

fn pw() -> Password {
    Password::new("pw").unwrap()
}

fn d(title: &str, body: &str) -> Draft {
    Draft {
        title: title.into(),
        body: body.into(),
        ..Draft::default()
    }
}

fn new_vault() -> (Vault, MemoryStore) {
    let c = Vault::create(&pw(), fast()).unwrap();
    let mut s = MemoryStore::new();
    s.apply(&c.changes);
    (c.vault, s)
}

fn reopen(s: &MemoryStore) -> Vault {
    let v = Vault::open(
        s.header().unwrap(),
        s.record_bytes(),
        Credential::Password(&pw()),
    )
    .unwrap();
    v.verify().unwrap();
    v
}

// ----------------------------------------------------------------- C. JCS

/// Settings keep JCS number forms; integers a double cannot hold are
/// refused instead of silently rounded.
#[test]
fn settings_are_stored_canonically_and_big_integers_are_refused() {
    let (mut v, mut s) = new_vault();
    let settings: serde_json::Value =
        serde_json::from_str(r#"{"z": 2.50, "a": 1e3, "seed": 9007199254740991}"#).unwrap();
    let draft = Draft {
        settings: Some(settings),
        ..d("t", "b")
    };
    let (id, c) = v.create_prompt(&draft, &[], false, Timestamp(1)).unwrap();
    s.apply(&c);
    let got = reopen(&s).version(id, None).unwrap().settings.unwrap();
    assert_eq!(
        String::from_utf8(promptvault::format::json::to_canonical(&got).unwrap()).unwrap(),
        r#"{"a":1000,"seed":9007199254740991,"z":2.5}"#
    );
    for big in [
        "9007199254740992",
        "18446744073709551615",
        "-9007199254740993",
    ] {
        let draft = Draft {
            settings: Some(serde_json::from_str(&format!(r#"{{"seed":{big}}}"#)).unwrap()),
            ..d("t", "b")
        };
        let err = v
            .create_prompt(&draft, &[], false, Timestamp(2))
            .unwrap_err();
        assert_eq!(err.code(), promptvault::ErrorCode::InvalidInput, "{big}");
    }
    // A timestamp a double cannot hold is refused, not rounded.
    let err = v
        .add_version(id, &d("t", "b"), Timestamp(Timestamp::MAX.0 + 1))
        .unwrap_err();
    assert_eq!(err.code(), promptvault::ErrorCode::InvalidInput);
    assert!(v.add_version(id, &d("t", "b"), Timestamp::MAX).is_ok());
    let _ = json!(null);
    let _ = Error::Authentication;
}

// ------------------------------------------------- B. metadata that scales

fn long_title(i: usize) -> String {
    let mut t = format!("{i:04} ");
    while t.len() < promptvault::model::MAX_TITLE_LEN {
        t.push('x');
    }
    t
}

fn meta_record_len(s: &MemoryStore) -> usize {
    s.records()
        .find(|r| r.kind() == promptvault::RecordKind::PromptMeta)
        .unwrap()
        .as_bytes()
        .len()
}

/// The metadata holds no titles but the current one: its size depends on
/// the number of versions only (24 bytes each), never on their titles, so
/// a thousand longest-titled versions are writable and an edit re-seals no
/// title.
#[test]
fn a_thousand_longest_titled_versions_are_writable_and_titles_are_not_resealed() {
    let max = promptvault::model::MAX_VERSIONS_PER_PROMPT;
    let mut sizes = Vec::new();
    for title_of in [|_| "t".to_owned(), long_title as fn(usize) -> String] {
        let (mut v, mut s) = new_vault();
        let (id, c) = v
            .create_prompt(&d(&title_of(0), "b"), &[], false, Timestamp(1))
            .unwrap();
        s.apply(&c);
        for i in 1..max {
            let (_, c) = v
                .add_version(id, &d(&title_of(i), "b"), Timestamp(1 + i as u64))
                .unwrap();
            s.apply(&c);
        }
        assert_eq!(v.history(id).unwrap().len(), max);
        // The limit is the version count, not the metadata size.
        let err = v
            .add_version(id, &d(&title_of(max), "b"), Timestamp(99_999))
            .unwrap_err();
        assert_eq!(err.code(), promptvault::ErrorCode::LimitExceeded);
        let again = reopen(&s);
        assert_eq!(again.summary(id).unwrap().title, title_of(max - 1));
        assert_eq!(again.history(id).unwrap()[max - 1].title, title_of(max - 1));
        sizes.push(meta_record_len(&s));
    }
    // Same padded size with 1-byte and 1024-byte titles: only the current
    // title differs, and 1000 × 24-byte index entries are ~32 KB of JSON.
    assert!(sizes[1] - sizes[0] <= 4096, "{sizes:?}");
    assert!(sizes[1] < 40 * 1024, "{sizes:?}");
}

/// The issue's failing case: two devices each add 600 long-titled versions
/// to one prompt offline; merging and reopening succeed, and every version
/// of both sides is kept.
#[test]
fn merging_two_sides_of_600_long_titled_versions_succeeds() {
    let (mut a, mut store_a) = new_vault();
    let (id, c) = a
        .create_prompt(&d(&long_title(0), "b"), &[], false, Timestamp(1))
        .unwrap();
    store_a.apply(&c);
    let mut store_b = store_a.clone();
    let mut b = reopen(&store_b);
    for i in 1..600usize {
        let t = 2 * i as u64;
        let (_, c) = a
            .add_version(id, &d(&long_title(i), "a"), Timestamp(10 + t))
            .unwrap();
        store_a.apply(&c);
        let (_, c) = b
            .add_version(id, &d(&long_title(i), "b"), Timestamp(11 + t))
            .unwrap();
        store_b.apply(&c);
    }
    let report = a.merge(store_b.record_bytes()).unwrap();
    store_a.apply(&report.changes);
    assert_eq!(a.history(id).unwrap().len(), 1 + 2 * 599);
    let merged = reopen(&store_a);
    assert_eq!(merged.history(id).unwrap().len(), 1199);
    assert!(meta_record_len(&store_a) < 64 * 1024);
    // The merged current version is B's newest, with its title.
    assert_eq!(merged.summary(id).unwrap().title, long_title(599));
}

/// Every limit is consistent: the worst-case metadata and version
/// plaintexts fit their record kinds (also asserted at compile time).
#[test]
fn worst_case_plaintexts_fit_their_records() {
    use promptvault::format::{MAX_META_PLAINTEXT, MAX_VERSION_PLAINTEXT};
    use promptvault::model::{MAX_META_JSON, MAX_VERSION_JSON};
    const { assert!(MAX_META_JSON <= MAX_META_PLAINTEXT) };
    const { assert!(MAX_VERSION_JSON <= MAX_VERSION_PLAINTEXT) };
}

// ------------------------------------------------------ D. SPEC.md rules

/// D2: every limit is counted in UTF-8 bytes before JSON escaping, and a
/// version with every text field at its limit in its worst-escaping
/// characters is storable and reads back: body and note in control
/// characters (6× longer once escaped), the title in quotes (2×; a title
/// may hold no control character, SPEC §6.3).
#[test]
fn d2_limits_count_bytes_before_escaping_and_the_worst_case_is_storable() {
    use promptvault::model::{MAX_BODY_LEN, MAX_NOTE_LEN, MAX_TITLE_LEN};
    let (mut v, mut s) = new_vault();
    let control_title = Draft {
        title: "\u{1}".repeat(MAX_TITLE_LEN),
        ..d("", "")
    };
    let err = v
        .create_prompt(&control_title, &[], false, Timestamp(1))
        .unwrap_err();
    assert_eq!(err.code(), promptvault::ErrorCode::InvalidInput);
    let draft = Draft {
        title: "\"".repeat(MAX_TITLE_LEN),
        body: "\u{1}".repeat(MAX_BODY_LEN),
        note: "\u{1f}".repeat(MAX_NOTE_LEN),
        settings: None,
    };
    let (id, c) = v.create_prompt(&draft, &[], false, Timestamp(1)).unwrap();
    s.apply(&c);
    let got = reopen(&s).version(id, None).unwrap();
    assert_eq!(got.body, draft.body);
    assert_eq!(got.title, draft.title);
    assert_eq!(got.note, draft.note);
    // One byte over any limit is refused before anything is sealed.
    for over in [
        Draft {
            body: "a".repeat(MAX_BODY_LEN + 1),
            ..d("t", "")
        },
        Draft {
            title: "a".repeat(MAX_TITLE_LEN + 1),
            ..d("", "")
        },
        Draft {
            note: "a".repeat(MAX_NOTE_LEN + 1),
            ..d("t", "")
        },
    ] {
        let err = v.add_version(id, &over, Timestamp(2)).unwrap_err();
        assert_eq!(err.code(), promptvault::ErrorCode::LimitExceeded);
    }
}

/// D3: what `parent` and `note` are for create, edit, restore and import.
#[test]
fn d3_parent_and_note_per_operation() {
    let (mut v, mut s) = new_vault();
    let (id, c) = v
        .create_prompt(&d("a", "1"), &[], false, Timestamp(1))
        .unwrap();
    s.apply(&c);
    let first = v.summary(id).unwrap().current_version;
    let (second, c) = v.add_version(id, &d("b", "2"), Timestamp(2)).unwrap();
    s.apply(&c);
    let (restored, c) = v.restore_version(id, first, Timestamp(3)).unwrap();
    s.apply(&c);
    let h = reopen(&s).history(id).unwrap();
    assert_eq!(h[0].parent, None);
    assert_eq!(h[1].parent, Some(first));
    assert_eq!(h[2].id, restored);
    assert_eq!(
        h[2].parent,
        Some(first),
        "a restore's parent is the restored version"
    );
    let r = v.version(id, Some(restored)).unwrap();
    assert_eq!(r.note, format!("restored from {}", first.to_hex()));
    assert_eq!((r.title.as_str(), r.body.as_str()), ("a", "1"));
    // Import keeps ids and parents as exported.
    let file = v.export(&Password::new("x").unwrap(), fast()).unwrap();
    let (mut w, _) = new_vault();
    w.import(&file, &Password::new("x").unwrap(), Timestamp(9))
        .unwrap();
    assert_eq!(w.history(id).unwrap(), v.history(id).unwrap());
    let _ = second;
}

/// D4: list reads the metadata's copy of the current title, history and
/// show read the version records; both agree after every operation.
#[test]
fn d4_list_and_show_agree_after_edit_prune_and_merge() {
    let (mut v, mut s) = new_vault();
    let (id, c) = v
        .create_prompt(&d("one", "1"), &[], false, Timestamp(1))
        .unwrap();
    s.apply(&c);
    let (two, c) = v.add_version(id, &d("two", "2"), Timestamp(2)).unwrap();
    s.apply(&c);
    let agree = |v: &Vault| {
        let listed = v.summary(id).unwrap().title;
        let shown = v.version(id, None).unwrap().title;
        let last = v.history(id).unwrap().last().unwrap().clone();
        assert_eq!(listed, shown);
        assert_eq!(last.title, shown);
    };
    agree(&v);
    // Deleting the current version: the newest remaining one becomes
    // current and the metadata takes its title.
    s.apply(&v.delete_version(id, two, Timestamp(3)).unwrap());
    assert_eq!(v.summary(id).unwrap().title, "one");
    agree(&v);
    agree(&reopen(&s));
}

/// D7: a non-zero flags byte is refused: typed (`MALFORMED`) by the
/// keyless layer, the opaque `AUTHENTICATION` in a keyed open.
#[test]
fn d7_nonzero_flags_are_refused() {
    let (mut v, mut s) = new_vault();
    let (_, c) = v
        .create_prompt(&d("a", "1"), &[], false, Timestamp(1))
        .unwrap();
    s.apply(&c);
    let mut records: Vec<Vec<u8>> = s.record_bytes().iter().map(|r| r.to_vec()).collect();
    for flag in [0x01u8, 0x80] {
        records[0][7] = flag;
        let e = promptvault::inspect::inspect(&records[0]).unwrap_err();
        assert_eq!(e.code(), promptvault::ErrorCode::Malformed);
        let e =
            Vault::open(s.header().unwrap(), &records, Credential::Password(&pw())).unwrap_err();
        assert_eq!(e, Error::Authentication);
        let mut header = s.header().unwrap().to_vec();
        header[7] = flag;
        let e = Vault::open(&header, &records[1..], Credential::Password(&pw())).unwrap_err();
        assert_eq!(
            e.code(),
            promptvault::ErrorCode::Malformed,
            "the header is parsed keylessly"
        );
    }
}

/// D8: the export password is NFC-normalised like the vault password, and
/// every export has a fresh export id (and key).
#[test]
fn d8_export_password_is_nfc_and_export_ids_are_fresh() {
    let (mut v, _) = new_vault();
    v.create_prompt(&d("a", "1"), &[], false, Timestamp(1))
        .unwrap();
    let composed = Password::new("caf\u{e9}").unwrap();
    let decomposed = Password::new("cafe\u{301}").unwrap();
    let f1 = v.export(&composed, fast()).unwrap();
    let f2 = v.export(&composed, fast()).unwrap();
    let (mut w, _) = new_vault();
    let r = w.import(&f1, &decomposed, Timestamp(2)).unwrap();
    assert_eq!(r.prompts_added, 1);
    let id1 =
        promptvault::inspect::inspect(&f1[..72 + promptvault::format::EXPORT_HEADER_BODY_LEN])
            .unwrap()
            .vault_id;
    let id2 =
        promptvault::inspect::inspect(&f2[..72 + promptvault::format::EXPORT_HEADER_BODY_LEN])
            .unwrap()
            .vault_id;
    assert_ne!(id1, id2);
    let info =
        promptvault::inspect::inspect(&f1[..72 + promptvault::format::EXPORT_HEADER_BODY_LEN])
            .unwrap();
    assert_eq!(info.key_generation, 1);
}

/// D9: rotate is refused while a rotation is unfinished, and edits made
/// meanwhile seal under the prompt's newest item key.
#[test]
fn d9_rotate_refused_while_unfinished_and_edits_use_the_newest_item_key() {
    let (mut v, mut s) = new_vault();
    let (a, c) = v
        .create_prompt(&d("a", "1"), &[], false, Timestamp(1))
        .unwrap();
    s.apply(&c);
    let (b, c) = v
        .create_prompt(&d("b", "1"), &[], false, Timestamp(2))
        .unwrap();
    s.apply(&c);
    let (_, mut rc) = v.rotate(&pw()).unwrap();
    // Apply the new header and only prompt a's new records.
    rc.puts.retain(|r| r.header().prompt_id() == Some(a));
    rc.deletes.clear();
    s.apply(&rc);
    let mut w = reopen(&s);
    assert!(w.rotation_pending());
    assert_eq!(w.key_generation(), 2);
    assert_eq!(
        w.rotate(&pw()).unwrap_err().code(),
        promptvault::ErrorCode::InvalidInput
    );
    let (_, c) = w.add_version(a, &d("a2", "2"), Timestamp(3)).unwrap();
    assert!(c.puts.iter().all(|r| r.header().key_generation() == 2));
    let (_, c) = w.add_version(b, &d("b2", "2"), Timestamp(3)).unwrap();
    assert!(
        c.puts.iter().all(|r| r.header().key_generation() == 1),
        "b has no generation-2 item key yet"
    );
    s.apply(&c);
    s.apply(&w.finish_rotation().unwrap());
    assert!(!w.rotation_pending());
    assert!(w.rotate(&pw()).is_ok());
}

/// D10: every operation that rebuilds the vault header adds exactly 1 to
/// its revision.
#[test]
fn d10_header_revision_moves_by_one_per_header_written() {
    let (mut v, _) = new_vault();
    assert_eq!(v.header_revision(), 1);
    v.change_password(&pw(), None).unwrap();
    assert_eq!(v.header_revision(), 2);
    v.replace_recovery_key().unwrap();
    assert_eq!(v.header_revision(), 3);
    v.rotate(&pw()).unwrap();
    assert_eq!(v.header_revision(), 4);
    v.finish_rotation().unwrap();
    assert_eq!(v.header_revision(), 5);
    // Nothing pending: no header, no change.
    assert!(v.finish_rotation().unwrap().is_empty());
    assert_eq!(v.header_revision(), 5);
}

/// D11: a recovery key reader ignores exactly the Unicode White_Space
/// characters, `-` and ASCII case; anything else is refused.
#[test]
fn d11_recovery_key_whitespace() {
    let c = Vault::create(&pw(), fast()).unwrap();
    let text = c.recovery_key.to_display_string().to_string();
    for sep in [
        "\t", "\n", "\r\n", " ", "\u{a0}", "\u{3000}", "\u{2028}", "\u{85}",
    ] {
        let spaced = text.replace('-', sep).to_lowercase();
        assert_eq!(
            promptvault::RecoveryKey::parse(&spaced).unwrap(),
            c.recovery_key,
            "{sep:?}"
        );
    }
    for not_space in ["\u{200b}", "\u{feff}", "_", "."] {
        let bad = text.replace('-', not_space);
        assert_eq!(
            promptvault::RecoveryKey::parse(&bad).unwrap_err(),
            Error::InvalidRecoveryKey,
            "{not_space:?}"
        );
    }
}

// ------------------------------------------------------ A. through the API

/// The recovery and export-password slots are committed too: a flipped
/// commitment byte is refused with the opaque error, and only that slot's
/// credential is affected.
#[test]
fn recovery_and_export_slots_are_committed() {
    let created = Vault::create(&pw(), fast()).unwrap();
    let rk = created.recovery_key;
    let mut v = created.vault;
    let header = v.header_bytes().to_vec();
    // Body offsets (SPEC §4): password slot at 28, recovery slot at 120.
    let mut bad = header.clone();
    bad[72 + 120] ^= 0x80;
    let none: Vec<Vec<u8>> = Vec::new();
    assert_eq!(
        Vault::open(&bad, &none, Credential::RecoveryKey(&rk)).unwrap_err(),
        Error::Authentication
    );
    // The header seal covers the slot, so the password is refused too: the
    // header is no longer the one the vault key sealed.
    assert_eq!(
        Vault::open(&bad, &none, Credential::Password(&pw())).unwrap_err(),
        Error::Authentication
    );
    assert!(Vault::open(&header, &none, Credential::RecoveryKey(&rk)).is_ok());

    v.create_prompt(&d("a", "1"), &[], false, Timestamp(1))
        .unwrap();
    let xpw = Password::new("export").unwrap();
    let file = v.export(&xpw, fast()).unwrap();
    for at in [72 + 28, 72 + 28 + 31] {
        let mut bad = file.clone();
        bad[at] ^= 0x01;
        let (mut w, _) = new_vault();
        assert_eq!(
            w.import(&bad, &xpw, Timestamp(2)).unwrap_err(),
            Error::Authentication,
            "byte {at}"
        );
    }
    let (mut w, _) = new_vault();
    assert_eq!(
        w.import(&file, &xpw, Timestamp(2)).unwrap().prompts_added,
        1
    );
}
