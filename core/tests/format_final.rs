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
