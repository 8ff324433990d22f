//! Prompt operations: create, version, restore, prune, delete, tags, flags,
//! publish. Every mutation seals its records before it touches the
//! in-memory state, so an error leaves the vault unchanged.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use super::layout::{Layout, segment_storage_key};
use super::seal::{
    item_key_storage_key, seal_item_key_with, seal_meta, seal_version, settle, version_storage_key,
};
use super::state::PromptState;
use super::{Changeset, Vault};
use crate::error::{Error, Result};
use crate::hazmat::Key;
use crate::ids::{PromptId, SegmentId, Timestamp, VersionId};
use crate::model::{
    Draft, IndexEntry, MAX_PROMPTS, MAX_TAGS_PER_PROMPT, MAX_VERSIONS_PER_PROMPT, Meta, Version,
    VersionContent, VersionEntry,
};
use crate::{rules, tags};

/// One version as plaintext, for sharing in public (see [`Vault::publish`]).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Published {
    /// Title.
    pub title: String,
    /// Body.
    pub body: String,
    /// Generation settings.
    pub settings: Option<serde_json::Value>,
}

/// Adds `new` tags to `list`, keeping the first spelling of each folded
/// key; linear in the number of tags (see [`rules::normalize_tags`]).
fn add_tags(list: &mut Vec<String>, new: &[String]) -> Result<bool> {
    let before = list.len();
    let merged = rules::normalize_tags(
        list.iter()
            .map(String::as_str)
            .chain(new.iter().map(String::as_str)),
        MAX_TAGS_PER_PROMPT,
    )?;
    *list = merged;
    Ok(list.len() != before)
}

impl Vault {
    pub(crate) fn prompt(&self, id: PromptId) -> Result<&PromptState> {
        self.prompts
            .get(&id)
            .ok_or(Error::NotFound { what: "prompt" })
    }

    /// Creates a prompt with its first version.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] for an empty title or a bad tag;
    /// [`Error::LimitExceeded`] for an oversized field, too many tags or prompts.
    pub fn create_prompt(
        &mut self,
        draft: &Draft,
        tag_list: &[String],
        favorite: bool,
        now: Timestamp,
    ) -> Result<(PromptId, Changeset)> {
        if self.prompts.len() >= MAX_PROMPTS {
            return Err(Error::too_large(
                "prompts",
                MAX_PROMPTS,
                self.prompts.len() + 1,
            ));
        }
        let mut tag_vec = Vec::new();
        add_tags(&mut tag_vec, tag_list)?;
        let id = PromptId::generate()?;
        let vid = VersionId::generate()?;
        let generation = self.key_generation();
        let item = Key::generate()?;
        let content = VersionContent {
            title: draft.title.clone(),
            body: draft.body.clone(),
            settings: draft.settings.clone(),
            note: draft.note.clone(),
            created: now,
            parent: None,
        };
        let meta = Meta {
            archived: false,
            created: now,
            current: vid,
            deleted: Vec::new(),
            favorite,
            tags: tag_vec,
            title: draft.title.clone(),
            updated: now,
            versions: vec![IndexEntry {
                created: now,
                id: vid,
            }],
        };
        let layout = Layout::keep([], &meta.versions);
        let key_rec = seal_item_key_with(&self.vk, self.id(), id, generation, &item)?;
        let meta_rec = seal_meta(self.id(), id, generation, &item, 1, &meta, &layout)?;
        let ver_rec = seal_version(self.id(), id, vid, generation, &item, &content)?;
        let mut changes = Changeset::default();
        changes.put_new(key_rec);
        changes.put_new(meta_rec);
        changes.put_new(ver_rec.clone());
        let mut keys = BTreeMap::new();
        keys.insert(generation, item);
        let mut versions = BTreeMap::new();
        versions.insert(vid, ver_rec);
        self.prompts.insert(
            id,
            PromptState {
                stale: BTreeSet::new(),
                keys,
                meta,
                layout,
                strays: BTreeMap::new(),
                revision: 1,
                meta_gen: generation,
                versions,
            },
        );
        Ok((id, changes))
    }

    /// Adds a new version (derived from the current one) and makes it current.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`]; as [`Vault::create_prompt`] for the draft;
    /// [`Error::LimitExceeded`] when the prompt already has
    /// [`MAX_VERSIONS_PER_PROMPT`] versions (prune first).
    pub fn add_version(
        &mut self,
        id: PromptId,
        draft: &Draft,
        now: Timestamp,
    ) -> Result<(VersionId, Changeset)> {
        let parent = self.prompt(id)?.meta.current;
        self.push_version(id, draft, Some(parent), now)
    }

    /// Restores an older version by adding a copy of it as a new current
    /// version (history is append-only; nothing is overwritten).
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] for an unknown prompt or version.
    pub fn restore_version(
        &mut self,
        id: PromptId,
        version: VersionId,
        now: Timestamp,
    ) -> Result<(VersionId, Changeset)> {
        let old = self.version(id, Some(version))?;
        let draft = Draft {
            title: old.title,
            body: old.body,
            settings: old.settings,
            note: format!("restored from {}", version.to_hex()),
        };
        self.push_version(id, &draft, Some(version), now)
    }

    fn push_version(
        &mut self,
        id: PromptId,
        draft: &Draft,
        parent: Option<VersionId>,
        now: Timestamp,
    ) -> Result<(VersionId, Changeset)> {
        let vault_id = self.id();
        let p = self.prompt(id)?;
        if p.meta.versions.len() >= MAX_VERSIONS_PER_PROMPT {
            return Err(Error::too_large(
                "versions of one prompt",
                MAX_VERSIONS_PER_PROMPT,
                p.meta.versions.len() + 1,
            ));
        }
        let vid = VersionId::generate()?;
        let (generation, item) = p.current_key()?;
        let content = VersionContent {
            title: draft.title.clone(),
            body: draft.body.clone(),
            settings: draft.settings.clone(),
            note: draft.note.clone(),
            created: now,
            parent,
        };
        // The index gains one 24-byte entry in the metadata's open tail
        // (a full tail becomes a new segment); no other version's entry,
        // title or content is re-sealed (SPEC §6.4).
        let mut fields = p.meta.clone_fields();
        let entry = IndexEntry {
            created: now,
            id: vid,
        };
        fields.current = vid;
        fields.title.clone_from(&draft.title);
        fields.updated = now;
        let ver_rec = seal_version(vault_id, id, vid, generation, item, &content)?;
        let (puts, next) = p.seal_edit(vault_id, id, fields, Some(entry))?;
        let mut changes = Changeset::default();
        changes.put_new(ver_rec.clone());
        changes.puts.extend(puts);
        let p = self
            .prompts
            .get_mut(&id)
            .ok_or(Error::NotFound { what: "prompt" })?;
        changes.deletes.extend(p.install_meta(id, next));
        p.versions.insert(vid, ver_rec);
        Ok((vid, changes))
    }

    /// Applies `f` to a copy of the metadata's members other than the index
    /// (which it finds empty and must leave so); if it reports a change,
    /// seals the new metadata (revision + 1) and commits it.
    pub(crate) fn update_meta(
        &mut self,
        id: PromptId,
        now: Timestamp,
        f: impl FnOnce(&mut Meta) -> Result<bool>,
    ) -> Result<Changeset> {
        let vault_id = self.id();
        let p = self.prompt(id)?;
        // Every member but the index: these edits change no entry.
        let mut fields = p.meta.clone_fields();
        if !f(&mut fields)? {
            return Ok(Changeset::default());
        }
        fields.updated = now;
        let (puts, next) = p.seal_edit(vault_id, id, fields, None)?;
        let deletes = self
            .prompts
            .get_mut(&id)
            .ok_or(Error::NotFound { what: "prompt" })?
            .install_meta(id, next);
        Ok(Changeset {
            header: None,
            puts,
            deletes,
        })
    }

    /// Re-seals a prompt's metadata, unchanged, at `revision` if that is
    /// above its current revision: a sync server holds another metadata
    /// record at a revision not below this one and only takes a higher one
    /// (SPEC §12.6, §12.11). Nothing to do for a prompt not held healthy.
    pub(crate) fn reseal_meta_at(&mut self, id: PromptId, revision: u64) -> Result<Changeset> {
        let vault_id = self.id();
        let Some(p) = self.prompts.get(&id) else {
            return Ok(Changeset::default());
        };
        if revision <= p.revision {
            return Ok(Changeset::default());
        }
        let (generation, item) = p.current_key()?;
        let rec = p.seal_whole(vault_id, id, generation, item, revision)?;
        let p = self
            .prompts
            .get_mut(&id)
            .ok_or(Error::NotFound { what: "prompt" })?;
        p.revision = revision;
        p.meta_gen = generation;
        let stale = p.take_stale(id);
        let mut changes = Changeset::default();
        changes.put_new(rec);
        changes.deletes.extend(stale);
        Ok(changes)
    }

    /// Adds tags (Unicode-normalised; a tag already present under another
    /// case keeps its first spelling).
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`]; [`Error::InvalidInput`] for a bad tag;
    /// [`Error::LimitExceeded`] above [`MAX_TAGS_PER_PROMPT`].
    pub fn add_tags(&mut self, id: PromptId, new: &[String], now: Timestamp) -> Result<Changeset> {
        self.update_meta(id, now, |m| add_tags(&mut m.tags, new))
    }

    /// Removes tags, matching case-insensitively.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] for an unknown prompt.
    pub fn remove_tags(
        &mut self,
        id: PromptId,
        gone: &[String],
        now: Timestamp,
    ) -> Result<Changeset> {
        let keys: BTreeSet<String> = gone.iter().map(|t| tags::fold(t)).collect();
        self.update_meta(id, now, |m| {
            let before = m.tags.len();
            m.tags.retain(|t| !keys.contains(&tags::fold(t)));
            Ok(m.tags.len() != before)
        })
    }

    /// Sets or clears the favorite flag.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] for an unknown prompt.
    pub fn set_favorite(
        &mut self,
        id: PromptId,
        favorite: bool,
        now: Timestamp,
    ) -> Result<Changeset> {
        self.update_meta(id, now, |m| {
            Ok(core::mem::replace(&mut m.favorite, favorite) != favorite)
        })
    }

    /// Sets or clears the archived flag.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] for an unknown prompt.
    pub fn set_archived(
        &mut self,
        id: PromptId,
        archived: bool,
        now: Timestamp,
    ) -> Result<Changeset> {
        self.update_meta(id, now, |m| {
            Ok(core::mem::replace(&mut m.archived, archived) != archived)
        })
    }

    /// Renames a tag across the whole vault; if a prompt already has `to`,
    /// the two merge into one.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] for a bad new tag; [`Error::NotFound`] if no
    /// prompt has `from`.
    pub fn rename_tag(&mut self, from: &str, to: &str, now: Timestamp) -> Result<Changeset> {
        let from_key = tags::fold(from);
        let to_spelled = tags::normalize(to)?;
        let to_key = tags::fold(&to_spelled);
        let ids: Vec<PromptId> = self
            .prompts
            .iter()
            .filter(|(_, p)| p.meta.tags.iter().any(|t| tags::fold(t) == from_key))
            .map(|(id, _)| *id)
            .collect();
        if ids.is_empty() {
            return Err(Error::NotFound { what: "tag" });
        }
        // Seal everything first, then commit, so a failure changes nothing.
        let vault_id = self.id();
        let mut staged = Vec::with_capacity(ids.len());
        let mut changes = Changeset::default();
        for id in ids {
            let p = self.prompt(id)?;
            let mut meta = p.meta.clone_fields();
            let renamed = meta.tags.iter().map(|t| {
                let k = tags::fold(t);
                if k == from_key || k == to_key {
                    to_spelled.as_str()
                } else {
                    t.as_str()
                }
            });
            let out = rules::normalize_tags(renamed, MAX_TAGS_PER_PROMPT)?;
            if out == meta.tags {
                continue;
            }
            meta.tags = out;
            meta.updated = now;
            let (puts, next) = p.seal_edit(vault_id, id, meta, None)?;
            changes.puts.extend(puts);
            staged.push((id, next));
        }
        for (id, next) in staged {
            if let Some(p) = self.prompts.get_mut(&id) {
                changes.deletes.extend(p.install_meta(id, next));
            }
        }
        Ok(changes)
    }

    /// Deletes one version: its record is deleted and its id tombstoned so a
    /// replayed copy stays deleted. The last remaining version cannot be
    /// deleted (delete the prompt instead).
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`]; [`Error::InvalidInput`] for the only version.
    pub fn delete_version(
        &mut self,
        id: PromptId,
        version: VersionId,
        now: Timestamp,
    ) -> Result<Changeset> {
        self.prune_where(id, now, |entries| {
            entries
                .iter()
                .filter(|e| e.id == version)
                .map(|e| e.id)
                .collect()
        })
        .and_then(|(n, c)| {
            if n == 0 {
                Err(Error::NotFound { what: "version" })
            } else {
                Ok(c)
            }
        })
    }

    /// Keeps the newest `keep` versions (and always the current one) and
    /// deletes the rest.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`]; [`Error::InvalidInput`] for `keep == 0`.
    pub fn prune_history(
        &mut self,
        id: PromptId,
        keep: usize,
        now: Timestamp,
    ) -> Result<Changeset> {
        if keep == 0 {
            return Err(Error::invalid("keep at least one version"));
        }
        let current = self.prompt(id)?.meta.current;
        self.prune_where(id, now, |entries| {
            let n = entries.len();
            entries
                .iter()
                .take(n.saturating_sub(keep))
                .filter(|e| e.id != current)
                .map(|e| e.id)
                .collect()
        })
        .map(|(_, c)| c)
    }

    fn prune_where(
        &mut self,
        id: PromptId,
        now: Timestamp,
        pick: impl FnOnce(&[IndexEntry]) -> Vec<VersionId>,
    ) -> Result<(usize, Changeset)> {
        let p = self.prompt(id)?;
        let gone: BTreeSet<VersionId> = pick(&p.meta.versions).into_iter().collect();
        if gone.is_empty() {
            return Ok((0, Changeset::default()));
        }
        let Some(last) = p
            .meta
            .versions
            .iter()
            .rev()
            .find(|e| !gone.contains(&e.id))
            .map(|e| e.id)
        else {
            return Err(Error::invalid(
                "cannot delete the only version; delete the prompt instead",
            ));
        };
        // Deleting the current version makes the newest remaining one
        // current; its title (kept in the metadata) comes from its record.
        let new_current = if gone.contains(&p.meta.current) {
            Some((last, self.version(id, Some(last))?.title))
        } else {
            None
        };
        // Prune rebuilds the layout (time linear in the history is fine
        // here): a segment holding a pruned entry is dissolved, its live
        // entries cut into new segments with the tail (SPEC §6.4).
        let vault_id = self.id();
        let mut meta = p.meta.clone();
        meta.versions.retain(|e| !gone.contains(&e.id));
        if let Some((current, title)) = new_current {
            meta.current = current;
            meta.title = title;
        }
        meta.deleted.extend(gone.iter().copied());
        rules::cap_tombstones(&mut meta.deleted);
        meta.updated = now;
        let (generation, item) = p.current_key()?;
        let revision = p
            .revision
            .checked_add(1)
            .ok_or(Error::invalid("revision overflow"))?;
        let live: HashSet<VersionId> = meta.versions.iter().map(|e| e.id).collect();
        let mut layout = p.layout.clone();
        layout.dirty = true;
        layout.tail.retain(|e| live.contains(&e.id));
        let settled = settle(vault_id, id, generation, item, layout, &|v| {
            live.contains(&v)
        })?;
        let layout = settled.layout;
        let mut changes = Changeset {
            header: None,
            puts: settled.puts,
            deletes: settled.deletes,
        };
        changes.put_new(seal_meta(
            vault_id, id, generation, item, revision, &meta, &layout,
        )?);
        let p = self
            .prompts
            .get_mut(&id)
            .ok_or(Error::NotFound { what: "prompt" })?;
        p.meta = meta;
        p.layout = layout;
        p.strays.extend(settled.dropped);
        p.revision = revision;
        p.meta_gen = generation;
        changes.deletes.extend(p.take_stale(id));
        for v in &gone {
            p.versions.remove(v);
            changes.deletes.push(version_storage_key(id, *v));
        }
        Ok((gone.len(), changes))
    }

    /// Deletes a prompt, healthy or damaged (see [`Vault::damaged_prompts`]):
    /// every record it has (item keys, metadata, versions, index segments,
    /// listed or not) is in the changeset's deletes.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] for an unknown prompt.
    pub fn delete_prompt(&mut self, id: PromptId) -> Result<Changeset> {
        type Held = (Vec<VersionId>, Vec<u32>, Vec<SegmentId>);
        let (versions, generations, segments): Held = if let Some(p) = self.prompts.remove(&id) {
            (
                p.versions.keys().chain(p.stale.iter()).copied().collect(),
                p.keys.keys().copied().collect(),
                p.segment_records().map(|(s, _)| s).collect(),
            )
        } else if let Some(d) = self.damaged.remove(&id) {
            (
                d.versions.keys().copied().collect(),
                d.keys.keys().copied().collect(),
                d.segments.keys().copied().collect(),
            )
        } else {
            return Err(Error::NotFound { what: "prompt" });
        };
        let mut changes = Changeset::default();
        changes
            .deletes
            .push(crate::format::storage_key::meta(id.as_bytes()));
        changes
            .deletes
            .extend(versions.into_iter().map(|v| version_storage_key(id, v)));
        changes
            .deletes
            .extend(segments.into_iter().map(|s| segment_storage_key(id, s)));
        changes
            .deletes
            .extend(generations.into_iter().map(|g| item_key_storage_key(id, g)));
        Ok(changes)
    }

    /// One version in full (the current one when `version` is `None`).
    /// Decrypts that version's record.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`]; [`Error::Authentication`] if its record was tampered with;
    /// [`Error::Malformed`] if its authentic content does not parse or the
    /// metadata's copy of its title or time disagrees with it (`SPEC.md` §6.3).
    pub fn version(&self, id: PromptId, version: Option<VersionId>) -> Result<Version> {
        let p = self.prompt(id)?;
        let vid = version.unwrap_or(p.meta.current);
        let rec = p
            .versions
            .get(&vid)
            .ok_or(Error::NotFound { what: "version" })?;
        let c = self.open_version_record(p, rec)?;
        Ok(Version {
            id: vid,
            parent: c.parent,
            created: c.created,
            title: c.title,
            body: c.body,
            settings: c.settings,
            note: c.note,
        })
    }

    /// The version history, oldest first (by creation time, then id).
    ///
    /// Titles and parents live in the version records (SPEC §6.1), so this
    /// opens every version record of the prompt; a list view
    /// ([`Vault::list`]) opens none.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] for an unknown prompt; [`Error::Authentication`]
    /// if a version record was tampered with; [`Error::Malformed`] as for
    /// [`Vault::version`].
    pub fn history(&self, id: PromptId) -> Result<Vec<VersionEntry>> {
        let p = self.prompt(id)?;
        p.meta
            .versions
            .iter()
            .map(|e| {
                let rec = p
                    .versions
                    .get(&e.id)
                    .ok_or(Error::MissingRecord { what: "version" })?;
                let c = self.open_version_record(p, rec)?;
                Ok(VersionEntry {
                    id: e.id,
                    parent: c.parent,
                    created: c.created,
                    title: c.title,
                })
            })
            .collect()
    }

    /// Returns one version as plaintext, for sharing in public.
    ///
    /// # Errors
    ///
    /// As [`Vault::version`].
    ///
    /// # Security
    ///
    /// This is the one call whose purpose is to take text out of the vault:
    /// whatever the caller does with the result is public.
    pub fn publish(&self, id: PromptId, version: Option<VersionId>) -> Result<Published> {
        let v = self.version(id, version)?;
        Ok(Published {
            title: v.title,
            body: v.body,
            settings: v.settings,
        })
    }
}
