//! Ingesting records: the one path behind [`Vault::open`] and [`Vault::merge`].
//!
//! Staging reads the vault immutably and computes the complete new state of
//! every touched prompt (opening and checking every incoming record), so a
//! failure anywhere leaves the vault exactly as it was. Applying the staged
//! state cannot fail.
//!
//! Merge rules (normative, see `SPEC.md` §Sync):
//! - versions are immutable and identified by random ids: the result holds
//!   the union of both sides' versions, minus tombstoned (pruned) ones;
//! - metadata conflicts resolve to the candidate with the greatest
//!   `(revision, updated, RFC 8785 (JCS) plaintext bytes)`, then take the union of
//!   version entries and tombstones; if that differs from every candidate,
//!   the merged metadata is written at `max revision + 1`.

use std::collections::{BTreeMap, BTreeSet};

use super::layout::{Layout, Segment};
use super::seal::{parse_json, seal_meta, settle, version_storage_key};
use super::state::{Damaged, DamagedPrompt, PromptState, SeenRevisions};
use super::{Changeset, Vault};
use crate::error::{Error, Result};
use crate::format::RecordKind;
use crate::hazmat::Key;
use crate::ids::{PromptId, SegmentId, VersionId};
use crate::model::{
    IndexEntry, MAX_MERGED_VERSIONS, MAX_PROMPTS, Meta, StoredMeta, VersionContent,
};
use crate::record::SealedRecord;
use crate::rules::{self, sort_entries};
use crate::sealing;

/// Most records accepted in one open or merge.
pub const MAX_RECORDS_PER_BATCH: usize = 8 * MAX_PROMPTS;

/// What a [`Vault::merge`] did. Serialises with camelCase names.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct MergeReport {
    /// Prompts that were not in this vault before.
    pub prompts_added: usize,
    /// Versions that were not in this vault before.
    pub versions_added: usize,
    /// Prompts whose metadata changed.
    pub metadata_updated: usize,
    /// Prompts whose metadata had diverged and was merged into a new revision.
    pub conflicts_resolved: usize,
    /// Prompts that arrived with metadata failing the model rules and no
    /// valid copy to fall back on: kept as damaged (see
    /// [`Vault::damaged_prompts`]), and stored, so every device sees them.
    pub damaged: Vec<DamagedPrompt>,
    /// The records to store to bring the store to the merged state.
    pub changes: Changeset,
}

pub(super) struct Staged {
    prompts: BTreeMap<PromptId, PromptState>,
    damaged: BTreeMap<PromptId, Damaged>,
    extras: BTreeMap<String, SealedRecord>,
    report: MergeReport,
}

struct Candidate {
    rev: u64,
    generation: u32,
    meta: Meta,
    /// The index segments its metadata lists, resolved.
    segments: BTreeMap<SegmentId, Segment>,
    record: Option<SealedRecord>,
}

/// Segment records by prompt and id (the newest generation of each).
type SegmentRecords = BTreeMap<PromptId, BTreeMap<SegmentId, SealedRecord>>;

#[derive(PartialEq, Eq, Clone, Copy)]
enum Mode {
    Open,
    Merge,
}

fn record_error(e: Error) -> Error {
    match e {
        // A record from a newer release says so; every other failure of a
        // record is the one opaque error (see `SECURITY.md`).
        Error::UnsupportedVersion { .. } => e,
        _ => Error::Authentication,
    }
}

impl Vault {
    /// Merges records written by another device (or fetched from a server):
    /// new prompts, new versions, newer metadata. No version is ever lost;
    /// diverged metadata merges deterministically (see `SPEC.md` §Sync).
    ///
    /// Metadata that is authentic but breaks a model rule (`SPEC.md` §6.3)
    /// is ignored when the prompt has a valid copy; otherwise the prompt is
    /// kept as damaged ([`MergeReport::damaged`], [`Vault::damaged_prompts`])
    /// and its records stored. Records of a prompt already damaged here are
    /// ignored until it is deleted.
    ///
    /// # Errors
    ///
    /// As [`Vault::open`]; on any error the vault is unchanged.
    pub fn merge<I>(&mut self, records: I) -> Result<MergeReport>
    where
        I: IntoIterator,
        I::Item: AsRef<[u8]>,
    {
        let staged = self.stage_mode(records, &SeenRevisions::default(), Mode::Merge)?;
        let report = staged.report.clone();
        self.apply(staged);
        Ok(report)
    }

    pub(super) fn stage<I>(&self, records: I, seen: &SeenRevisions) -> Result<Staged>
    where
        I: IntoIterator,
        I::Item: AsRef<[u8]>,
    {
        self.stage_mode(records, seen, Mode::Open)
    }

    pub(super) fn apply(&mut self, staged: Staged) {
        self.prompts.extend(staged.prompts);
        self.damaged.extend(staged.damaged);
        self.extras.extend(staged.extras);
    }

    #[allow(clippy::too_many_lines)]
    fn stage_mode<I>(&self, records: I, seen: &SeenRevisions, mode: Mode) -> Result<Staged>
    where
        I: IntoIterator,
        I::Item: AsRef<[u8]>,
    {
        let mut keys: BTreeMap<(PromptId, u32), (Key, SealedRecord)> = BTreeMap::new();
        let mut metas: Vec<SealedRecord> = Vec::new();
        let mut versions: BTreeMap<PromptId, BTreeMap<VersionId, SealedRecord>> = BTreeMap::new();
        let mut segments: SegmentRecords = BTreeMap::new();
        let mut extras: BTreeMap<String, SealedRecord> = BTreeMap::new();
        for (n, raw) in records.into_iter().enumerate() {
            if n >= MAX_RECORDS_PER_BATCH {
                return Err(Error::too_large(
                    "records in one batch",
                    MAX_RECORDS_PER_BATCH,
                    n + 1,
                ));
            }
            let rec = SealedRecord::from_bytes(raw.as_ref().to_vec()).map_err(record_error)?;
            let h = *rec.header();
            if h.vault_id != self.id() {
                return Err(Error::Authentication);
            }
            if self.space && h.key_gen > self.key_generation() {
                // A space member meets a generation whose key they were not
                // given: removed, or the delivery is still on its way.
                return Err(Error::Revoked {
                    held: self.key_generation(),
                    current: h.key_gen,
                });
            }
            if super::extras::is_extra(h.kind) {
                // An account record (identity, space key): authentic under
                // the vault key, then the one that wins its storage key.
                self.check_extra(&rec)?;
                let key = rec.storage_key();
                let incumbent = extras.get(&key).or_else(|| self.extra(&key));
                if incumbent.is_none_or(|old| super::extras::wins(&rec, old)) {
                    extras.insert(key, rec);
                }
                continue;
            }
            let prompt = h.prompt_id().ok_or(Error::Authentication)?;
            match h.kind {
                RecordKind::ItemKey => {
                    let vk = self.vault_key(h.key_gen).ok_or(Error::Authentication)?;
                    let plain = sealing::open(vk, &rec)?;
                    let key = Key::from_slice(&plain).map_err(|_| Error::Authentication)?;
                    keys.insert((prompt, h.key_gen), (key, rec));
                }
                RecordKind::PromptMeta => metas.push(rec),
                RecordKind::PromptVersion => {
                    let vid = h.version_id().ok_or(Error::Authentication)?;
                    let slot = versions.entry(prompt).or_default();
                    let newer = slot
                        .get(&vid)
                        .is_none_or(|old| old.header().key_gen < h.key_gen);
                    if newer {
                        slot.insert(vid, rec);
                    }
                }
                RecordKind::PromptIndex => {
                    let sid = h.segment_id().ok_or(Error::Authentication)?;
                    let slot = segments.entry(prompt).or_default();
                    let newer = slot
                        .get(&sid)
                        .is_none_or(|old| old.header().key_gen < h.key_gen);
                    if newer {
                        slot.insert(sid, rec);
                    }
                }
                _ => return Err(Error::Authentication),
            }
        }

        let key_for = |prompt: PromptId, generation: u32| -> Option<&Key> {
            keys.get(&(prompt, generation)).map(|(k, _)| k).or_else(|| {
                self.prompts
                    .get(&prompt)
                    .map(|p| &p.keys)
                    .or_else(|| self.damaged.get(&prompt).map(|d| &d.keys))
                    .and_then(|k| k.get(&generation))
            })
        };

        let mut candidates: BTreeMap<PromptId, Vec<Candidate>> = BTreeMap::new();
        let mut bad: BTreeMap<PromptId, (SealedRecord, Error)> = BTreeMap::new();
        for rec in metas {
            let h = *rec.header();
            let prompt = h.prompt_id().ok_or(Error::Authentication)?;
            // No key for it: sealed elsewhere or tampered. Opaque, like a bad tag.
            let key = key_for(prompt, h.key_gen).ok_or(Error::Authentication)?;
            let plain = sealing::open(key, &rec)?;
            if let Some(&seen_rev) = seen.prompts.get(&prompt) {
                if h.revision < seen_rev {
                    return Err(Error::Rollback {
                        found: h.revision,
                        seen: seen_rev,
                    });
                }
            }
            // Authentic, so written by a holder of the keys: a failure of
            // the model rules from here on damages this prompt only.
            // Not canonical, not parsable or not normal: see SPEC §6.3.
            let meta = match parse_meta(&plain) {
                Ok(stored) => {
                    // A listed segment that is absent, or that no held key
                    // opens, fails the open like a listed version's record;
                    // one whose authentic content breaks a rule fails this
                    // metadata's rules.
                    let resolved =
                        self.resolve_segments(prompt, &stored.segments, &segments, &key_for)?;
                    resolved.and_then(|segs| {
                        let entries = rules::resolve_index(
                            &stored.versions,
                            segs.values().map(|s| s.entries.as_slice()),
                        )?;
                        let mut m = stored.into_meta(entries);
                        rules::normalize_meta(&mut m)?;
                        Ok((m, segs))
                    })
                }
                Err(e) => Err(e),
            };
            let (meta, segs) = match meta {
                Ok(m) => m,
                Err(reason) => {
                    let keep = bad
                        .get(&prompt)
                        .is_none_or(|(old, _): &(SealedRecord, Error)| {
                            old.header().revision < h.revision
                        });
                    if keep {
                        bad.insert(prompt, (rec, reason));
                    }
                    continue;
                }
            };
            candidates.entry(prompt).or_default().push(Candidate {
                rev: h.revision,
                generation: h.key_gen,
                meta,
                segments: segs,
                record: Some(rec),
            });
        }
        for (prompt, vs) in &versions {
            for rec in vs.values() {
                if key_for(*prompt, rec.header().key_gen).is_none() {
                    return Err(Error::Authentication);
                }
            }
        }
        for (prompt, ss) in &segments {
            for rec in ss.values() {
                if key_for(*prompt, rec.header().key_gen).is_none() {
                    return Err(Error::Authentication);
                }
            }
        }

        let touched: BTreeSet<PromptId> = keys
            .keys()
            .map(|(p, _)| *p)
            .chain(candidates.keys().copied())
            .chain(bad.keys().copied())
            .chain(versions.keys().copied())
            .chain(segments.keys().copied())
            .collect();
        let total = self.prompts.len()
            + self.damaged.len()
            + touched
                .iter()
                .filter(|p| !self.prompts.contains_key(p) && !self.damaged.contains_key(p))
                .count();
        if total > MAX_PROMPTS {
            return Err(Error::too_large("prompts", MAX_PROMPTS, total));
        }

        let mut report = MergeReport::default();
        let mut out = BTreeMap::new();
        let mut damaged = BTreeMap::new();
        // Storage keys embed the prompt id, so no two prompts' puts and
        // deletes collide: deduplicating within the prompt is enough, and
        // keeps staging linear in the number of records (a batch-wide
        // `put` rescanned every earlier put). Open never writes, so it
        // collects nothing.
        let collect = mode == Mode::Merge;
        for prompt in touched {
            if self.damaged.contains_key(&prompt) {
                // A damaged prompt stays as it is until it is removed.
                continue;
            }
            let existing = self.prompts.get(&prompt);
            let mut cands = candidates.remove(&prompt).unwrap_or_default();
            if let Some(p) = existing {
                cands.push(Candidate {
                    rev: p.revision,
                    generation: p.meta_gen,
                    meta: p.meta.clone(),
                    segments: p.layout.segments.clone(),
                    record: None,
                });
            }
            if cands.is_empty() {
                if let Some((meta, reason)) = bad.remove(&prompt) {
                    let d = stage_damaged(
                        prompt,
                        meta,
                        reason,
                        &mut keys,
                        &mut versions,
                        &mut segments,
                    )?;
                    if collect {
                        report
                            .changes
                            .puts
                            .extend(d.records(|g, k| self.seal_item_key(prompt, g, k))?);
                    }
                    report.damaged.push(d.public(prompt));
                    damaged.insert(prompt, d);
                }
                // Otherwise keys or versions without any metadata: nothing
                // to show yet (the rest of that changeset has not arrived).
                // Ignored.
                continue;
            }
            let mut changes = Changeset::default();
            let mut state = match existing {
                Some(p) => p.clone(),
                None => PromptState {
                    stale: BTreeSet::new(),
                    keys: BTreeMap::new(),
                    meta: Meta {
                        archived: false,
                        created: crate::ids::Timestamp(0),
                        current: VersionId::from_bytes([0; 16]),
                        deleted: Vec::new(),
                        favorite: false,
                        tags: Vec::new(),
                        title: String::new(),
                        updated: crate::ids::Timestamp(0),
                        versions: Vec::new(),
                    },
                    layout: Layout::default(),
                    strays: BTreeMap::new(),
                    revision: 0,
                    meta_gen: 0,
                    versions: BTreeMap::new(),
                },
            };
            for ((p, generation), (key, rec)) in keys.range((prompt, 0)..=(prompt, u32::MAX)) {
                if *p == prompt && !state.keys.contains_key(generation) {
                    state.keys.insert(*generation, key.clone());
                    if collect {
                        changes.put(rec.clone());
                    }
                }
            }
            let mut added_versions = 0usize;
            for (vid, rec) in versions.remove(&prompt).unwrap_or_default() {
                let take = state
                    .versions
                    .get(&vid)
                    .is_none_or(|old| old.header().key_gen < rec.header().key_gen);
                if take {
                    if !state.versions.contains_key(&vid) {
                        added_versions += 1;
                    }
                    if collect {
                        changes.put(rec.clone());
                    }
                    state.versions.insert(vid, rec);
                }
            }

            let local_rev = existing.map(|p| p.revision);
            let max_rev = cands.iter().map(|c| c.rev).max().unwrap_or(0);
            let n_distinct = {
                let mut metas: Vec<&Meta> = Vec::new();
                for c in &cands {
                    if !metas.contains(&&c.meta) {
                        metas.push(&c.meta);
                    }
                }
                metas.len()
            };
            // Incoming segment records: stored like versions (a newer
            // metadata may list one this batch's does not).
            let mut incoming_segments = segments.remove(&prompt).unwrap_or_default();
            incoming_segments.retain(|sid, rec| {
                let held = state
                    .layout
                    .segments
                    .get(sid)
                    .map(|s| &s.record)
                    .or_else(|| state.strays.get(sid));
                held.is_none_or(|old| old.header().key_gen < rec.header().key_gen)
            });
            if collect {
                for rec in incoming_segments.values() {
                    changes.put(rec.clone());
                }
            }
            let (mut merged, winner) = resolve(&cands)?;
            let winner_current = merged.current;

            // Tombstones: pruned versions stay deleted even if replayed.
            // Open cannot delete, so it remembers them for the next write
            // of this prompt; a merge deletes them now.
            let dead: BTreeSet<VersionId> = merged.deleted.iter().copied().collect();
            for vid in &dead {
                if state.versions.remove(vid).is_some() {
                    if collect {
                        changes.delete(version_storage_key(prompt, *vid));
                    } else {
                        state.stale.insert(*vid);
                    }
                    added_versions = added_versions.saturating_sub(1);
                }
            }
            if collect {
                for vid in core::mem::take(&mut state.stale) {
                    changes.delete(version_storage_key(prompt, vid));
                }
            }
            // Versions without an entry (their metadata has not caught up): adopt them.
            let listed: BTreeSet<VersionId> = merged.versions.iter().map(|e| e.id).collect();
            // An authentication failure is fatal; content that does not
            // parse breaks a model rule (handled with the rules below).
            let mut unreadable: Option<Error> = None;
            for (vid, rec) in &state.versions {
                if !listed.contains(vid) {
                    let plain = self.open_version_with(&state, rec, &keys, prompt)?;
                    match parse_json::<VersionContent>(&plain, "version JSON") {
                        // The version record is authoritative for its
                        // creation time (D4): the entry is derived from it.
                        Ok(content) => merged.versions.push(IndexEntry {
                            created: content.created,
                            id: *vid,
                        }),
                        Err(e) => {
                            unreadable.get_or_insert(e);
                        }
                    }
                }
            }
            sort_entries(&mut merged.versions);
            if merged.versions.len() > MAX_MERGED_VERSIONS && collect {
                return Err(Error::too_large(
                    "versions of one prompt",
                    MAX_MERGED_VERSIONS,
                    merged.versions.len(),
                ));
            }
            if merged.versions.is_empty() {
                return Err(Error::MissingRecord { what: "version" });
            }
            for e in &merged.versions {
                if !state.versions.contains_key(&e.id) {
                    return Err(Error::MissingRecord { what: "version" });
                }
            }
            if !merged.versions.iter().any(|e| e.id == merged.current) {
                if let Some(last) = merged.versions.last() {
                    merged.current = last.id;
                }
            }
            if merged.current != winner_current && unreadable.is_none() {
                // The winner's current version was tombstoned elsewhere: the
                // newest live version is current, and the metadata takes its
                // title from its record (D4: the record is authoritative).
                let rec = state
                    .versions
                    .get(&merged.current)
                    .ok_or(Error::MissingRecord { what: "version" })?;
                let plain = self.open_version_with(&state, rec, &keys, prompt)?;
                match parse_json::<VersionContent>(&plain, "version JSON") {
                    Ok(content) => merged.title = content.title,
                    Err(e) => unreadable = Some(e),
                }
            }
            // The same rules as every candidate passed; only what open
            // adopted from version records can break them here. A merge
            // refuses (its result would be sealed); open keeps the prompt
            // as damaged.
            let ruled = match unreadable {
                Some(e) => Err(e),
                None => rules::normalize_meta(&mut merged),
            };
            if let Err(reason) = ruled {
                let stored = cands
                    .iter()
                    .filter_map(|c| c.record.as_ref())
                    .max_by_key(|r| r.header().revision);
                match stored {
                    Some(rec) if !collect => {
                        let mut all_segments: BTreeMap<SegmentId, SealedRecord> = state
                            .segment_records()
                            .map(|(sid, r)| (sid, r.clone()))
                            .collect();
                        all_segments.extend(incoming_segments);
                        let d = Damaged {
                            keys: state.keys,
                            meta: rec.clone(),
                            versions: state.versions,
                            segments: all_segments,
                            reason,
                        };
                        report.damaged.push(d.public(prompt));
                        damaged.insert(prompt, d);
                        continue;
                    }
                    _ => return Err(reason),
                }
            }

            // Among equal candidates, the newest revision, and a stored
            // record over the local state: two devices holding the same
            // index in different segments settle on the stored one.
            let adopted = cands
                .iter()
                .filter(|c| c.meta == merged)
                .max_by_key(|c| (c.rev, c.record.is_some()));
            let meta_changed = existing.is_none_or(|p| p.meta != merged);
            // Every segment record of the prompt, listed or not, before the
            // new layout picks the ones its metadata lists.
            let mut pool: BTreeMap<SegmentId, SealedRecord> = state
                .segment_records()
                .map(|(sid, r)| (sid, r.clone()))
                .collect();
            pool.extend(incoming_segments);
            let local_listed: Vec<SegmentId> = state.layout.ids();
            match adopted {
                Some(c) => {
                    // Its index as stored (the next write compacts a
                    // segment holding a tombstoned entry).
                    state.layout = Layout::as_read(c.segments.clone(), &merged.versions);
                    if let Some(rec) = &c.record {
                        if collect
                            && (local_rev.is_none_or(|l| c.rev > l)
                                || existing.is_some_and(|p| {
                                    p.meta != merged || p.layout.ids() != state.layout.ids()
                                }))
                        {
                            changes.put(rec.clone());
                        }
                    }
                    state.revision = c.rev;
                    state.meta_gen = c.generation;
                }
                None => {
                    if n_distinct > 1 {
                        report.conflicts_resolved += 1;
                    }
                    // Keep the winner's clean segments, then the others';
                    // the rest of the index is the tail (SPEC §6.4).
                    let offered = cands
                        .get(winner)
                        .into_iter()
                        .chain(cands.iter())
                        .flat_map(|c| c.segments.iter().map(|(k, v)| (*k, v.clone())));
                    let kept = Layout::keep(offered, &merged.versions);
                    if mode == Mode::Merge {
                        let rev = max_rev
                            .checked_add(1)
                            .ok_or(Error::invalid("revision overflow"))?;
                        let (generation, key) = state.current_key()?;
                        // `keep` kept only segments of live entries;
                        // compaction's dropped ones are in the pool, kept
                        // as strays below.
                        let layout =
                            settle(self.id(), prompt, generation, key, kept, &|_| true)?.layout;
                        // Kept segments this store does not hold yet
                        // (incoming ones were put above) and new ones.
                        for (sid, seg) in &layout.segments {
                            if !local_listed.contains(sid) && !state.strays.contains_key(sid) {
                                changes.put(seg.record.clone());
                            }
                        }
                        changes.put(seal_meta(
                            self.id(),
                            prompt,
                            generation,
                            key,
                            rev,
                            &merged,
                            &layout,
                        )?);
                        state.layout = layout;
                        state.revision = rev;
                        state.meta_gen = generation;
                    } else {
                        // Open never writes: keep the stored revision; the
                        // next mutation of this prompt reseals the metadata
                        // (and cuts the tail into segments).
                        let best = cands.iter().max_by_key(|c| c.rev);
                        state.revision = max_rev;
                        state.meta_gen = best.map_or(0, |c| c.generation);
                        state.layout = kept;
                    }
                }
            }
            // Segments no longer listed stay, as strays: another device's
            // metadata may still list them (SPEC §6.4). Only a write that
            // dissolves a segment for a dead entry deletes it.
            let listed_now: BTreeSet<SegmentId> = state.layout.segments.keys().copied().collect();
            state.strays = pool
                .into_iter()
                .filter(|(sid, _)| !listed_now.contains(sid))
                .collect();
            if existing.is_none() {
                report.prompts_added += 1;
            } else if meta_changed {
                report.metadata_updated += 1;
            }
            report.versions_added += added_versions;
            state.meta = merged;
            if state.keys.is_empty() {
                return Err(Error::MissingRecord { what: "item key" });
            }
            if collect {
                report.changes.puts.append(&mut changes.puts);
                report.changes.deletes.append(&mut changes.deletes);
            }
            out.insert(prompt, state);
        }
        report.changes.puts.extend(extras.values().cloned());
        Ok(Staged {
            prompts: out,
            damaged,
            extras,
            report,
        })
    }

    /// The segments a metadata record of `prompt` lists, resolved: each
    /// from this batch's records, else from the segments this vault holds
    /// for the prompt (listed or stray).
    ///
    /// # Errors
    ///
    /// Outer, fatal: [`Error::MissingRecord`] for a listed segment that is
    /// absent (as a listed version's record), [`Error::Authentication`]
    /// for one that fails to open. Inner: [`Error::Malformed`] for an
    /// authentic segment whose content breaks a rule (its metadata then
    /// breaks a rule: SPEC §6.3).
    fn resolve_segments<'k, F>(
        &self,
        prompt: PromptId,
        ids: &[SegmentId],
        incoming: &SegmentRecords,
        key_for: &F,
    ) -> Result<Result<BTreeMap<SegmentId, Segment>>>
    where
        F: Fn(PromptId, u32) -> Option<&'k Key>,
    {
        let held = self.prompts.get(&prompt);
        let mut out = BTreeMap::new();
        for sid in ids {
            let record = incoming.get(&prompt).and_then(|m| m.get(sid));
            if record.is_none() {
                if let Some(seg) = held.and_then(|p| p.layout.segments.get(sid)) {
                    out.insert(*sid, seg.clone());
                    continue;
                }
            }
            let record = record
                .or_else(|| held.and_then(|p| p.strays.get(sid)))
                .or_else(|| self.damaged.get(&prompt).and_then(|d| d.segments.get(sid)))
                .ok_or(Error::MissingRecord {
                    what: "index segment",
                })?;
            let key = key_for(prompt, record.header().key_gen).ok_or(Error::Authentication)?;
            let plain = sealing::open(key, record)?;
            let entries = match crate::model::index::parse_segment(&plain)
                .and_then(|e| rules::check_segment(&e).map(|()| e))
            {
                Ok(e) => e,
                Err(e) => return Ok(Err(e)),
            };
            out.insert(
                *sid,
                Segment {
                    entries,
                    record: record.clone(),
                },
            );
        }
        Ok(Ok(out))
    }

    fn open_version_with(
        &self,
        state: &PromptState,
        rec: &SealedRecord,
        keys: &BTreeMap<(PromptId, u32), (Key, SealedRecord)>,
        prompt: PromptId,
    ) -> Result<zeroize::Zeroizing<Vec<u8>>> {
        let generation = rec.header().key_gen;
        let key = state
            .keys
            .get(&generation)
            .or_else(|| keys.get(&(prompt, generation)).map(|(k, _)| k))
            .ok_or(Error::MissingRecord { what: "item key" })?;
        sealing::open(key, rec)
    }
}

/// A prompt whose only metadata fails the model rules: its records, as
/// they arrived, kept so it can be reported, exported and removed.
fn stage_damaged(
    prompt: PromptId,
    meta: SealedRecord,
    reason: Error,
    keys: &mut BTreeMap<(PromptId, u32), (Key, SealedRecord)>,
    versions: &mut BTreeMap<PromptId, BTreeMap<VersionId, SealedRecord>>,
    segments: &mut SegmentRecords,
) -> Result<Damaged> {
    let item_keys: BTreeMap<u32, Key> = keys
        .range((prompt, 0)..=(prompt, u32::MAX))
        .map(|((_, g), (k, _))| (*g, k.clone()))
        .collect();
    if item_keys.is_empty() {
        return Err(Error::MissingRecord { what: "item key" });
    }
    Ok(Damaged {
        keys: item_keys,
        meta,
        versions: versions.remove(&prompt).unwrap_or_default(),
        segments: segments.remove(&prompt).unwrap_or_default(),
        reason,
    })
}

/// Parses a metadata plaintext and checks it is canonical, re-encoding it
/// with the direct writer (the same bytes as the general RFC 8785
/// serialiser, see `model::write`) so opening many prompts stays cheap.
pub(crate) fn parse_meta(plain: &[u8]) -> Result<StoredMeta> {
    let malformed = Error::Malformed {
        what: "metadata JSON",
    };
    let meta: StoredMeta = serde_json::from_slice(plain).map_err(|_| malformed.clone())?;
    let again = zeroize::Zeroizing::new(
        crate::model::meta_json(&meta.view()).map_err(|_| malformed.clone())?,
    );
    if again.as_slice() != plain {
        return Err(malformed);
    }
    rules::check_segment_ids(&meta.segments)?;
    Ok(meta)
}

/// Deterministic metadata resolution over all candidates: the merged
/// metadata and the index of the winner in `cands`.
///
/// The tie-break compares each candidate's canonical metadata in its
/// logical form (SPEC §6.4: every entry in `versions`, no `segments`),
/// so two devices that hold the same index in different segments agree.
fn resolve(cands: &[Candidate]) -> Result<(Meta, usize)> {
    // One candidate (the common case when opening) wins without a
    // comparison, so its canonical JSON is not needed.
    let (winner, at) = if let [only] = cands {
        (only, 0)
    } else {
        let mut best: Option<(&Candidate, usize, Vec<u8>)> = None;
        for (i, c) in cands.iter().enumerate() {
            let json = crate::format::json::to_canonical(&c.meta)?;
            let better = match &best {
                None => true,
                Some((b, _, bj)) => (c.rev, c.meta.updated, &json) > (b.rev, b.meta.updated, bj),
            };
            if better {
                best = Some((c, i, json));
            }
        }
        let (c, i, _) = best.ok_or(Error::MissingRecord { what: "metadata" })?;
        (c, i)
    };
    let mut merged = winner.meta.clone();
    let mut dead: BTreeSet<VersionId> = BTreeSet::new();
    for c in cands {
        dead.extend(c.meta.deleted.iter().copied());
    }
    let mut seen: BTreeSet<VersionId> = merged.versions.iter().map(|e| e.id).collect();
    for c in cands {
        for e in &c.meta.versions {
            if seen.insert(e.id) {
                merged.versions.push(*e);
            }
        }
    }
    // Devices that each deleted a different version may together have
    // deleted them all: the winner's current version then survives (its
    // tombstone is dropped), so a merge never deletes a prompt's last
    // version (SPEC §8). A device that deleted its record fetches it again.
    if merged.versions.iter().all(|e| dead.contains(&e.id)) {
        dead.remove(&winner.meta.current);
    }
    merged.versions.retain(|e| !dead.contains(&e.id));
    sort_entries(&mut merged.versions);
    merged.deleted = dead.into_iter().collect();
    rules::cap_tombstones(&mut merged.deleted);
    Ok((merged, at))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::ids::Timestamp;

    #[test]
    fn metadata_readers_refuse_non_canonical_plaintexts() {
        let meta = StoredMeta {
            archived: false,
            created: Timestamp(1),
            current: VersionId::from_bytes([7; 16]),
            deleted: Vec::new(),
            favorite: true,
            segments: vec![SegmentId::from_bytes([3; 16])],
            tags: vec!["Art".into()],
            title: "t".into(),
            updated: Timestamp(2),
            versions: vec![IndexEntry {
                created: Timestamp(1),
                id: VersionId::from_bytes([7; 16]),
            }],
        };
        let good = crate::model::meta_json(&meta.view()).unwrap();
        assert_eq!(parse_meta(&good).unwrap(), meta);
        let text = String::from_utf8(good).unwrap();
        for bad in [
            text.replacen(':', ": ", 1),
            text.replacen(
                "\"archived\":false,\"created\":1",
                "\"created\":1,\"archived\":false",
                1,
            ),
            text.clone() + " ",
            text.replacen("\"created\":1", "\"created\":1.0", 1),
            text.replacen("\"title\":\"t\"", "\"title\":\"\\u0074\"", 1),
            text.replacen('}', ",\"extra\":1}", 1),
            text.replacen("\"segments\":\"AwMDAwMDAwMDAwMDAwMDAw\",", "", 1),
        ] {
            assert!(parse_meta(bad.as_bytes()).is_err(), "{bad}");
        }
    }
}
