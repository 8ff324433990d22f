//! Where a prompt's version index is stored (SPEC §6.4): an open tail in
//! the metadata record and write-once `prompt-index` segments of up to 64
//! entries. An edit appends to the tail and, once it holds 64 entries,
//! seals them as one new segment: the metadata it re-seals lists 16 bytes
//! per segment and fewer than 64 entries, whatever the history.
//!
//! Segments are unordered blocks: the index is the union of the tail and
//! every listed segment, in index order. Prune, merge and import rebuild
//! the layout (time linear in the history is fine there); an edit only
//! plans a change ([`Layout::plan`]) and installs it after everything is
//! sealed ([`Layout::apply`]).

use std::collections::{BTreeMap, HashSet};

use crate::error::Result;
use crate::ids::{PromptId, SegmentId, VersionId};
use crate::model::{IndexEntry, MAX_SEGMENTS, SEGMENT_ENTRIES};
use crate::record::SealedRecord;

/// One sealed index segment: its entries as stored (an entry tombstoned
/// since stays until the segment is compacted; readers drop it) and its
/// record.
#[derive(Clone)]
pub(crate) struct Segment {
    pub(crate) entries: Vec<IndexEntry>,
    pub(crate) record: SealedRecord,
}

/// A prompt's stored index: the segments its metadata lists and its open
/// tail.
#[derive(Clone, Default)]
pub(crate) struct Layout {
    pub(crate) segments: BTreeMap<SegmentId, Segment>,
    /// Live entries not in a segment, in index order.
    pub(crate) tail: Vec<IndexEntry>,
    /// Whether a segment may hold an entry that is no longer live: the
    /// next write dissolves such segments into the tail.
    pub(crate) dirty: bool,
}

/// What a write changes in a [`Layout`], computed before anything is
/// installed so that an error leaves the prompt as it was.
pub(crate) struct LayoutChange {
    /// The new open tail.
    pub(crate) tail: Vec<IndexEntry>,
    /// Segments sealed by this write.
    pub(crate) added: Vec<(SegmentId, Segment)>,
    /// Segments dissolved because they held an entry no longer live:
    /// their records are deleted (every device that merges this write's
    /// tombstones stops listing them too).
    pub(crate) retired: Vec<SegmentId>,
    /// Segments dissolved by compaction: no longer listed here, but kept
    /// as strays (another device's metadata may still list them).
    pub(crate) dropped: Vec<SegmentId>,
    /// Every segment the new metadata lists, ascending.
    pub(crate) ids: Vec<SegmentId>,
}

impl LayoutChange {
    /// The records this change writes.
    pub(crate) fn puts(&self) -> impl Iterator<Item = &SealedRecord> {
        self.added.iter().map(|(_, s)| &s.record)
    }
}

/// Seals the entries of a new segment; returns its fresh id and record.
pub(crate) type SealSegment<'a> =
    dyn FnMut(&[IndexEntry]) -> Result<(SegmentId, SealedRecord)> + 'a;

impl Layout {
    /// The segment ids, ascending.
    pub(crate) fn ids(&self) -> Vec<SegmentId> {
        self.segments.keys().copied().collect()
    }

    /// Every listed segment's stored entries.
    pub(crate) fn segment_entries(&self) -> impl Iterator<Item = &[IndexEntry]> {
        self.segments.values().map(|s| s.entries.as_slice())
    }

    /// Plans the layout of a write whose new open tail is `tail` (the live
    /// entries of the new index not held by a listed segment) and whose
    /// new index holds exactly the versions `live` accepts.
    ///
    /// If the layout is dirty, every segment holding an entry that is not
    /// live is dissolved: its live entries join the tail and its record is
    /// retired. Then, while the tail holds [`SEGMENT_ENTRIES`] or more, its
    /// oldest 64 entries become a new segment. If more than
    /// [`MAX_SEGMENTS`] would be listed, every segment of fewer than 64
    /// entries is dissolved too (dropped, not deleted) and the tail cut
    /// again (at most ⌊4000 / 64⌋ full segments remain). An edit of a
    /// clean layout costs the tail and the segment list, nothing more.
    ///
    /// # Errors
    ///
    /// As `seal` (randomness, a time above 2^53 − 1).
    pub(crate) fn plan(
        &self,
        mut tail: Vec<IndexEntry>,
        live: &dyn Fn(VersionId) -> bool,
        seal: &mut SealSegment<'_>,
    ) -> Result<LayoutChange> {
        let mut retired: Vec<SegmentId> = Vec::new();
        let mut resort = false;
        if self.dirty {
            for (id, s) in &self.segments {
                if s.entries.iter().any(|e| !live(e.id)) {
                    retired.push(*id);
                    tail.extend(s.entries.iter().filter(|e| live(e.id)));
                    resort = true;
                }
            }
        }
        if resort {
            tail.sort_unstable();
        }
        let mut added = Vec::new();
        let mut dropped: Vec<SegmentId> = Vec::new();
        cut(&mut tail, &mut added, seal)?;
        if self.segments.len() - retired.len() + added.len() > MAX_SEGMENTS {
            for (id, s) in &self.segments {
                if s.entries.len() < SEGMENT_ENTRIES && !retired.contains(id) {
                    dropped.push(*id);
                    tail.extend(s.entries.iter().filter(|e| live(e.id)));
                }
            }
            tail.sort_unstable();
            cut(&mut tail, &mut added, seal)?;
        }
        let mut ids: Vec<SegmentId> = self
            .segments
            .keys()
            .filter(|id| !retired.contains(id) && !dropped.contains(id))
            .copied()
            .chain(added.iter().map(|(id, _)| *id))
            .collect();
        ids.sort_unstable();
        Ok(LayoutChange {
            tail,
            added,
            retired,
            dropped,
            ids,
        })
    }

    /// Installs a planned change; returns the storage keys of the retired
    /// segments, for the changeset's deletes, and the dropped segments'
    /// records, for the prompt's strays.
    pub(crate) fn apply(
        &mut self,
        prompt: PromptId,
        change: LayoutChange,
    ) -> (Vec<String>, Vec<(SegmentId, SealedRecord)>) {
        let mut deletes = Vec::with_capacity(change.retired.len());
        for id in change.retired {
            self.segments.remove(&id);
            deletes.push(segment_storage_key(prompt, id));
        }
        let dropped = change
            .dropped
            .into_iter()
            .filter_map(|id| self.segments.remove(&id).map(|s| (id, s.record)))
            .collect();
        self.segments.extend(change.added);
        self.tail = change.tail;
        self.dirty = false;
        (deletes, dropped)
    }

    /// A layout holding exactly `versions` (the live index, in index order),
    /// without sealing anything: every offered segment whose entries are
    /// all in `versions` and not already held is kept, in the order
    /// offered; the rest of `versions` is the tail. Open builds the
    /// in-memory layout this way (it never writes; the next write cuts the
    /// tail), and merges and imports start from it.
    pub(crate) fn keep(
        offered: impl IntoIterator<Item = (SegmentId, Segment)>,
        versions: &[IndexEntry],
    ) -> Layout {
        let wanted: HashSet<IndexEntry> = versions.iter().copied().collect();
        let mut held: HashSet<VersionId> = HashSet::new();
        let mut segments = BTreeMap::new();
        for (id, s) in offered {
            if segments.contains_key(&id) || segments.len() >= MAX_SEGMENTS {
                continue;
            }
            let clean = s
                .entries
                .iter()
                .all(|e| wanted.contains(e) && !held.contains(&e.id));
            if clean {
                held.extend(s.entries.iter().map(|e| e.id));
                segments.insert(id, s);
            }
        }
        let tail = versions
            .iter()
            .filter(|e| !held.contains(&e.id))
            .copied()
            .collect();
        Layout {
            segments,
            tail,
            dirty: false,
        }
    }

    /// The stored layout of a metadata record as read: its segments as
    /// stored and the live entries of its tail. Dirty if a segment holds an
    /// entry `versions` (the normalised index) does not.
    pub(crate) fn as_read(
        segments: BTreeMap<SegmentId, Segment>,
        versions: &[IndexEntry],
    ) -> Layout {
        let live: HashSet<VersionId> = versions.iter().map(|e| e.id).collect();
        let mut held: HashSet<VersionId> = HashSet::new();
        let mut dirty = false;
        for s in segments.values() {
            for e in &s.entries {
                if live.contains(&e.id) {
                    held.insert(e.id);
                } else {
                    dirty = true;
                }
            }
        }
        let tail = versions
            .iter()
            .filter(|e| !held.contains(&e.id))
            .copied()
            .collect();
        Layout {
            segments,
            tail,
            dirty,
        }
    }
}

/// Cuts full segments from the oldest entries of `tail`.
fn cut(
    tail: &mut Vec<IndexEntry>,
    added: &mut Vec<(SegmentId, Segment)>,
    seal: &mut SealSegment<'_>,
) -> Result<()> {
    while tail.len() >= SEGMENT_ENTRIES {
        let entries: Vec<IndexEntry> = tail.drain(..SEGMENT_ENTRIES).collect();
        let (id, record) = seal(&entries)?;
        added.push((id, Segment { entries, record }));
    }
    Ok(())
}

/// `i.<prompt>.<segment>` (SPEC §5).
pub(crate) fn segment_storage_key(prompt: PromptId, segment: SegmentId) -> String {
    crate::format::storage_key::segment(prompt.as_bytes(), segment.as_bytes())
}
