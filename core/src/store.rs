//! An in-memory record store and the single-file bundle encoding, for
//! callers that keep a whole vault in one blob (the CLI's vault file, a
//! browser's IndexedDB value, tests). Pure data: no I/O.
//!
//! Bundle: the vault header record followed by every other record, sorted
//! by storage key in strictly ascending byte order — so the encoding of a
//! given set of records is unique, and a reordered file is refused.
//!
//! Needs the `unlock` cargo feature (on by default).

use std::collections::BTreeMap;

use crate::error::{Error, Result};
use crate::format::{self, MAX_RECORD_LEN, RecordKind};
use crate::record::SealedRecord;
use crate::vault::Changeset;

/// Largest bundle accepted, in bytes (2 GiB).
pub const MAX_BUNDLE_LEN: usize = 2 << 30;

/// The records of one vault, keyed by storage key.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MemoryStore {
    header: Option<SealedRecord>,
    records: BTreeMap<String, SealedRecord>,
}

impl MemoryStore {
    /// An empty store.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Applies a changeset in the documented order: header, puts, deletes.
    pub fn apply(&mut self, changes: &Changeset) {
        if let Some(h) = &changes.header {
            self.header = Some(h.clone());
        }
        for r in &changes.puts {
            self.records.insert(r.storage_key(), r.clone());
        }
        for k in &changes.deletes {
            self.records.remove(k);
        }
    }

    /// Replaces the vault header (a header the vault was just opened with,
    /// e.g. one a sync server holds).
    pub fn put_header(&mut self, header: SealedRecord) {
        self.header = Some(header);
    }

    /// The record stored under `key` (not the header), if any.
    #[must_use]
    pub fn get(&self, key: &str) -> Option<&SealedRecord> {
        self.records.get(key)
    }

    /// The stored vault header, if any.
    #[must_use]
    pub fn header(&self) -> Option<&[u8]> {
        self.header.as_ref().map(SealedRecord::as_bytes)
    }

    /// The stored vault header as a record, if any.
    #[must_use]
    pub fn header_record(&self) -> Option<&SealedRecord> {
        self.header.as_ref()
    }

    /// Every stored record except the header, in storage-key order.
    pub fn records(&self) -> impl Iterator<Item = &SealedRecord> {
        self.records.values()
    }

    /// Every stored record except the header with its storage key, in
    /// storage-key order.
    pub fn entries(&self) -> impl Iterator<Item = (&str, &SealedRecord)> {
        self.records.iter().map(|(k, r)| (k.as_str(), r))
    }

    /// Every stored record's bytes (for [`crate::Vault::open`]).
    #[must_use]
    pub fn record_bytes(&self) -> Vec<&[u8]> {
        self.records.values().map(SealedRecord::as_bytes).collect()
    }

    /// Number of records (header excluded).
    #[must_use]
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether there are no records (header excluded).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Encodes the store as one bundle.
    ///
    /// # Errors
    ///
    /// [`Error::MissingRecord`] if there is no header.
    pub fn to_bundle(&self) -> Result<Vec<u8>> {
        let header = self.header.as_ref().ok_or(Error::MissingRecord {
            what: "vault header",
        })?;
        let total = header.as_bytes().len()
            + self
                .records
                .values()
                .map(|r| r.as_bytes().len())
                .sum::<usize>();
        let mut out = Vec::with_capacity(total);
        out.extend_from_slice(header.as_bytes());
        for r in self.records.values() {
            out.extend_from_slice(r.as_bytes());
        }
        Ok(out)
    }

    /// Parses a bundle strictly: a vault header first, then records in
    /// strictly ascending storage-key order, all of the same vault, nothing
    /// trailing.
    ///
    /// # Errors
    ///
    /// [`Error::LimitExceeded`] above [`MAX_BUNDLE_LEN`]; [`Error::Malformed`]
    /// for a missing header, records out of order or duplicated, or another
    /// vault's record; as [`format::read::parse_record`] for each record.
    pub fn from_bundle(bytes: &[u8]) -> Result<Self> {
        if bytes.len() > MAX_BUNDLE_LEN {
            return Err(Error::too_large(
                "vault bundle",
                MAX_BUNDLE_LEN,
                bytes.len(),
            ));
        }
        let (h, _, mut rest) = format::read::parse_prefix(bytes)?;
        if h.kind != RecordKind::VaultHeader {
            return Err(Error::malformed("a bundle starts with the vault header"));
        }
        let header_bytes = bytes
            .get(..h.total_len())
            .ok_or(Error::malformed("truncated"))?;
        let header = SealedRecord::from_bytes(header_bytes.to_vec())?;
        let mut records = BTreeMap::new();
        let mut last: Option<String> = None;
        while !rest.is_empty() {
            let (rh, _, next) = format::read::parse_prefix(rest)?;
            if rh.total_len() > MAX_RECORD_LEN {
                return Err(Error::too_large("record", MAX_RECORD_LEN, rh.total_len()));
            }
            let raw = rest
                .get(..rh.total_len())
                .ok_or(Error::malformed("truncated"))?;
            if rh.kind == RecordKind::VaultHeader || rh.vault_id != h.vault_id {
                return Err(Error::malformed(
                    "a bundle record that does not belong here",
                ));
            }
            let key = rh.storage_key();
            if last.as_ref().is_some_and(|l| *l >= key) {
                return Err(Error::malformed(
                    "bundle records out of order or duplicated",
                ));
            }
            last = Some(key.clone());
            records.insert(key, SealedRecord::from_bytes(raw.to_vec())?);
            rest = next;
        }
        Ok(MemoryStore {
            header: Some(header),
            records,
        })
    }
}
