//! What a mutation asks the store to do.

use crate::record::SealedRecord;

/// The records to write and delete after a vault operation.
///
/// The core does no I/O: every mutation returns a `Changeset`, and the caller
/// persists it however it likes (a file, IndexedDB, HTTP, SQL).
///
/// # Applying
///
/// Apply it whole when the store can (one transaction). When it cannot,
/// apply it in this order, which keeps every intermediate state openable:
///
/// 1. the [`header`](Changeset::header), if any;
/// 2. every record in [`puts`](Changeset::puts), in any order, each replacing
///    the record with the same [`storage_key`](SealedRecord::storage_key);
/// 3. every key in [`deletes`](Changeset::deletes).
///
/// Serialises (for bindings and transport) as `{"header", "puts",
/// "deletes"}`, each record in its JSON form (see [`SealedRecord`]).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct Changeset {
    /// A new vault header, written first.
    pub header: Option<SealedRecord>,
    /// Records to write (replacing the record with the same storage key).
    pub puts: Vec<SealedRecord>,
    /// Storage keys of records to delete, last.
    pub deletes: Vec<String>,
}

impl Changeset {
    /// Whether there is nothing to do.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.header.is_none() && self.puts.is_empty() && self.deletes.is_empty()
    }

    /// Adds a record to write, replacing an earlier put of the same key and
    /// cancelling a delete of it.
    pub(crate) fn put(&mut self, record: SealedRecord) {
        let key = record.storage_key();
        self.deletes.retain(|d| *d != key);
        self.puts.retain(|p| p.storage_key() != key);
        self.puts.push(record);
    }

    /// Adds a record known not to be in the changeset yet (no dedup scan).
    pub(crate) fn put_new(&mut self, record: SealedRecord) {
        self.puts.push(record);
    }

    /// Adds a key to delete, cancelling an earlier put of it.
    pub(crate) fn delete(&mut self, key: String) {
        self.puts.retain(|p| p.storage_key() != key);
        if !self.deletes.contains(&key) {
            self.deletes.push(key);
        }
    }

    /// Appends `later`, which was produced after `self`.
    pub fn extend(&mut self, later: Changeset) {
        if later.header.is_some() {
            self.header = later.header;
        }
        for p in later.puts {
            self.put(p);
        }
        for d in later.deletes {
            self.delete(d);
        }
    }

    /// Number of records written (header included).
    #[must_use]
    pub fn put_count(&self) -> usize {
        self.puts.len() + usize::from(self.header.is_some())
    }
}
