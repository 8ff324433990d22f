//! The account records of a vault that are not prompts (SPEC §13.3,
//! §13.5): the sharing identity (kind 9, `id`) and the keys of the spaces
//! the account belongs to (kind 11, `s.<space>`). Sealed under the vault
//! key like every record, they travel with the vault — open, merge, sync,
//! rotation — while their contents are read only by the `share` module.
//! This part needs no sharing code: a build without the `sharing` feature
//! keeps, merges and re-seals them all the same.

use std::collections::BTreeMap;

use super::{Changeset, Vault};
use crate::error::{Error, Result};
use crate::format::RecordKind;
use crate::hazmat::Key;
use crate::record::SealedRecord;
use crate::sealing;

/// Whether records of `kind` are account records kept as extras.
pub(crate) const fn is_extra(kind: RecordKind) -> bool {
    matches!(kind, RecordKind::Identity | RecordKind::SpaceKey)
}

/// Whether a storage key holds an account record (`id`, `s.<space>`).
pub(crate) fn is_extra_key(key: &str) -> bool {
    key == "id" || key.starts_with("s.")
}

/// Whether `new` replaces `old` under the same storage key: see
/// [`crate::share::supersedes`].
pub(crate) fn wins(new: &SealedRecord, old: &SealedRecord) -> bool {
    crate::share::supersedes(new, old)
}

impl Vault {
    /// Authenticates an incoming account record under the vault key of its
    /// generation (its content is checked when it is read).
    pub(super) fn check_extra(&self, rec: &SealedRecord) -> Result<()> {
        let vk = self
            .vault_key(rec.header().key_generation())
            .ok_or(Error::Authentication)?;
        sealing::open(vk, rec).map(drop)
    }

    /// The account record stored under `key`, if any.
    pub(crate) fn extra(&self, key: &str) -> Option<&SealedRecord> {
        self.extras.get(key)
    }

    #[cfg(feature = "sharing")]
    /// Every account record whose storage key starts with `prefix`.
    pub(crate) fn extras_with_prefix<'a>(
        &'a self,
        prefix: &'a str,
    ) -> impl Iterator<Item = &'a SealedRecord> + 'a {
        self.extras
            .range(prefix.to_owned()..)
            .take_while(move |(k, _)| k.starts_with(prefix))
            .map(|(_, r)| r)
    }

    #[cfg(feature = "sharing")]
    /// Stores an account record this vault just sealed; returns the
    /// changeset that puts it.
    pub(crate) fn put_extra(&mut self, rec: SealedRecord) -> Changeset {
        let mut changes = Changeset::default();
        changes.put_new(rec.clone());
        self.extras.insert(rec.storage_key(), rec);
        changes
    }

    /// Removes the account record under `key`; returns the changeset that
    /// deletes it (empty when there was none).
    pub(crate) fn remove_extra(&mut self, key: &str) -> Changeset {
        let mut changes = Changeset::default();
        if self.extras.remove(key).is_some() {
            changes.delete(key.to_owned());
        }
        changes
    }

    /// Re-seals every account record not yet at `generation` under `vk`
    /// (the vault key of `generation`), adding the puts to `changes`.
    /// Returns the new set.
    pub(super) fn reseal_extras(
        &self,
        generation: u32,
        vk: &Key,
        changes: &mut Changeset,
    ) -> Result<BTreeMap<String, SealedRecord>> {
        let mut out = BTreeMap::new();
        for (key, rec) in &self.extras {
            let rec = if rec.header().key_generation() == generation {
                rec.clone()
            } else {
                let old = self
                    .vault_key(rec.header().key_generation())
                    .ok_or(Error::Authentication)?;
                let plain = sealing::open(old, rec)?;
                let mut header = *rec.header();
                header.key_gen = generation;
                let sealed = sealing::seal(vk, header, &plain)?;
                changes.put_new(sealed.clone());
                sealed
            };
            out.insert(key.clone(), rec);
        }
        Ok(out)
    }
}
