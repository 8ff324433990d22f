// Shared fixtures for the fuzz targets: the frozen vector vault
// (core/tests/vectors/vault_password.json), so seeds made from the vectors
// reach deep into opening and merging.
#![allow(dead_code)]
use std::sync::OnceLock;

use promptvault::format::text;
use promptvault::{Changeset, Credential, MemoryStore, Password, SealedRecord, Vault};

const VECTOR: &str = include_str!("../../core/tests/vectors/vault_password.json");
pub const EXPORT_PASSWORD: &str = "export password";

pub struct Fixture {
    pub header: Vec<u8>,
    pub records: Vec<Vec<u8>>,
    pub password: String,
}

pub fn fixture() -> &'static Fixture {
    static CELL: OnceLock<Fixture> = OnceLock::new();
    CELL.get_or_init(|| {
        let v: serde_json::Value = serde_json::from_str(VECTOR).unwrap();
        let dec = |x: &serde_json::Value| text::decode(x.as_str().unwrap()).unwrap();
        Fixture {
            header: dec(&v["header"]),
            records: v["records"].as_array().unwrap().iter().map(dec).collect(),
            password: v["password"].as_str().unwrap().to_owned(),
        }
    })
}

pub fn password() -> Password {
    Password::new(&fixture().password).unwrap()
}

/// The vector vault, unlocked once per process (one KDF run), with no
/// records (for merging) or with all of them; each call returns a clone.
pub fn open_fixture(with_records: bool) -> Vault {
    static EMPTY: OnceLock<Vault> = OnceLock::new();
    static FULL: OnceLock<Vault> = OnceLock::new();
    let cell = if with_records { &FULL } else { &EMPTY };
    cell.get_or_init(|| {
        let f = fixture();
        let records: &[Vec<u8>] = if with_records { &f.records } else { &[] };
        Vault::open(&f.header, records, Credential::Password(&password())).unwrap()
    })
    .clone()
}

/// Splits fuzz input into records: each chunk is prefixed by a u16 length.
pub fn split(mut data: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    while data.len() >= 2 && out.len() < 64 {
        let n = usize::from(u16::from_le_bytes([data[0], data[1]]));
        let rest = &data[2..];
        let n = n.min(rest.len());
        out.push(&rest[..n]);
        data = &rest[n..];
    }
    out
}

/// The vector vault's store (header and every record), or only its header.
pub fn fixture_store(with_records: bool) -> MemoryStore {
    let f = fixture();
    let mut changes = Changeset::default();
    changes.header = Some(SealedRecord::from_bytes(f.header.clone()).unwrap());
    if with_records {
        for r in &f.records {
            changes
                .puts
                .push(SealedRecord::from_bytes(r.clone()).unwrap());
        }
    }
    let mut store = MemoryStore::new();
    store.apply(&changes);
    store
}

/// The invariant "what the core writes, it opens": `changes`, applied to
/// `store`, must give a store that opens, with the same prompts listed and
/// the same prompts damaged as the vault `v` that wrote them.
pub fn assert_reopens(mut store: MemoryStore, changes: &Changeset, v: &Vault) {
    store.apply(changes);
    let back = Vault::open(
        store.header().unwrap(),
        store.record_bytes(),
        Credential::Password(&password()),
    )
    .unwrap_or_else(|e| panic!("the core wrote a store it cannot open: {e}"));
    assert_eq!(back.prompt_ids(), v.prompt_ids());
    let damaged = |v: &Vault| {
        v.damaged_prompts()
            .into_iter()
            .map(|d| d.id)
            .collect::<Vec<_>>()
    };
    assert_eq!(damaged(&back), damaged(v));
    for id in back.prompt_ids() {
        // History opens every version record. A version record that the
        // merge stored unopened (SPEC §11: versions are opened lazily) and
        // that does not authenticate fails here; it must fail the same way
        // in the vault that wrote it, never differently.
        match (back.history(id), v.history(id)) {
            (Ok(a), Ok(b)) => assert_eq!(a, b),
            (Err(a), Err(b)) => assert_eq!(a.code(), b.code()),
            (a, b) => panic!("history differs after reopening: {a:?} vs {b:?}"),
        }
        assert_eq!(back.summary(id).unwrap().tags, v.summary(id).unwrap().tags);
    }
}
