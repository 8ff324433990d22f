//! The decrypted prompt state an unlocked vault holds: every prompt's
//! keys, metadata and index layout, the damaged prompts kept as read, and
//! the revisions seen (for rollback detection).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::hazmat::Key;
use crate::ids::{PromptId, SegmentId, VaultId, VersionId};
use crate::model::{IndexEntry, Meta};
use crate::record::SealedRecord;

use super::layout::{Layout, LayoutChange};
use super::seal::{seal_meta, seal_meta_view, seal_segment, version_storage_key};

/// Revisions a client has already seen, to detect a server rolling data back.
///
/// Persist it next to the vault (it is not secret) and pass it to
/// [`crate::Vault::open_with_seen`]; take the new value from
/// [`crate::Vault::seen_revisions`] after every open and every write.
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
    /// [`crate::Vault::records`]).
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
            .map(|v| version_storage_key(prompt, v))
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
/// without it; it is listed by [`crate::Vault::damaged_prompts`], can be exported
/// as far as it is readable, and removed with [`crate::Vault::delete_prompt`].
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

    /// Every record of it, item keys sealed afresh by `seal_item_key`
    /// (under the vault's keys of each generation).
    pub(crate) fn records(
        &self,
        seal_item_key: impl Fn(u32, &Key) -> Result<SealedRecord>,
    ) -> Result<Vec<SealedRecord>> {
        let mut out = Vec::with_capacity(self.keys.len() + 1 + self.versions.len());
        for (generation, key) in &self.keys {
            out.push(seal_item_key(*generation, key)?);
        }
        out.push(self.meta.clone());
        out.extend(self.versions.values().cloned());
        out.extend(self.segments.values().cloned());
        Ok(out)
    }

    /// Whether any of its records is under a generation other than `generation`.
    pub(super) fn stale_generation(&self, generation: u32) -> bool {
        self.keys.keys().any(|g| *g != generation)
            || self.meta.header().key_gen != generation
            || self
                .versions
                .values()
                .chain(self.segments.values())
                .any(|v| v.header().key_gen != generation)
    }
}
