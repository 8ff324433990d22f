#![no_main]
//! Hostile pull answers fed to the sync engine (SPEC §12.11): pages of
//! `PullResponse` JSON, or structurally valid pages built from the synced
//! vector vault's own rows and mutated (seq, key, record bytes,
//! tombstones, cursor, `more`), go through `Inbox::absorb` and then
//! `SyncState::integrate` on a vault that has synced once.
//!
//! Beyond "no panic": on any error the vault, the store and the sync state
//! are unchanged; on success the store still opens, with the prompts the
//! vault lists ("what we write we can open"), and a commit can be prepared.
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use promptvault::protocol::{Change, PullResponse};
use promptvault::sync::SyncState;
use promptvault::{MemoryStore, SealedRecord, Vault};

#[path = "common.rs"]
mod common;

/// The vector vault after its first push: the state saw every record (and
/// a checkpoint) at seq 1; `rows` are the server's rows.
struct Synced {
    vault: Vault,
    store: MemoryStore,
    state: SyncState,
    rows: Vec<(String, String)>,
}

fn synced() -> &'static Synced {
    static CELL: OnceLock<Synced> = OnceLock::new();
    CELL.get_or_init(|| {
        let mut vault = common::open_fixture(true);
        let mut store = common::fixture_store(true);
        let mut state = SyncState::new();
        let mut inbox = state.begin_pull(&vault).unwrap();
        let empty = PullResponse::Changes {
            changes: Vec::new(),
            cursor: 0,
            more: false,
        };
        assert!(!inbox.absorb(empty).unwrap());
        state.integrate(&mut vault, &mut store, &inbox).unwrap();
        let prepared = state.prepare_commit(&vault, &store).unwrap().unwrap();
        let rows = prepared
            .request
            .puts
            .iter()
            .map(|p| {
                let r = SealedRecord::from_text(&p.record).unwrap();
                (r.storage_key(), p.record.clone())
            })
            .collect();
        state.committed(prepared, 1);
        assert_eq!(state.cursor(), 1);
        Synced {
            vault,
            store,
            state,
            rows,
        }
    })
}

/// What must not change when a step fails.
#[derive(PartialEq, Eq, Debug)]
struct Seen {
    store: MemoryStore,
    state: String,
    prompts: Vec<String>,
    revisions: String,
    header: Vec<u8>,
}

fn seen(v: &Vault, store: &MemoryStore, state: &SyncState) -> Seen {
    Seen {
        store: store.clone(),
        state: serde_json::to_string(state).unwrap(),
        prompts: v
            .prompt_ids()
            .into_iter()
            .map(|id| {
                let h = v.history(id).map(|h| h.len()).unwrap_or(usize::MAX);
                format!("{} {h} {:?}", id.to_hex(), v.summary(id).map(|s| s.tags))
            })
            .collect(),
        revisions: serde_json::to_string(&v.seen_revisions()).unwrap(),
        header: v.header_bytes().to_vec(),
    }
}

/// A byte reader that yields zeros when the input runs out.
struct Bytes<'a>(&'a [u8]);

impl Bytes<'_> {
    fn u8(&mut self) -> u8 {
        match self.0.split_first() {
            Some((b, rest)) => {
                self.0 = rest;
                *b
            }
            None => 0,
        }
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Pages built from the server's rows, each row possibly mutated.
fn structured(data: &[u8], s: &Synced) -> Vec<PullResponse> {
    let mut b = Bytes(data);
    let mut pages = Vec::new();
    let mut after = 1u64;
    while !b.is_empty() && pages.len() < 8 {
        let n = usize::from(b.u8() % 8);
        let mut changes = Vec::new();
        for _ in 0..n {
            let (key, record) = &s.rows[usize::from(b.u8()) % s.rows.len()];
            let op = b.u8();
            let seq = after + u64::from(b.u8() % 4);
            let mut c = Change {
                key: key.clone(),
                seq,
                record: Some(record.clone()),
                revision: None,
            };
            match op % 8 {
                // A tombstone (some report the revision they deleted).
                1 => {
                    c.record = None;
                    c.revision = (b.u8() % 2 == 1).then(|| u64::from(b.u8()));
                }
                // Under another row's key.
                2 => c.key = s.rows[usize::from(b.u8()) % s.rows.len()].0.clone(),
                // A byte of the record changed.
                3 => {
                    let mut bytes = SealedRecord::from_text(record).unwrap().into_bytes();
                    let i = usize::from(b.u8()) * 7 % bytes.len();
                    bytes[i] ^= b.u8() | 1;
                    c.record = Some(promptvault::format::text::encode(&bytes));
                }
                // Text that is not a record.
                4 => c.record = Some("AAAA".into()),
                // A seq at or below the cursor.
                5 => c.seq = after.saturating_sub(u64::from(b.u8() % 2)),
                _ => {}
            }
            changes.push(c);
        }
        if b.u8() % 4 != 0 {
            changes.sort_by(|x, y| (x.seq, &x.key).cmp(&(y.seq, &y.key)));
        }
        let top = changes.iter().map(|c| c.seq).max().unwrap_or(after);
        let cursor = match b.u8() % 8 {
            0 => top.saturating_sub(1),
            1 => after,
            _ => top,
        };
        let more = b.u8() % 3 == 0;
        if b.u8() % 16 == 0 {
            pages.push(PullResponse::StartOver { oldest: cursor });
        } else {
            pages.push(PullResponse::Changes {
                changes,
                cursor,
                more,
            });
        }
        after = cursor.max(after);
    }
    pages
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let s = synced();
    let pages: Vec<PullResponse> = if mode % 2 == 0 {
        common::split(rest)
            .into_iter()
            .filter_map(|c| serde_json::from_slice(c).ok())
            .collect()
    } else {
        structured(rest, s)
    };

    let mut vault = s.vault.clone();
    let mut store = s.store.clone();
    let mut state = s.state.clone();
    let before = seen(&vault, &store, &state);
    let mut inbox = state.begin_pull(&vault).unwrap();
    let mut done = false;
    for page in pages {
        match inbox.absorb(page) {
            Ok(true) => {}
            Ok(false) => {
                done = true;
                break;
            }
            Err(_) => break,
        }
    }
    assert!(
        seen(&vault, &store, &state) == before,
        "absorbing pages changed the device"
    );
    if !done {
        // Integrating an incomplete pull is refused, and changes nothing.
        assert!(state.integrate(&mut vault, &mut store, &inbox).is_err());
        assert!(
            seen(&vault, &store, &state) == before,
            "a refused integrate changed the device"
        );
        return;
    }
    let store_before = store.clone();
    match state.integrate(&mut vault, &mut store, &inbox) {
        Err(_) => {
            assert!(
                seen(&vault, &store, &state) == before,
                "a failed integrate changed the device"
            );
        }
        Ok(done) => {
            assert!(
                {
                    let mut expected = store_before.clone();
                    expected.apply(&done.changes);
                    expected == store
                },
                "the store is not the old store plus the reported changes"
            );
            common::assert_reopens(store_before, &done.changes, &vault);
            let _ = state.prepare_commit(&vault, &store);
        }
    }
});
