//! The unlocked vault: key hierarchy, credentials, rotation, and the prompt
//! state decrypted in memory.
//!
//! ```text
//! password ──NFC──▶ Argon2id ──▶ KEK ─┐
//! recovery key ───────────────────────┴─ wraps ─▶ vault key (VK, per generation)
//!                                                   │ wraps
//!                                                   ▼
//!                                        item key per prompt and generation
//!                                                   │ seals
//!                                                   ▼
//!                                        prompt metadata + every version
//! ```

mod changeset;
pub(crate) mod checkpoint;
pub(crate) mod layout;
mod prompts;
mod query;
pub(crate) mod sync;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

pub use changeset::Changeset;
pub use prompts::Published;
pub use query::{ArchivedFilter, DiffLine, DiffOp, Query, TagCount, TagMode};
pub use sync::MergeReport;

use crate::argon::{self, Password};
use crate::error::{Error, Result};
use crate::format::{RecordHeader, RecordKind};
use crate::hazmat::Key;
use crate::header::{Credential, HeaderBuilder, KeyHeader, SlotSource};
use crate::ids::{ID_LEN, PromptId, SegmentId, VaultId, VersionId};
use crate::kdf::{self, KdfParams};
use crate::model::{IndexEntry, Meta, MetaView, VersionContent};
use crate::record::SealedRecord;
use crate::recovery::RecoveryKey;
use crate::rng;
use crate::sealing;
use crate::store::MemoryStore;
use layout::{Layout, LayoutChange};

/// Revisions a client has already seen, to detect a server rolling data back.
///
/// Persist it next to the vault (it is not secret) and pass it to
/// [`Vault::open_with_seen`]; take the new value from
/// [`Vault::seen_revisions`] after every open and every write.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeenRevisions {
    /// Highest vault-header revision seen.
    pub header: u64,
    /// Highest metadata revision seen, per prompt.
    pub prompts: BTreeMap<PromptId, u64>,
}

/// A prompt's decrypted state.
#[derive(Clone)]
pub(crate) struct PromptState {
    /// Replayed records of tombstoned versions that open found in the store
    /// (open cannot delete): the next write of this prompt deletes them.
    pub(crate) stale: BTreeSet<VersionId>,
    /// Item keys by generation (more than one only mid-rotation).
    pub(crate) keys: BTreeMap<u32, Key>,
    /// The model's metadata: every live version's index entry.
    pub(crate) meta: Meta,
    /// Where the index is stored: the segments the metadata lists and its
    /// open tail (SPEC §6.4).
    pub(crate) layout: Layout,
    /// Segment records the metadata does not list (a newer metadata may,
    /// or a compaction's deletes were not applied): ignored, kept in the
    /// store, re-sealed by rotation and deleted with the prompt.
    pub(crate) strays: BTreeMap<SegmentId, SealedRecord>,
    pub(crate) revision: u64,
    /// Generation of the stored metadata record.
    pub(crate) meta_gen: u32,
    /// Sealed versions, opened on demand.
    pub(crate) versions: BTreeMap<VersionId, SealedRecord>,
}

/// Metadata sealed at the next revision, not yet installed (see
/// [`PromptState::seal_edit`] and [`PromptState::install_meta`]).
pub(crate) struct NextMeta {
    /// Every member but the index (left empty).
    pub(crate) fields: Meta,
    /// The version the edit adds to the index, if any.
    pub(crate) added: Option<IndexEntry>,
    pub(crate) layout: LayoutChange,
    pub(crate) revision: u64,
    pub(crate) generation: u32,
}

impl PromptState {
    /// Seals an edit at the next revision under the newest item key,
    /// without changing anything: mutations seal first and install after,
    /// so an error leaves the prompt as it was. `fields` holds every
    /// member but the index (see [`Meta::clone_fields`]); `added` is the
    /// one version the edit adds to the index, if any. Returns the records
    /// to put: new index segments, then the metadata.
    ///
    /// Time and size are independent of the history (SPEC §6.4): the
    /// open tail gains `added`, full segments are cut from it, and the
    /// metadata re-sealed lists the segments by id. The checks are
    /// [`crate::rules::check_stored`]'s; the index was fully checked when it
    /// was built.
    pub(crate) fn seal_edit(
        &self,
        vault: VaultId,
        prompt: PromptId,
        fields: Meta,
        added: Option<IndexEntry>,
    ) -> Result<(Vec<SealedRecord>, NextMeta)> {
        let (generation, item) = self.current_key()?;
        let revision = self
            .revision
            .checked_add(1)
            .ok_or(Error::invalid("revision overflow"))?;
        let listed =
            |v: VersionId| added.is_some_and(|e| e.id == v) || self.versions.contains_key(&v);
        if let Some(e) = added {
            crate::rules::check_new_entry(&fields, self.meta.versions.len(), &e, |v| {
                self.versions.contains_key(&v)
            })?;
        }
        let mut tail = self.layout.tail.clone();
        if let Some(e) = added {
            let at = tail.partition_point(|x| *x < e);
            tail.insert(at, e);
        }
        let mut seal = |entries: &[IndexEntry]| -> Result<(SegmentId, SealedRecord)> {
            let id = SegmentId::generate()?;
            Ok((
                id,
                seal_segment(vault, prompt, id, generation, item, entries)?,
            ))
        };
        let change = self.layout.plan(tail, &listed, &mut seal)?;
        let view = fields.view(&change.ids, &change.tail);
        let record = seal_meta_view(vault, prompt, generation, item, revision, &view, listed)?;
        let mut puts: Vec<SealedRecord> = change.puts().cloned().collect();
        puts.push(record);
        Ok((
            puts,
            NextMeta {
                fields,
                added,
                layout: change,
                revision,
                generation,
            },
        ))
    }

    /// Installs metadata sealed by [`PromptState::seal_edit`]. Returns
    /// the storage keys to delete: retired index segments and stale
    /// replayed versions (this write deletes them again, see `SPEC.md`
    /// §6.1).
    pub(crate) fn install_meta(&mut self, prompt: PromptId, next: NextMeta) -> Vec<String> {
        let mut versions = core::mem::take(&mut self.meta.versions);
        if let Some(e) = next.added {
            let at = versions.partition_point(|x| *x < e);
            versions.insert(at, e);
        }
        self.meta = Meta {
            versions,
            ..next.fields
        };
        self.revision = next.revision;
        self.meta_gen = next.generation;
        let (mut deletes, dropped) = self.layout.apply(prompt, next.layout);
        self.strays.extend(dropped);
        deletes.extend(self.take_stale(prompt));
        deletes
    }

    /// Seals this prompt's metadata and layout as they are, at `revision`
    /// under generation `generation` (the full check: rotation, and
    /// [`Vault::records`]).
    pub(crate) fn seal_whole(
        &self,
        vault: VaultId,
        prompt: PromptId,
        generation: u32,
        item: &Key,
        revision: u64,
    ) -> Result<SealedRecord> {
        seal_meta(
            vault,
            prompt,
            generation,
            item,
            revision,
            &self.meta,
            &self.layout,
        )
    }

    /// Every index segment record this prompt holds, listed or not.
    pub(crate) fn segment_records(&self) -> impl Iterator<Item = (SegmentId, &SealedRecord)> {
        self.layout
            .segments
            .iter()
            .map(|(id, s)| (*id, &s.record))
            .chain(self.strays.iter().map(|(id, r)| (*id, r)))
    }

    /// Takes the stale replayed versions' storage keys (see [`PromptState::stale`]).
    pub(crate) fn take_stale(&mut self, prompt: PromptId) -> Vec<String> {
        core::mem::take(&mut self.stale)
            .into_iter()
            .map(|v| prompts::version_storage_key(prompt, v))
            .collect()
    }

    /// The newest generation and its item key.
    pub(crate) fn current_key(&self) -> Result<(u32, &Key)> {
        self.keys
            .iter()
            .next_back()
            .map(|(g, k)| (*g, k))
            .ok_or(Error::MissingRecord { what: "item key" })
    }
}

/// A prompt whose authentic metadata fails the model rules (`SPEC.md` §6):
/// written by a buggy or hostile client holding the keys. The vault opens
/// without it; it is listed by [`Vault::damaged_prompts`], can be exported
/// as far as it is readable, and removed with [`Vault::delete_prompt`].
/// Serialises as `{"promptId", "code", "message", "versionCount"}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct DamagedPrompt {
    /// The prompt id.
    #[serde(rename = "promptId")]
    pub id: PromptId,
    /// The rule its metadata breaks.
    #[serde(flatten)]
    pub reason: Error,
    /// How many version records it has.
    #[serde(rename = "versionCount")]
    pub versions: usize,
}

/// A damaged prompt's records, kept as they were read.
#[derive(Clone)]
pub(crate) struct Damaged {
    pub(crate) keys: BTreeMap<u32, Key>,
    pub(crate) meta: SealedRecord,
    pub(crate) versions: BTreeMap<VersionId, SealedRecord>,
    /// Every index segment record of it, listed or not.
    pub(crate) segments: BTreeMap<SegmentId, SealedRecord>,
    pub(crate) reason: Error,
}

impl Damaged {
    pub(crate) fn public(&self, id: PromptId) -> DamagedPrompt {
        DamagedPrompt {
            id,
            reason: self.reason.clone(),
            versions: self.versions.len(),
        }
    }

    /// Every record of it, item keys sealed afresh under `vault`'s keys.
    pub(crate) fn records(&self, id: PromptId, vault: &Vault) -> Result<Vec<SealedRecord>> {
        let mut out = Vec::with_capacity(self.keys.len() + 1 + self.versions.len());
        for (generation, key) in &self.keys {
            out.push(vault.seal_item_key(id, *generation, key)?);
        }
        out.push(self.meta.clone());
        out.extend(self.versions.values().cloned());
        out.extend(self.segments.values().cloned());
        Ok(out)
    }

    /// Whether any of its records is under a generation other than `generation`.
    fn stale_generation(&self, generation: u32) -> bool {
        self.keys.keys().any(|g| *g != generation)
            || self.meta.header().key_gen != generation
            || self
                .versions
                .values()
                .chain(self.segments.values())
                .any(|v| v.header().key_gen != generation)
    }
}

/// A newly created vault, with the recovery key to show the user once.
#[derive(Debug)]
#[non_exhaustive]
pub struct NewVault {
    /// The unlocked vault.
    pub vault: Vault,
    /// The recovery key. Show it once; it is not stored anywhere.
    pub recovery_key: RecoveryKey,
    /// The records to store (the header).
    pub changes: Changeset,
}

/// An unlocked vault.
///
/// Holds the vault key, every prompt's item key and metadata decrypted in
/// memory, and the versions still sealed (opened on demand, so a list view
/// never decrypts a body). Dropping it zeroizes every key; a clone holds
/// its own copies of the keys, zeroized when it drops.
#[derive(Clone)]
pub struct Vault {
    header: KeyHeader,
    vk: Key,
    prev: Option<(u32, Key)>,
    pub(crate) prompts: BTreeMap<PromptId, PromptState>,
    pub(crate) damaged: BTreeMap<PromptId, Damaged>,
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
    /// Creates a vault: a random vault id and vault key, a password slot and
    /// a recovery slot.
    ///
    /// # Errors
    ///
    /// [`Error::Randomness`] if the OS generator fails.
    ///
    /// # Security
    ///
    /// Runs Argon2id once with `params` (use [`KdfParams::DEFAULT`] unless
    /// you have a reason). Never calibrate parameters to the device.
    pub fn create(password: &Password, params: KdfParams) -> Result<NewVault> {
        let vault_id = VaultId::generate()?;
        let vk = Key::generate()?;
        let salt = rng::array()?;
        let kek = argon::derive_kek(password, &salt, params)?;
        let recovery_key = RecoveryKey::generate()?;
        let header = HeaderBuilder {
            kind: RecordKind::VaultHeader,
            vault_id,
            key_gen: 1,
            revision: 1,
            kdf: params,
            salt,
            vk: &vk,
        }
        .build(
            SlotSource::Wrap(&kek),
            SlotSource::Wrap(recovery_key.key()),
            None,
        )?;
        let changes = Changeset {
            header: Some(header_record(&header)?),
            ..Changeset::default()
        };
        let vault = Vault {
            header,
            vk,
            prev: None,
            prompts: BTreeMap::new(),
            damaged: BTreeMap::new(),
        };
        Ok(NewVault {
            vault,
            recovery_key,
            changes,
        })
    }

    /// Unlocks a vault from its header and whatever records the caller has.
    ///
    /// # Errors
    ///
    /// - [`Error::Authentication`] for a wrong password or recovery key, or
    ///   any record that fails to open (tampered, moved from another place,
    ///   or sealed under a key this vault does not have).
    /// - [`Error::KdfParamsOutOfBounds`], [`Error::Malformed`],
    ///   [`Error::UnsupportedVersion`] for a hostile or foreign header,
    ///   refused before any key derivation.
    /// - [`Error::MissingRecord`] if the metadata lists a version whose
    ///   record is absent (a dropped record).
    /// - [`Error::LimitExceeded`] for more prompts than allowed.
    ///
    /// A prompt whose metadata is authentic but breaks a model rule
    /// (`SPEC.md` §6) does not fail the open: it is left out of the prompts
    /// and reported by [`Vault::damaged_prompts`].
    ///
    /// # Security
    ///
    /// Only model-rule failures of authenticated records degrade to one
    /// prompt; every authentication failure stays opaque and fatal.
    pub fn open<I>(header: &[u8], records: I, credential: Credential<'_>) -> Result<Vault>
    where
        I: IntoIterator,
        I::Item: AsRef<[u8]>,
    {
        Self::open_with_seen(header, records, credential, &SeenRevisions::default())
    }

    /// As [`Vault::open`], refusing data older than what `seen` records.
    ///
    /// # Errors
    ///
    /// As [`Vault::open`], plus [`Error::Rollback`] when the header or a
    /// prompt's metadata has a lower revision than `seen` (checked for the
    /// header before any key derivation).
    pub fn open_with_seen<I>(
        header: &[u8],
        records: I,
        credential: Credential<'_>,
        seen: &SeenRevisions,
    ) -> Result<Vault>
    where
        I: IntoIterator,
        I::Item: AsRef<[u8]>,
    {
        let header = KeyHeader::parse(header, RecordKind::VaultHeader)?;
        if header.record.revision < seen.header {
            return Err(Error::Rollback {
                found: header.record.revision,
                seen: seen.header,
            });
        }
        let unlocked = header.unlock(&credential)?;
        let mut vault = Vault {
            header,
            vk: unlocked.vk,
            prev: unlocked.prev,
            prompts: BTreeMap::new(),
            damaged: BTreeMap::new(),
        };
        let staged = vault.stage(records, seen)?;
        vault.apply(staged);
        Ok(vault)
    }

    /// Unlocks the vault a [`MemoryStore`] holds (for example one read with
    /// [`MemoryStore::from_bundle`]): its header and every record.
    ///
    /// # Errors
    ///
    /// [`Error::MissingRecord`] when the store has no header; otherwise as
    /// [`Vault::open_with_seen`].
    ///
    /// # Security
    ///
    /// As [`Vault::open`]: the header's KDF parameters are bounds-checked
    /// before any key derivation.
    pub fn open_store(
        store: &MemoryStore,
        credential: Credential<'_>,
        seen: &SeenRevisions,
    ) -> Result<Vault> {
        let header = store.header().ok_or(Error::MissingRecord {
            what: "vault header",
        })?;
        Self::open_with_seen(
            header,
            store.records().map(SealedRecord::as_bytes),
            credential,
            seen,
        )
    }

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
    /// afresh; versions are returned as stored.
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
            out.extend(d.records(*id, self)?);
        }
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

    /// Changes the password: a new salt and password slot, the same vault
    /// key. No content is re-encrypted.
    ///
    /// # Errors
    ///
    /// [`Error::Randomness`]; [`Error::LimitExceeded`] if the KDF work area
    /// cannot be allocated.
    pub fn change_password(
        &mut self,
        new_password: &Password,
        params: Option<KdfParams>,
    ) -> Result<Changeset> {
        let params = params.unwrap_or(self.header.kdf);
        let salt = rng::array()?;
        let kek = argon::derive_kek(new_password, &salt, params)?;
        let header = self.rebuild_header(
            self.header.record.key_gen,
            params,
            salt,
            SlotSource::Wrap(&kek),
            SlotSource::Keep(self.header.recovery_slot),
            self.prev.as_ref().map(|(g, k)| (*g, k)),
            &self.vk,
        )?;
        self.install_header(header)
    }

    /// Replaces the recovery key: a new recovery slot, the same vault key.
    /// The old recovery key stops working once the new header is stored.
    ///
    /// # Errors
    ///
    /// [`Error::Randomness`].
    pub fn replace_recovery_key(&mut self) -> Result<(RecoveryKey, Changeset)> {
        let rk = RecoveryKey::generate()?;
        let header = self.rebuild_header(
            self.header.record.key_gen,
            self.header.kdf,
            self.header.salt,
            SlotSource::Keep(self.header.password_slot),
            SlotSource::Wrap(rk.key()),
            self.prev.as_ref().map(|(g, k)| (*g, k)),
            &self.vk,
        )?;
        let changes = self.install_header(header)?;
        Ok((rk, changes))
    }

    /// Whether some records are still sealed under an older key generation
    /// (an interrupted rotation). [`Vault::finish_rotation`] completes it.
    #[must_use]
    pub fn rotation_pending(&self) -> bool {
        let generation = self.key_generation();
        self.prompts.values().any(|p| {
            p.meta_gen != generation
                || p.keys.keys().any(|g| *g != generation)
                || p.versions
                    .values()
                    .chain(p.segment_records().map(|(_, r)| r))
                    .any(|v| v.header().key_gen != generation)
        }) || self
            .damaged
            .values()
            .any(|d| d.stale_generation(generation))
            || self.prev.is_some()
    }

    /// Rotates to a new vault key generation: a new vault key, a fresh item
    /// key for every prompt, every metadata and version record re-encrypted,
    /// a new password slot and a new recovery key. The old vault key stays
    /// wrapped in the new header, so a store that applied only part of the
    /// changeset still opens; [`Vault::finish_rotation`] then completes it.
    ///
    /// The changeset is complete and checkable: one header, then for every
    /// prompt one item key, one metadata record and every version, then the
    /// old item keys to delete.
    ///
    /// # Errors
    ///
    /// [`Error::Authentication`] if `password` is not the vault password;
    /// [`Error::InvalidInput`] while an earlier rotation is unfinished, or
    /// while the vault holds damaged prompts (remove or repair them first:
    /// their records cannot be re-encrypted as valid prompts).
    ///
    /// # Security
    ///
    /// Records sealed under the old key stay readable by anyone who holds it
    /// until the store applies the deletes and replacements.
    pub fn rotate(&mut self, password: &Password) -> Result<(RecoveryKey, Changeset)> {
        if self.rotation_pending() {
            return Err(Error::invalid(
                "an earlier rotation is unfinished; call finish_rotation first",
            ));
        }
        if !self.damaged.is_empty() {
            return Err(Error::invalid(
                "the vault holds damaged prompts; export and remove them before rotating",
            ));
        }
        self.verify_password(password)?;
        let old_gen = self.key_generation();
        let new_gen = old_gen
            .checked_add(1)
            .ok_or(Error::invalid("key generation overflow"))?;
        let new_vk = Key::generate()?;
        let salt = rng::array()?;
        let kek = argon::derive_kek(password, &salt, self.header.kdf)?;
        let rk = RecoveryKey::generate()?;
        let header = self.rebuild_header(
            new_gen,
            self.header.kdf,
            salt,
            SlotSource::Wrap(&kek),
            SlotSource::Wrap(rk.key()),
            Some((old_gen, &self.vk)),
            &new_vk,
        )?;
        let mut changes = Changeset {
            header: Some(header_record(&header)?),
            ..Changeset::default()
        };
        let mut next = BTreeMap::new();
        for (id, p) in &self.prompts {
            let item = Key::generate()?;
            changes.put_new(seal_item_key_with(&new_vk, self.id(), *id, new_gen, &item)?);
            let revision = p
                .revision
                .checked_add(1)
                .ok_or(Error::invalid("revision overflow"))?;
            changes.put_new(p.seal_whole(self.id(), *id, new_gen, &item, revision)?);
            let (layout, strays) = self.reseal_segments(p, *id, new_gen, &item, &mut changes)?;
            let mut versions = BTreeMap::new();
            for (vid, rec) in &p.versions {
                let content = self.open_version_content(p, rec)?;
                let sealed = reseal_version(self.id(), *id, *vid, new_gen, &item, &content)?;
                changes.put_new(sealed.clone());
                versions.insert(*vid, sealed);
            }
            // Old keys cannot collide with new puts (the generation differs).
            changes
                .deletes
                .extend(p.keys.keys().map(|g| item_key_storage_key(*id, *g)));
            changes.deletes.extend(
                p.stale
                    .iter()
                    .map(|v| prompts::version_storage_key(*id, *v)),
            );
            let mut keys = BTreeMap::new();
            keys.insert(new_gen, item);
            next.insert(
                *id,
                PromptState {
                    stale: BTreeSet::new(),
                    keys,
                    meta: p.meta.clone(),
                    layout,
                    strays,
                    revision,
                    meta_gen: new_gen,
                    versions,
                },
            );
        }
        let old_vk = core::mem::replace(&mut self.vk, new_vk);
        self.prev = Some((old_gen, old_vk));
        self.header = header;
        self.prompts = next;
        Ok((rk, changes))
    }

    /// Completes an interrupted rotation: re-seals every record still under
    /// an older generation, deletes old item keys, and writes a header that
    /// no longer carries the previous vault key. Returns an empty changeset
    /// when nothing is pending.
    ///
    /// # Errors
    ///
    /// [`Error::Randomness`]; [`Error::Authentication`] if a stale record
    /// fails to open; [`Error::InvalidInput`] if a damaged prompt has
    /// records under an older generation (remove it first: dropping the
    /// older vault key would make its records unreadable).
    pub fn finish_rotation(&mut self) -> Result<Changeset> {
        if !self.rotation_pending() {
            return Ok(Changeset::default());
        }
        let generation = self.key_generation();
        if self
            .damaged
            .values()
            .any(|d| d.stale_generation(generation))
        {
            return Err(Error::invalid(
                "a damaged prompt is sealed under an older key; export and remove it first",
            ));
        }
        let mut changes = Changeset::default();
        let mut next = BTreeMap::new();
        for (id, p) in &self.prompts {
            let mut np = p.clone();
            changes.deletes.extend(np.take_stale(*id));
            if let std::collections::btree_map::Entry::Vacant(e) = np.keys.entry(generation) {
                let item = Key::generate()?;
                changes.put_new(self.seal_item_key(*id, generation, &item)?);
                e.insert(item);
            }
            let item = np
                .keys
                .get(&generation)
                .ok_or(Error::MissingRecord { what: "item key" })?
                .clone();
            let stale_versions: Vec<VersionId> = p
                .versions
                .iter()
                .filter(|(_, r)| r.header().key_gen != generation)
                .map(|(v, _)| *v)
                .collect();
            for vid in stale_versions {
                let rec = p
                    .versions
                    .get(&vid)
                    .ok_or(Error::MissingRecord { what: "version" })?;
                let content = self.open_version_content(p, rec)?;
                let sealed = reseal_version(self.id(), *id, vid, generation, &item, &content)?;
                changes.put_new(sealed.clone());
                np.versions.insert(vid, sealed);
            }
            let (layout, strays) = self.reseal_segments(p, *id, generation, &item, &mut changes)?;
            np.layout = layout;
            np.strays = strays;
            if np.meta_gen != generation {
                np.revision = np
                    .revision
                    .checked_add(1)
                    .ok_or(Error::invalid("revision overflow"))?;
                np.meta_gen = generation;
                changes.put_new(np.seal_whole(self.id(), *id, generation, &item, np.revision)?);
            }
            for g in p.keys.keys().filter(|g| **g != generation) {
                changes.deletes.push(item_key_storage_key(*id, *g));
                np.keys.remove(g);
            }
            next.insert(*id, np);
        }
        let header = self.rebuild_header(
            generation,
            self.header.kdf,
            self.header.salt,
            SlotSource::Keep(self.header.password_slot),
            SlotSource::Keep(self.header.recovery_slot),
            None,
            &self.vk,
        )?;
        changes.header = Some(header_record(&header)?);
        self.header = header;
        self.prev = None;
        self.prompts = next;
        Ok(changes)
    }

    /// Checks `password` against the current password slot (runs the KDF).
    ///
    /// # Errors
    ///
    /// [`Error::Authentication`] if it is not the vault password.
    pub fn verify_password(&self, password: &Password) -> Result<()> {
        let unlocked = self.header.unlock(&Credential::Password(password))?;
        if unlocked.vk == self.vk {
            Ok(())
        } else {
            Err(Error::Authentication)
        }
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

    /// A prompt's metadata as the JSON it is sealed as. A test hook, not
    /// API.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] for an unknown prompt.
    #[doc(hidden)]
    pub fn meta_json_for_tests(&self, id: PromptId) -> Result<Vec<u8>> {
        let p = self.prompt(id)?;
        let ids = p.layout.ids();
        crate::model::meta_json(&p.meta.view(&ids, &p.layout.tail))
    }

    /// Seals `meta_json` as the next metadata revision of prompt `id` with
    /// no model rule applied: what a buggy or hostile client holding the
    /// keys could write. The vault itself is not changed. A test hook for
    /// degraded reads, not API.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] for an unknown prompt; [`Error::Randomness`].
    #[doc(hidden)]
    pub fn unchecked_meta_for_tests(&self, id: PromptId, meta_json: &[u8]) -> Result<Changeset> {
        let p = self.prompt(id)?;
        let (generation, item) = p.current_key()?;
        let revision = p
            .revision
            .checked_add(1)
            .ok_or(Error::invalid("revision overflow"))?;
        let h = record_header(
            RecordKind::PromptMeta,
            self.id(),
            generation,
            id,
            None,
            revision,
        );
        let mut changes = Changeset::default();
        changes.put_new(sealing::seal(item, h, meta_json)?);
        Ok(changes)
    }

    /// Seals `content_json` as the record of version `version` of prompt
    /// `id` with no model rule applied (the metadata is not changed). A
    /// test hook for degraded reads, not API.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] for an unknown prompt; [`Error::Randomness`].
    #[doc(hidden)]
    pub fn unchecked_version_for_tests(
        &self,
        id: PromptId,
        version: VersionId,
        content_json: &[u8],
    ) -> Result<Changeset> {
        let p = self.prompt(id)?;
        let (generation, item) = p.current_key()?;
        let h = record_header(
            RecordKind::PromptVersion,
            self.id(),
            generation,
            id,
            Some(version),
            0,
        );
        let mut changes = Changeset::default();
        changes.put_new(sealing::seal(item, h, content_json)?);
        Ok(changes)
    }

    /// Seals `plaintext` as index segment `segment` of prompt `id` with no
    /// rule applied (the metadata is not changed): what a buggy or hostile
    /// client holding the keys could write. A test hook for degraded
    /// reads, not API.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] for an unknown prompt; [`Error::Randomness`].
    #[doc(hidden)]
    pub fn unchecked_segment_for_tests(
        &self,
        id: PromptId,
        segment: SegmentId,
        plaintext: &[u8],
    ) -> Result<Changeset> {
        let p = self.prompt(id)?;
        let (generation, item) = p.current_key()?;
        let mut changes = Changeset::default();
        changes.put_new(sealing::seal(
            item,
            segment_header(self.id(), generation, id, segment),
            plaintext,
        )?);
        Ok(changes)
    }

    #[allow(clippy::too_many_arguments)]
    fn rebuild_header(
        &self,
        key_gen: u32,
        kdf: KdfParams,
        salt: [u8; kdf::SALT_LEN],
        password: SlotSource<'_>,
        recovery: SlotSource<'_>,
        prev: Option<(u32, &Key)>,
        vk: &Key,
    ) -> Result<KeyHeader> {
        let revision = self
            .header
            .record
            .revision
            .checked_add(1)
            .ok_or(Error::invalid("header revision overflow"))?;
        HeaderBuilder {
            kind: RecordKind::VaultHeader,
            vault_id: self.id(),
            key_gen,
            revision,
            kdf,
            salt,
            vk,
        }
        .build(password, recovery, prev)
    }

    fn install_header(&mut self, header: KeyHeader) -> Result<Changeset> {
        let changes = Changeset {
            header: Some(header_record(&header)?),
            ..Changeset::default()
        };
        self.header = header;
        Ok(changes)
    }

    pub(crate) fn vault_key_current(&self) -> &Key {
        &self.vk
    }

    /// The vault key of generation `generation`, if this vault holds it.
    fn vault_key(&self, generation: u32) -> Option<&Key> {
        if generation == self.key_generation() {
            Some(&self.vk)
        } else {
            self.prev
                .as_ref()
                .filter(|(g, _)| *g == generation)
                .map(|(_, k)| k)
        }
    }

    pub(crate) fn seal_item_key(
        &self,
        prompt: PromptId,
        generation: u32,
        item: &Key,
    ) -> Result<SealedRecord> {
        let vk = self.vault_key(generation).ok_or(Error::MissingRecord {
            what: "vault key generation",
        })?;
        seal_item_key_with(vk, self.id(), prompt, generation, item)
    }

    /// Re-seals every index segment record of `p` (listed and stray) not
    /// yet at `generation` under `item`, with the same ids (so the same
    /// storage keys: the new record replaces the old, as for versions),
    /// adding the puts to `changes`. Returns the new layout and strays.
    ///
    /// # Errors
    ///
    /// [`Error::Authentication`] if a stray segment fails to open;
    /// [`Error::Randomness`].
    fn reseal_segments(
        &self,
        p: &PromptState,
        prompt: PromptId,
        generation: u32,
        item: &Key,
        changes: &mut Changeset,
    ) -> Result<(Layout, BTreeMap<SegmentId, SealedRecord>)> {
        let mut layout = p.layout.clone();
        for (sid, seg) in &mut layout.segments {
            if seg.record.header().key_gen != generation {
                let plain = Zeroizing::new(crate::model::index::segment_plaintext(&seg.entries)?);
                let h = segment_header(self.id(), generation, prompt, *sid);
                seg.record = sealing::seal(item, h, &plain)?;
                changes.put_new(seg.record.clone());
            }
        }
        let mut strays = BTreeMap::new();
        for (sid, rec) in &p.strays {
            let rec = if rec.header().key_gen == generation {
                rec.clone()
            } else {
                let key = p
                    .keys
                    .get(&rec.header().key_gen)
                    .ok_or(Error::Authentication)?;
                let plain = sealing::open(key, rec)?;
                let h = segment_header(self.id(), generation, prompt, *sid);
                let sealed = sealing::seal(item, h, &plain)?;
                changes.put_new(sealed.clone());
                sealed
            };
            strays.insert(*sid, rec);
        }
        Ok((layout, strays))
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

fn header_record(header: &KeyHeader) -> Result<SealedRecord> {
    Ok(SealedRecord::from_parts(
        header.record,
        header.bytes.clone(),
    ))
}

pub(crate) fn item_key_storage_key(prompt: PromptId, generation: u32) -> String {
    crate::format::storage_key::item_key(prompt.as_bytes(), generation)
}

fn record_header(
    kind: RecordKind,
    vault: VaultId,
    generation: u32,
    prompt: PromptId,
    version: Option<VersionId>,
    revision: u64,
) -> RecordHeader {
    RecordHeader {
        kind,
        key_gen: generation,
        vault_id: vault,
        id1: *prompt.as_bytes(),
        id2: version.map_or([0; ID_LEN], |v| *v.as_bytes()),
        revision,
        body_len: 0,
    }
}

pub(crate) fn seal_item_key_with(
    vk: &Key,
    vault: VaultId,
    prompt: PromptId,
    generation: u32,
    item: &Key,
) -> Result<SealedRecord> {
    let h = record_header(RecordKind::ItemKey, vault, generation, prompt, None, 0);
    sealing::seal(vk, h, item.expose_secret())
}

/// Seals a prompt's metadata with its index layout, after the full check:
/// the model rules ([`crate::rules::check_meta`]), the layout holding
/// exactly the metadata's entries ([`crate::rules::check_layout`]) and the
/// stored form's rules. Every path that rebuilds the index (merge, import,
/// prune, rotation) writes metadata this way; an edit uses
/// [`PromptState::seal_edit`]. So the core never writes metadata that its
/// own reader would refuse.
///
/// # Errors
///
/// As [`crate::rules::check_meta`], [`crate::rules::check_layout`] and
/// [`crate::rules::check_stored`]; [`Error::LimitExceeded`] above the
/// record size limit.
pub(crate) fn seal_meta(
    vault: VaultId,
    prompt: PromptId,
    generation: u32,
    item: &Key,
    revision: u64,
    meta: &Meta,
    layout: &Layout,
) -> Result<SealedRecord> {
    crate::rules::check_meta(meta)?;
    crate::rules::check_layout(meta, &layout.tail, layout.segment_entries())?;
    let ids = layout.ids();
    let view = meta.view(&ids, &layout.tail);
    let listed = |v: VersionId| meta.versions.iter().any(|e| e.id == v);
    seal_meta_view(vault, prompt, generation, item, revision, &view, listed)
}

/// Seals a stored metadata form after checking it
/// ([`crate::rules::check_stored`], time independent of the history): the
/// one function that writes a `prompt-meta` record.
///
/// # Errors
///
/// As [`crate::rules::check_stored`]; [`Error::LimitExceeded`] above the
/// record size limit.
pub(crate) fn seal_meta_view(
    vault: VaultId,
    prompt: PromptId,
    generation: u32,
    item: &Key,
    revision: u64,
    view: &MetaView<'_>,
    listed: impl Fn(VersionId) -> bool,
) -> Result<SealedRecord> {
    crate::rules::check_stored(view, listed)?;
    let json = Zeroizing::new(crate::model::meta_json(view)?);
    let h = record_header(
        RecordKind::PromptMeta,
        vault,
        generation,
        prompt,
        None,
        revision,
    );
    sealing::seal(item, h, &json)
}

/// Brings `layout` to what a write stores (SPEC §6.4): a dirty layout's
/// segments holding an entry `live` refuses are dissolved, the tail is cut
/// into new segments of 64 sealed under `item` at `generation`, and the
/// segment list is compacted above [`crate::model::MAX_SEGMENTS`].
/// Returns the layout, the records to put, the keys to delete and the
/// segments compaction dropped (strays now). The layout's tail must hold
/// only live entries.
///
/// # Errors
///
/// As [`seal_segment`].
pub(crate) fn settle(
    vault: VaultId,
    prompt: PromptId,
    generation: u32,
    item: &Key,
    mut layout: Layout,
    live: &dyn Fn(VersionId) -> bool,
) -> Result<Settled> {
    let mut seal = |entries: &[IndexEntry]| -> Result<(SegmentId, SealedRecord)> {
        let sid = SegmentId::generate()?;
        Ok((
            sid,
            seal_segment(vault, prompt, sid, generation, item, entries)?,
        ))
    };
    let tail = layout.tail.clone();
    let change = layout.plan(tail, live, &mut seal)?;
    let puts = change.puts().cloned().collect();
    let (deletes, dropped) = layout.apply(prompt, change);
    Ok(Settled {
        layout,
        puts,
        deletes,
        dropped,
    })
}

/// What [`settle`] made of a layout.
pub(crate) struct Settled {
    pub(crate) layout: Layout,
    /// New segment records.
    pub(crate) puts: Vec<SealedRecord>,
    /// Storage keys of dissolved segments that held a dead entry.
    pub(crate) deletes: Vec<String>,
    /// Segments compaction stopped listing: strays now.
    pub(crate) dropped: Vec<(SegmentId, SealedRecord)>,
}

/// The header of index segment `segment` of `prompt`.
fn segment_header(
    vault: VaultId,
    generation: u32,
    prompt: PromptId,
    segment: SegmentId,
) -> RecordHeader {
    RecordHeader {
        kind: RecordKind::PromptIndex,
        key_gen: generation,
        vault_id: vault,
        id1: *prompt.as_bytes(),
        id2: *segment.as_bytes(),
        revision: 0,
        body_len: 0,
    }
}

/// Seals a new index segment (SPEC §6.4) after checking its entries
/// ([`crate::rules::check_segment`]).
///
/// # Errors
///
/// As [`crate::rules::check_segment`]; [`Error::InvalidInput`] for a time
/// above 2^53 − 1; [`Error::Randomness`].
pub(crate) fn seal_segment(
    vault: VaultId,
    prompt: PromptId,
    segment: SegmentId,
    generation: u32,
    item: &Key,
    entries: &[IndexEntry],
) -> Result<SealedRecord> {
    crate::rules::check_segment(entries)?;
    let plain = Zeroizing::new(crate::model::index::segment_plaintext(entries)?);
    sealing::seal(
        item,
        segment_header(vault, generation, prompt, segment),
        &plain,
    )
}

/// Seals new version content after checking it against the model rules
/// ([`crate::rules::check_version`]).
///
/// # Errors
///
/// As [`crate::rules::check_version`]; [`Error::LimitExceeded`] above the
/// record size limit.
pub(crate) fn seal_version(
    vault: VaultId,
    prompt: PromptId,
    version: VersionId,
    generation: u32,
    item: &Key,
    content: &VersionContent,
) -> Result<SealedRecord> {
    crate::rules::check_version(version, content)?;
    reseal_version(vault, prompt, version, generation, item, content)
}

/// Seals version content that is already stored (rotation re-encrypts it
/// as it is: it creates nothing new, and readers do not refuse a stored
/// version's content).
pub(crate) fn reseal_version(
    vault: VaultId,
    prompt: PromptId,
    version: VersionId,
    generation: u32,
    item: &Key,
    content: &VersionContent,
) -> Result<SealedRecord> {
    let json = Zeroizing::new(to_json(content)?);
    let h = record_header(
        RecordKind::PromptVersion,
        vault,
        generation,
        prompt,
        Some(version),
        0,
    );
    sealing::seal(item, h, &json)
}

/// Every sealed plaintext is RFC 8785 canonical JSON (SPEC §6).
pub(crate) fn to_json<T: Serialize>(value: &T) -> Result<Vec<u8>> {
    crate::format::json::to_canonical(value)
}

/// Parses a sealed plaintext, refusing any that is not canonical (SPEC §6).
pub(crate) fn parse_json<T: Serialize + serde::de::DeserializeOwned>(
    bytes: &[u8],
    what: &'static str,
) -> Result<T> {
    crate::format::json::from_canonical(bytes, what)
}
