//! The unlocked vault: the keys and decrypted state it holds, what it
//! reports (ids, revisions, KDF parameters, damaged prompts), every record
//! a store should hold, and opening its version records.

use std::collections::BTreeMap;

use super::Changeset;
use super::seal::parse_json;
use super::state::{Damaged, DamagedPrompt, PromptState, SeenRevisions};
use crate::error::{Error, Result};
use crate::hazmat::Key;
use crate::header::KeyHeader;
use crate::ids::{PromptId, VaultId};
use crate::kdf::KdfParams;
use crate::model::VersionContent;
use crate::record::SealedRecord;
use crate::sealing;

/// An unlocked vault.
///
/// Holds the vault key, every prompt's item key and metadata decrypted in
/// memory, and the versions still sealed (opened on demand, so a list view
/// never decrypts a body). Dropping it zeroizes every key; a clone holds
/// its own copies of the keys, zeroized when it drops.
#[derive(Clone)]
pub struct Vault {
    pub(super) header: KeyHeader,
    pub(super) vk: Key,
    pub(super) prev: Option<(u32, Key)>,
    pub(crate) prompts: BTreeMap<PromptId, PromptState>,
    pub(crate) damaged: BTreeMap<PromptId, Damaged>,
    /// Whether this vault is a shared space (SPEC §13.5): unlocked by a
    /// space key through its recovery slot; it has no usable password.
    pub(crate) space: bool,
    /// The account records that are not prompts (identity, space keys),
    /// sealed, by storage key (`extras`).
    pub(crate) extras: BTreeMap<String, SealedRecord>,
}

impl core::fmt::Debug for Vault {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Vault")
            .field("id", &self.id())
            .field("key_generation", &self.key_generation())
            .field("prompts", &self.prompts.len())
            .field("damaged", &self.damaged.len())
            .finish_non_exhaustive()
    }
}

impl Vault {
    /// The vault id.
    #[must_use]
    pub fn id(&self) -> VaultId {
        self.header.record.vault_id
    }

    /// The current key generation (1 for a new vault, +1 per rotation).
    #[must_use]
    pub fn key_generation(&self) -> u32 {
        self.header.record.key_gen
    }

    /// The vault header revision (+1 per header change).
    #[must_use]
    pub fn header_revision(&self) -> u64 {
        self.header.record.revision
    }

    /// The KDF parameters of the password slot.
    #[must_use]
    pub fn kdf_params(&self) -> KdfParams {
        self.header.kdf
    }

    /// The current vault header in its stored form.
    #[must_use]
    pub fn header_bytes(&self) -> &[u8] {
        &self.header.bytes
    }

    /// The revisions this vault holds, to persist for rollback detection.
    #[must_use]
    pub fn seen_revisions(&self) -> SeenRevisions {
        SeenRevisions {
            header: self.header.record.revision,
            prompts: self
                .prompts
                .iter()
                .map(|(id, p)| (*id, p.revision))
                .chain(
                    self.damaged
                        .iter()
                        .map(|(id, d)| (*id, d.meta.header().revision)),
                )
                .collect(),
        }
    }

    /// Prompts whose metadata breaks a model rule (`SPEC.md` §6), in id
    /// order: left out of every other view, each with the rule it breaks.
    /// Export them with [`Vault::export`] (as far as readable) or remove
    /// them with [`Vault::delete_prompt`].
    #[must_use]
    pub fn damaged_prompts(&self) -> Vec<DamagedPrompt> {
        self.damaged.iter().map(|(id, d)| d.public(*id)).collect()
    }

    /// Every record of the vault in its current state (header excluded),
    /// sealed — what a store should hold. Item keys and metadata are sealed
    /// afresh; versions and the account records (identity, space keys) are
    /// returned as stored.
    ///
    /// # Errors
    ///
    /// [`Error::Randomness`] if no nonce can be drawn.
    pub fn records(&self) -> Result<Vec<SealedRecord>> {
        let mut out = Vec::new();
        for (id, p) in &self.prompts {
            for (generation, key) in &p.keys {
                out.push(self.seal_item_key(*id, *generation, key)?);
            }
            let (generation, key) = p.current_key()?;
            out.push(p.seal_whole(self.id(), *id, generation, key, p.revision)?);
            out.extend(p.versions.values().cloned());
            out.extend(p.segment_records().map(|(_, r)| r.clone()));
        }
        for (id, d) in &self.damaged {
            out.extend(d.records(|g, k| self.seal_item_key(*id, g, k))?);
        }
        out.extend(self.extras.values().cloned());
        Ok(out)
    }

    /// Everything a store should hold for this vault, as one changeset: the
    /// current header and [`Vault::records`] — for writing a fresh store or
    /// repairing one (apply it to an empty store).
    ///
    /// # Errors
    ///
    /// As [`Vault::records`].
    pub fn snapshot(&self) -> Result<Changeset> {
        Ok(Changeset {
            header: Some(self.header_record()),
            puts: self.records()?,
            deletes: Vec::new(),
        })
    }

    /// The current vault header as a sealed record.
    #[must_use]
    pub fn header_record(&self) -> SealedRecord {
        SealedRecord::from_parts(self.header.record, self.header.bytes.clone())
    }

    /// Opens every stored version and index segment, proving the whole
    /// vault authentic (open only authenticates item keys, metadata and
    /// the segments it lists; versions open on demand).
    ///
    /// # Errors
    ///
    /// [`Error::Authentication`] naming no record, if any version fails;
    /// [`Error::Malformed`] if an authentic version of a listed prompt does
    /// not parse or disagrees with its metadata's copies (`SPEC.md` §6.3).
    pub fn verify(&self) -> Result<()> {
        for p in self.prompts.values() {
            for rec in p.versions.values() {
                self.open_version_record(p, rec)?;
            }
            // Listed segments opened with their metadata; strays did not.
            for rec in p.strays.values() {
                let key = p
                    .keys
                    .get(&rec.header().key_gen)
                    .ok_or(Error::Authentication)?;
                sealing::open(key, rec)?;
            }
        }
        for d in self.damaged.values() {
            for rec in d.versions.values().chain(d.segments.values()) {
                let key = d
                    .keys
                    .get(&rec.header().key_gen)
                    .ok_or(Error::Authentication)?;
                sealing::open(key, rec)?;
            }
        }
        Ok(())
    }

    /// Opens a version record of `p` and checks the metadata's copies
    /// against it ([`crate::rules::check_copies`], D4): what every read of
    /// a version shown to the caller goes through.
    ///
    /// # Errors
    ///
    /// [`Error::Authentication`] if it fails to open (opaque, fatal);
    /// [`Error::Malformed`] if its authentic content does not parse or a
    /// metadata copy disagrees with it — a model-rule failure of this
    /// prompt alone.
    pub(crate) fn open_version_record(
        &self,
        p: &PromptState,
        rec: &SealedRecord,
    ) -> Result<VersionContent> {
        let content = self.open_version_content(p, rec)?;
        let vid = rec.header().version_id().ok_or(Error::Authentication)?;
        crate::rules::check_copies(&p.meta, vid, &content)?;
        Ok(content)
    }

    /// Opens a version record of `p` and parses it, without comparing it
    /// with the metadata: for paths that carry records as they are
    /// (rotation re-encrypts them, export carries them and import derives
    /// the copies from them), so a faulty copy never blocks them.
    pub(crate) fn open_version_content(
        &self,
        p: &PromptState,
        rec: &SealedRecord,
    ) -> Result<VersionContent> {
        let key = p
            .keys
            .get(&rec.header().key_gen)
            .ok_or(Error::Authentication)?;
        let plain = sealing::open(key, rec)?;
        parse_json(&plain, "version JSON")
    }
}
