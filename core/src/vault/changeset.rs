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

    /// Appends `later`, which was produced after `self`: its puts replace
    /// earlier puts of their keys and cancel earlier deletes; its deletes
    /// cancel earlier puts (and its own). Linear in the two sizes.
    pub fn extend(&mut self, later: Changeset) {
        use std::collections::HashSet;
        if later.header.is_some() {
            self.header = later.header;
        }
        let deleted: HashSet<String> = later.deletes.iter().cloned().collect();
        let put_keys: Vec<String> = later.puts.iter().map(SealedRecord::storage_key).collect();
        let touched: HashSet<&str> = put_keys
            .iter()
            .map(String::as_str)
            .chain(deleted.iter().map(String::as_str))
            .collect();
        self.puts
            .retain(|p| !touched.contains(p.storage_key().as_str()));
        self.deletes.retain(|d| !touched.contains(d.as_str()));
        // The last put of each key, unless `later` deletes it too.
        let mut kept: HashSet<&str> = HashSet::new();
        let mut puts: Vec<SealedRecord> = later
            .puts
            .into_iter()
            .zip(&put_keys)
            .rev()
            .filter(|(_, k)| !deleted.contains(*k) && kept.insert(k.as_str()))
            .map(|(p, _)| p)
            .collect();
        puts.reverse();
        self.puts.extend(puts);
        let mut once: HashSet<String> = HashSet::new();
        for d in later.deletes {
            if once.insert(d.clone()) {
                self.deletes.push(d);
            }
        }
    }

    /// Number of records written (header included).
    #[must_use]
    pub fn put_count(&self) -> usize {
        self.puts.len() + usize::from(self.header.is_some())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use std::collections::BTreeSet;

    use proptest::prelude::*;

    use super::*;
    use crate::{Draft, KdfParams, Password, Timestamp, Vault};

    /// A few real records with distinct storage keys.
    fn records() -> Vec<SealedRecord> {
        let pw = Password::new("changeset test password").unwrap();
        let kdf = KdfParams::new(KdfParams::MIN_M_COST_KIB, 1, 1).unwrap();
        let mut nv = Vault::create(&pw, kdf).unwrap();
        let draft = Draft {
            title: "t".into(),
            body: "b".into(),
            ..Draft::default()
        };
        let (_, c) = nv
            .vault
            .create_prompt(&draft, &[], false, Timestamp(1))
            .unwrap();
        let mut out = nv.changes.puts;
        out.extend(c.puts);
        out
    }

    /// The reference: `later` applied put by put, then delete by delete.
    fn one_by_one(mut earlier: Changeset, later: Changeset) -> Changeset {
        if later.header.is_some() {
            earlier.header = later.header;
        }
        for p in later.puts {
            earlier.put(p);
        }
        for d in later.deletes {
            earlier.delete(d);
        }
        earlier
    }

    /// What a changeset does to a store: the puts by key, the deletes.
    fn effect(c: &Changeset) -> (Vec<(String, Vec<u8>)>, BTreeSet<String>) {
        let mut puts: Vec<(String, Vec<u8>)> = c
            .puts
            .iter()
            .map(|p| (p.storage_key(), p.as_bytes().to_vec()))
            .collect();
        puts.sort();
        (puts, c.deletes.iter().cloned().collect())
    }

    fn build(pool: &[SealedRecord], ops: &[(bool, usize)]) -> Changeset {
        let mut c = Changeset::default();
        for &(put, i) in ops {
            let r = pool[i % pool.len()].clone();
            if put {
                c.put(r);
            } else {
                c.delete(r.storage_key());
            }
        }
        c
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

        /// `extend` does what applying `later` op by op does, and keeps
        /// each key once.
        #[test]
        fn extend_is_applying_later_op_by_op(
            a in proptest::collection::vec((any::<bool>(), 0usize..8), 0..12),
            b in proptest::collection::vec((any::<bool>(), 0usize..8), 0..12),
        ) {
            let pool = records();
            prop_assume!(pool.len() >= 3);
            let (earlier, later) = (build(&pool, &a), build(&pool, &b));
            let want = one_by_one(earlier.clone(), later.clone());
            let mut got = earlier;
            got.extend(later);
            prop_assert_eq!(effect(&got), effect(&want));
            let keys: BTreeSet<String> = got.puts.iter().map(SealedRecord::storage_key).collect();
            prop_assert_eq!(keys.len(), got.puts.len());
            prop_assert!(keys.iter().all(|k| !got.deletes.contains(k)));
        }
    }
}
