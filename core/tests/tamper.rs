//! The tamper matrix: what a hostile server can do to a stored vault, and
//! what the client sees. Each row is detected, or is an accepted leak that
//! `SECURITY.md` documents (those rows assert the documented behaviour, so
//! a change in it is noticed).
// Test code: unwrap/expect/indexing/panic are how a test fails, and failing
// loudly is the point; the library itself denies them (workspace lints).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

use promptvault::{
    Credential, Draft, Error, KdfParams, MemoryStore, Password, PromptId, RecordKind, SealedRecord,
    SeenRevisions, Timestamp, Vault,
};

const PW: &str = "tamper matrix";

fn pw() -> Password {
    Password::new(PW).unwrap()
}

fn d(t: &str, b: &str) -> Draft {
    Draft {
        title: t.into(),
        body: b.into(),
        ..Draft::default()
    }
}

struct World {
    vault: Vault,
    store: MemoryStore,
    a: PromptId,
    b: PromptId,
}

fn world() -> World {
    let c = Vault::create(
        &pw(),
        KdfParams::new(KdfParams::MIN_M_COST_KIB, 1, 1).unwrap(),
    )
    .unwrap();
    let mut store = MemoryStore::new();
    store.apply(&c.changes);
    let mut vault = c.vault;
    let (a, ch) = vault
        .create_prompt(&d("A", "alpha"), &["x".into()], false, Timestamp(1))
        .unwrap();
    store.apply(&ch);
    store.apply(
        &vault
            .add_version(a, &d("A", "alpha 2"), Timestamp(2))
            .unwrap()
            .1,
    );
    let (b, ch) = vault
        .create_prompt(&d("B", "beta"), &[], true, Timestamp(3))
        .unwrap();
    store.apply(&ch);
    World { vault, store, a, b }
}

/// Opens and reads every version: the full client view.
fn client_open(header: &[u8], records: &[Vec<u8>], seen: &SeenRevisions) -> Result<Vault, Error> {
    let v = Vault::open_with_seen(header, records, Credential::Password(&pw()), seen)?;
    v.verify()?;
    Ok(v)
}

fn recs(s: &MemoryStore) -> Vec<Vec<u8>> {
    s.records().map(|r| r.as_bytes().to_vec()).collect()
}

fn find(s: &MemoryStore, kind: RecordKind, prompt: PromptId) -> &SealedRecord {
    s.records()
        .find(|r| r.kind() == kind && r.header().prompt_id() == Some(prompt))
        .unwrap()
}

fn replace(s: &MemoryStore, key: &str, new: Vec<u8>) -> Vec<Vec<u8>> {
    s.records()
        .map(|r| {
            if r.storage_key() == key {
                new.clone()
            } else {
                r.as_bytes().to_vec()
            }
        })
        .collect()
}

#[test]
fn row_swapping_records() {
    let w = world();
    let h = w.store.header().unwrap();
    // Swap the ciphertexts of two versions of the same prompt (each under the other's header).
    let vs: Vec<&SealedRecord> = w
        .store
        .records()
        .filter(|r| r.kind() == RecordKind::PromptVersion && r.header().prompt_id() == Some(w.a))
        .collect();
    let (x, y) = (vs[0].as_bytes(), vs[1].as_bytes());
    let mut x2 = x[..72].to_vec();
    x2.extend_from_slice(&y[72..]);
    let mut y2 = y[..72].to_vec();
    y2.extend_from_slice(&x[72..]);
    // Lengths may differ; fix the body length so the structure still parses.
    for r in [&mut x2, &mut y2] {
        let n = u32::try_from(r.len() - 72).unwrap();
        r[68..72].copy_from_slice(&n.to_le_bytes());
    }
    let mut all = replace(&w.store, &vs[0].storage_key(), x2);
    all.retain(|r| r.as_slice() != y);
    all.push(y2);
    assert_eq!(
        client_open(h, &all, &SeenRevisions::default()).unwrap_err(),
        Error::Authentication
    );
    // Swap the metadata of two prompts.
    let (ma, mb) = (
        find(&w.store, RecordKind::PromptMeta, w.a),
        find(&w.store, RecordKind::PromptMeta, w.b),
    );
    let mut all: Vec<Vec<u8>> = recs(&w.store)
        .into_iter()
        .filter(|r| r.as_slice() != ma.as_bytes() && r.as_slice() != mb.as_bytes())
        .collect();
    let mut ma2 = ma.as_bytes().to_vec();
    ma2[28..44].copy_from_slice(w.b.as_bytes());
    let mut mb2 = mb.as_bytes().to_vec();
    mb2[28..44].copy_from_slice(w.a.as_bytes());
    all.extend([ma2, mb2]);
    assert_eq!(
        client_open(h, &all, &SeenRevisions::default()).unwrap_err(),
        Error::Authentication
    );
}

#[test]
fn row_moving_a_record_to_another_prompt_or_vault() {
    let w = world();
    let h = w.store.header().unwrap();
    let v = find(&w.store, RecordKind::PromptVersion, w.a);
    let mut moved = v.as_bytes().to_vec();
    moved[28..44].copy_from_slice(w.b.as_bytes());
    let mut all = recs(&w.store);
    all.push(moved);
    assert_eq!(
        client_open(h, &all, &SeenRevisions::default()).unwrap_err(),
        Error::Authentication
    );
    let other = world();
    let mut all = recs(&w.store);
    all.push(
        find(&other.store, RecordKind::PromptVersion, other.a)
            .as_bytes()
            .to_vec(),
    );
    assert_eq!(
        client_open(h, &all, &SeenRevisions::default()).unwrap_err(),
        Error::Authentication
    );
}

#[test]
fn row_replaying_an_old_record() {
    let mut w = world();
    let h = w.store.header().unwrap().to_vec();
    let old_meta = find(&w.store, RecordKind::PromptMeta, w.a).clone();
    w.store
        .apply(&w.vault.set_favorite(w.a, true, Timestamp(9)).unwrap());
    let seen = w.vault.seen_revisions();
    let replayed = replace(
        &w.store,
        &old_meta.storage_key(),
        old_meta.as_bytes().to_vec(),
    );
    // Detected for a client that remembers what it saw…
    assert!(matches!(
        client_open(&h, &replayed, &seen).unwrap_err(),
        Error::Rollback { found: 2, seen: 3 }
    ));
    // …accepted (documented) for one that does not: it sees the older state.
    let v = client_open(&h, &replayed, &SeenRevisions::default()).unwrap();
    assert!(!v.summary(w.a).unwrap().favorite);
    // A replayed pruned version stays deleted (tombstone).
    let pruned = find(&w.store, RecordKind::PromptVersion, w.a).clone();
    let c = w
        .vault
        .delete_version(w.a, pruned.header().version_id().unwrap(), Timestamp(10))
        .unwrap();
    w.store.apply(&c);
    let mut all = recs(&w.store);
    all.push(pruned.as_bytes().to_vec());
    let v = client_open(w.store.header().unwrap(), &all, &SeenRevisions::default()).unwrap();
    assert_eq!(v.history(w.a).unwrap().len(), 1);
}

#[test]
fn row_truncating() {
    let w = world();
    let h = w.store.header().unwrap();
    for rec in w.store.records() {
        let bytes = rec.as_bytes();
        for cut in [0, 1, 71, 72, 100, bytes.len() - 1] {
            let all = replace(
                &w.store,
                &rec.storage_key(),
                bytes[..cut.min(bytes.len() - 1)].to_vec(),
            );
            assert_eq!(
                client_open(h, &all, &SeenRevisions::default()).unwrap_err(),
                Error::Authentication
            );
        }
    }
    // A truncated header is a structural error, before any key derivation.
    for cut in [0, 4, 71, 72, h.len() - 1] {
        assert!(matches!(
            client_open(&h[..cut], &recs(&w.store), &SeenRevisions::default()),
            Err(Error::Malformed { .. })
        ));
    }
    // A truncated vault file (bundle).
    let bundle = w.store.to_bundle().unwrap();
    assert!(MemoryStore::from_bundle(&bundle[..bundle.len() - 10]).is_err());
}

#[test]
fn row_dropping_a_version() {
    let w = world();
    let v = find(&w.store, RecordKind::PromptVersion, w.a);
    let all: Vec<Vec<u8>> = recs(&w.store)
        .into_iter()
        .filter(|r| r.as_slice() != v.as_bytes())
        .collect();
    assert_eq!(
        client_open(w.store.header().unwrap(), &all, &SeenRevisions::default()).unwrap_err(),
        Error::MissingRecord { what: "version" }
    );
}

#[test]
fn row_dropping_a_whole_prompt_is_an_accepted_leak() {
    // SECURITY.md: without a vault manifest, a prompt withheld entirely looks
    // like one never synced. The client that persisted SeenRevisions can see
    // that a prompt it saw is absent.
    let w = world();
    let seen = w.vault.seen_revisions();
    let all: Vec<Vec<u8>> = w
        .store
        .records()
        .filter(|r| r.header().prompt_id() != Some(w.b))
        .map(|r| r.as_bytes().to_vec())
        .collect();
    let v = client_open(w.store.header().unwrap(), &all, &seen).unwrap();
    assert_eq!(v.len(), 1);
    assert!(seen.prompts.contains_key(&w.b) && !v.seen_revisions().prompts.contains_key(&w.b));
}

#[test]
fn row_rolling_back_metadata() {
    let mut w = world();
    let old = w.store.clone();
    w.store.apply(
        &w.vault
            .add_tags(w.a, &["new".into()], Timestamp(5))
            .unwrap(),
    );
    let seen = w.vault.seen_revisions();
    let err = client_open(old.header().unwrap(), &recs(&old), &seen).unwrap_err();
    assert!(matches!(err, Error::Rollback { .. }));
    // Lowering the revision field of the current record in place is tampering.
    let m = find(&w.store, RecordKind::PromptMeta, w.a);
    let mut lowered = m.as_bytes().to_vec();
    lowered[60] -= 1;
    let all = replace(&w.store, &m.storage_key(), lowered);
    assert_eq!(
        client_open(w.store.header().unwrap(), &all, &SeenRevisions::default()).unwrap_err(),
        Error::Authentication
    );
}

#[test]
fn row_downgrading_the_format_version() {
    let w = world();
    let h = w.store.header().unwrap();
    let m = find(&w.store, RecordKind::PromptMeta, w.a);
    for version in [0u8, 2, 255] {
        let mut bad = m.as_bytes().to_vec();
        bad[4] = version;
        let all = replace(&w.store, &m.storage_key(), bad.clone());
        let err = client_open(h, &all, &SeenRevisions::default()).unwrap_err();
        let want = if version > 1 {
            Error::UnsupportedVersion { found: version }
        } else {
            Error::Authentication
        };
        assert_eq!(err, want);
        let mut bad_h = h.to_vec();
        bad_h[4] = version;
        assert!(client_open(&bad_h, &recs(&w.store), &SeenRevisions::default()).is_err());
    }
}

#[test]
fn row_substituting_a_kdf_header() {
    let w = world();
    let h = w.store.header().unwrap();
    // Weaker (in bounds) parameters: the password slot's AAD covers them.
    let mut weaker = h.to_vec();
    weaker[76..80].copy_from_slice(&2u32.to_le_bytes());
    assert_eq!(
        client_open(&weaker, &recs(&w.store), &SeenRevisions::default()).unwrap_err(),
        Error::Authentication
    );
    // Out of bounds: refused before any work.
    let mut hostile = h.to_vec();
    hostile[72..76].copy_from_slice(&u32::MAX.to_le_bytes());
    assert!(matches!(
        client_open(&hostile, &recs(&w.store), &SeenRevisions::default()),
        Err(Error::KdfParamsOutOfBounds { .. })
    ));
    // A whole header from another vault (with its own, known password).
    let other = world();
    let err = client_open(
        other.store.header().unwrap(),
        &recs(&w.store),
        &SeenRevisions::default(),
    )
    .unwrap_err();
    assert_eq!(err, Error::Authentication);
    // A new salt with the old slot.
    let mut salted = h.to_vec();
    salted[84] ^= 1;
    assert_eq!(
        client_open(&salted, &recs(&w.store), &SeenRevisions::default()).unwrap_err(),
        Error::Authentication
    );
}
