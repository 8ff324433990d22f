//! The model rules (`SPEC.md` §6), in one place.
//!
//! Every path that reads a prompt's metadata (open, merge, import) brings it
//! to its normal form with [`normalize_meta`], and every path that seals
//! metadata checks it with [`check_meta`] — which is [`normalize_meta`]
//! plus "already normal". So the core cannot write metadata that its own
//! reader would refuse. Version contents are checked by [`check_version`]
//! whenever a version is sealed from new content (add, restore, import).
//!
//! What is normalised and what is refused (see `SPEC.md` §6.3):
//! - normalised (lossless and well-defined): tags trimmed and NFC'd,
//!   duplicates under the tag key collapsed to the first spelling; version
//!   index entries sorted by `(created, id)`; tombstones sorted,
//!   deduplicated and capped; a version both listed and tombstoned is
//!   dropped (the tombstone wins, as in a merge);
//! - refused: anything else — an empty, blank, over-long or
//!   control-character title (the metadata's copy of the current title, or
//!   a version's) or tag, more tags or versions than allowed, duplicate
//!   version ids, no version, a `current` that is not listed, a version
//!   that is its own parent, a settings integer beyond ±(2^53 − 1), and a
//!   metadata copy (index time, current title) that disagrees with the
//!   version record ([`check_copies`], checked whenever a version record
//!   is read).
//!
//! The stored form (SPEC §6.4) has rules of its own: index segments of
//! 1–64 entries in index order ([`check_segment`]), segment ids strictly
//! ascending and at most [`MAX_SEGMENTS`], no version in two places
//! ([`resolve_index`]). A writer seals metadata only through
//! [`check_meta`] with [`check_layout`] (every path that rebuilds the
//! index: merge, import, prune, rotation) or [`check_stored`] (an edit that
//! appends one new version or changes no entry), which checks what is
//! sealed in time independent of the history's length: an edit may rely on
//! the index it extends having passed the full check when it was built.

use std::collections::HashSet;

use crate::error::{Error, Result};
use crate::ids::{SegmentId, VersionId};
use crate::model::{
    IndexEntry, MAX_BODY_LEN, MAX_MERGED_VERSIONS, MAX_NOTE_LEN, MAX_SEGMENTS, MAX_SETTINGS_LEN,
    MAX_TAGS_PER_PROMPT, MAX_TITLE_LEN, MAX_TOMBSTONES, Meta, MetaView, SEGMENT_ENTRIES,
    VersionContent,
};
use crate::tags;

/// Whether `c` may not appear in a title or a tag: every control character
/// (C0, DEL, C1 — Unicode category `Cc`) and the bidirectional embedding,
/// override and isolate controls (U+202A–U+202E, U+2066–U+2069), which can
/// make displayed text read differently from its stored order. The marks
/// U+200E, U+200F and U+061C stay allowed: right-to-left text needs them and
/// they reorder nothing around them.
#[must_use]
pub(crate) fn forbidden_in_label(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Checks a title: not blank, at most [`MAX_TITLE_LEN`] bytes, no
/// character [`forbidden_in_label`].
///
/// # Errors
///
/// [`Error::InvalidInput`] for a blank title or a forbidden character;
/// [`Error::LimitExceeded`] for a long one.
pub(crate) fn check_title(title: &str) -> Result<()> {
    if title.len() > MAX_TITLE_LEN {
        return Err(Error::too_large(
            "title (bytes)",
            MAX_TITLE_LEN,
            title.len(),
        ));
    }
    if title.trim().is_empty() {
        return Err(Error::invalid("the title is empty"));
    }
    if title.chars().any(forbidden_in_label) {
        return Err(Error::invalid(
            "the title contains control or bidirectional-override characters",
        ));
    }
    Ok(())
}

/// Checks the content of a version about to be sealed: its title, body,
/// note and settings limits (UTF-8 bytes before escaping; settings in
/// bytes of their canonical form), settings integers exact in an IEEE
/// double, and that it is not its own parent.
///
/// # Errors
///
/// As [`check_title`]; [`Error::LimitExceeded`] for an oversized body,
/// note or settings; [`Error::InvalidInput`] for a settings integer beyond
/// ±(2^53 − 1) or a version that is its own parent.
pub(crate) fn check_version(id: VersionId, content: &VersionContent) -> Result<()> {
    check_title(&content.title)?;
    if content.body.len() > MAX_BODY_LEN {
        return Err(Error::too_large(
            "body (bytes)",
            MAX_BODY_LEN,
            content.body.len(),
        ));
    }
    if content.note.len() > MAX_NOTE_LEN {
        return Err(Error::too_large(
            "note (bytes)",
            MAX_NOTE_LEN,
            content.note.len(),
        ));
    }
    if let Some(s) = &content.settings {
        if !crate::format::json::numbers_are_exact(s) {
            return Err(Error::invalid(
                "a settings number is an integer beyond ±(2^53 − 1), which JSON numbers \
                 (IEEE doubles) cannot hold exactly; store it as a string",
            ));
        }
        let n = crate::vault::to_json(s)?.len();
        if n > MAX_SETTINGS_LEN {
            return Err(Error::too_large(
                "settings JSON (bytes)",
                MAX_SETTINGS_LEN,
                n,
            ));
        }
    }
    if content.parent == Some(id) {
        return Err(Error::invalid("a version is its own parent"));
    }
    Ok(())
}

/// Normalises a list of tags: each is trimmed and NFC'd, and a tag whose
/// key ([`tags::fold`]) is already present is dropped (the first spelling
/// stays). Linear in the number of tags: the keys seen are hashed, each
/// tag is folded once. `max` is the count allowed after deduplication.
///
/// # Errors
///
/// As [`tags::normalize`] for a bad tag; [`Error::LimitExceeded`] with the
/// real count of distinct tags when there are more than `max`.
pub(crate) fn normalize_tags<'a>(
    list: impl IntoIterator<Item = &'a str>,
    max: usize,
) -> Result<Vec<String>> {
    let mut keys: HashSet<String> = HashSet::new();
    let mut out = Vec::new();
    for t in list {
        let spelled = tags::normalize(t)?;
        if keys.insert(tags::fold(&spelled)) {
            out.push(spelled);
        }
    }
    if out.len() > max {
        return Err(Error::too_large("tags on one prompt", max, out.len()));
    }
    Ok(out)
}

/// Sorts index entries in their stored order, `(created, id)` (the
/// derived order of [`IndexEntry`]).
pub(crate) fn sort_entries(entries: &mut [IndexEntry]) {
    entries.sort_unstable();
}

/// D4 (`SPEC.md` §6.3): the version record is authoritative for its title
/// and creation time; the metadata's copies — the index entry's time and,
/// for the current version, the metadata title — must agree with it. Both
/// are sealed under the same item key, so a disagreement is a faulty
/// writer holding the keys: a model-rule failure of that prompt, never
/// shown two ways (and never the opaque authentication error).
///
/// # Errors
///
/// [`Error::Malformed`] when a copy disagrees.
pub(crate) fn check_copies(meta: &Meta, id: VersionId, content: &VersionContent) -> Result<()> {
    for e in meta.versions.iter().filter(|e| e.id == id) {
        check_entry(meta, e, content)?;
    }
    if meta.current == id && meta.title != content.title {
        return Err(disagreement());
    }
    Ok(())
}

/// [`check_copies`] for one index entry and its version's content.
///
/// # Errors
///
/// [`Error::Malformed`] when a copy disagrees.
pub(crate) fn check_entry(meta: &Meta, entry: &IndexEntry, content: &VersionContent) -> Result<()> {
    if entry.created != content.created || (meta.current == entry.id && meta.title != content.title)
    {
        return Err(disagreement());
    }
    Ok(())
}

fn disagreement() -> Error {
    Error::Malformed {
        what: "metadata disagrees with the version record",
    }
}

/// Sorts and deduplicates tombstones, keeping at most [`MAX_TOMBSTONES`]:
/// the smallest ids are forgotten first.
pub(crate) fn cap_tombstones(deleted: &mut Vec<VersionId>) {
    deleted.sort_unstable();
    deleted.dedup();
    if deleted.len() > MAX_TOMBSTONES {
        let cut = deleted.len() - MAX_TOMBSTONES;
        deleted.drain(..cut);
    }
}

/// Brings metadata read from anywhere (a stored record, a merge, an export)
/// to its normal form, or refuses it. Idempotent.
///
/// # Errors
///
/// [`Error::Malformed`] for metadata no writer may produce (no version,
/// duplicate ids, `current` not listed); [`Error::LimitExceeded`] above
/// [`MAX_MERGED_VERSIONS`] versions or [`MAX_TAGS_PER_PROMPT`] tags; as
/// [`check_title`] for the current version's title and as
/// [`tags::normalize`] for a tag.
pub(crate) fn normalize_meta(meta: &mut Meta) -> Result<()> {
    cap_tombstones(&mut meta.deleted);
    if !meta.deleted.is_empty() {
        let dead: HashSet<VersionId> = meta.deleted.iter().copied().collect();
        meta.versions.retain(|e| !dead.contains(&e.id));
    }
    if meta.versions.is_empty() {
        return Err(Error::malformed("metadata lists no version"));
    }
    if meta.versions.len() > MAX_MERGED_VERSIONS {
        return Err(Error::too_large(
            "versions of one prompt",
            MAX_MERGED_VERSIONS,
            meta.versions.len(),
        ));
    }
    let mut ids: HashSet<VersionId> = HashSet::with_capacity(meta.versions.len());
    for e in &meta.versions {
        if !ids.insert(e.id) {
            return Err(Error::malformed("metadata lists a version twice"));
        }
    }
    if !ids.contains(&meta.current) {
        return Err(Error::malformed("metadata current version is not listed"));
    }
    check_title(&meta.title)?;
    sort_entries(&mut meta.versions);
    meta.tags = normalize_tags(meta.tags.iter().map(String::as_str), MAX_TAGS_PER_PROMPT)?;
    Ok(())
}

/// Checks metadata about to be sealed: it must satisfy every rule and be in
/// normal form already, so what is sealed reads back unchanged.
///
/// # Errors
///
/// As [`normalize_meta`]; [`Error::Malformed`] if it is not in normal form
/// (a bug in the writer — the write is refused rather than stored).
pub(crate) fn check_meta(meta: &Meta) -> Result<()> {
    let mut normal = meta.clone();
    normalize_meta(&mut normal)?;
    if normal == *meta {
        Ok(())
    } else {
        Err(Error::malformed("metadata not in normal form"))
    }
}

/// The entries of one index segment (SPEC §6.4): 1 to [`SEGMENT_ENTRIES`],
/// strictly ascending in index order `(created, id)`.
///
/// # Errors
///
/// [`Error::Malformed`] otherwise.
pub(crate) fn check_segment(entries: &[IndexEntry]) -> Result<()> {
    if entries.is_empty() || entries.len() > SEGMENT_ENTRIES {
        return Err(Error::malformed("an index segment holds 1 to 64 entries"));
    }
    if entries.windows(2).any(|w| matches!(w, [a, b] if a >= b)) {
        return Err(Error::malformed("index segment entries out of order"));
    }
    Ok(())
}

/// The segment list of a stored metadata (SPEC §6.4): strictly ascending
/// by id bytes (so unique, and one encoding), no zero id, at most
/// [`MAX_SEGMENTS`].
///
/// # Errors
///
/// [`Error::LimitExceeded`] above [`MAX_SEGMENTS`] (the real count);
/// [`Error::Malformed`] otherwise.
pub(crate) fn check_segment_ids(ids: &[SegmentId]) -> Result<()> {
    if ids.len() > MAX_SEGMENTS {
        return Err(Error::too_large(
            "index segments of one prompt",
            MAX_SEGMENTS,
            ids.len(),
        ));
    }
    if ids.windows(2).any(|w| matches!(w, [a, b] if a >= b)) {
        return Err(Error::malformed("index segment ids not strictly ascending"));
    }
    if ids.iter().any(|s| s.as_bytes() == &[0; crate::ids::ID_LEN]) {
        return Err(Error::malformed("a zero index segment id"));
    }
    Ok(())
}

/// The whole index of a stored metadata (SPEC §6.4): its open tail and the
/// entries of every segment it lists, each segment already checked by
/// [`check_segment`]. A version may appear in one place only. The result
/// is brought to normal form by [`normalize_meta`] (tombstones, order,
/// limits).
///
/// # Errors
///
/// [`Error::Malformed`] for a version listed twice;
/// [`Error::LimitExceeded`] above [`MAX_MERGED_VERSIONS`] plus
/// [`MAX_TOMBSTONES`] entries (more than any reachable state holds, before
/// tombstoned entries are dropped).
pub(crate) fn resolve_index<'a>(
    tail: &[IndexEntry],
    segments: impl IntoIterator<Item = &'a [IndexEntry]>,
) -> Result<Vec<IndexEntry>> {
    const MAX: usize = MAX_MERGED_VERSIONS + MAX_TOMBSTONES;
    let over = |n: usize| Error::too_large("index entries of one prompt", MAX, n);
    let mut all: Vec<IndexEntry> = tail.to_vec();
    if all.len() > MAX {
        return Err(over(all.len()));
    }
    for s in segments {
        all.extend_from_slice(s);
        if all.len() > MAX {
            return Err(over(all.len()));
        }
    }
    let mut ids: HashSet<VersionId> = HashSet::with_capacity(all.len());
    for e in &all {
        if !ids.insert(e.id) {
            return Err(Error::malformed("metadata lists a version twice"));
        }
    }
    Ok(all)
}

/// Checks a stored metadata form about to be sealed, in time independent
/// of the history (SPEC §6.4): the current title, tags in normal form,
/// tombstones strictly ascending and capped, the open tail strictly
/// ascending with no tombstoned entry, the segment list as
/// [`check_segment_ids`], and `current` listed (`listed` answers whether
/// a version is in the index). The index it belongs to passed
/// [`check_meta`] and [`check_layout`] when it was built; an edit only
/// appends a fresh version to it.
///
/// # Errors
///
/// As [`check_title`], [`normalize_tags`] and [`check_segment_ids`];
/// [`Error::Malformed`] for a form not in normal form.
pub(crate) fn check_stored(view: &MetaView<'_>, listed: impl Fn(VersionId) -> bool) -> Result<()> {
    check_title(view.title)?;
    let tags = normalize_tags(view.tags.iter().map(String::as_str), MAX_TAGS_PER_PROMPT)?;
    if tags != view.tags {
        return Err(Error::malformed("metadata not in normal form"));
    }
    if view.deleted.len() > MAX_TOMBSTONES
        || view
            .deleted
            .windows(2)
            .any(|w| matches!(w, [a, b] if a >= b))
    {
        return Err(Error::malformed("metadata not in normal form"));
    }
    if view.tail.windows(2).any(|w| matches!(w, [a, b] if a >= b))
        || view
            .tail
            .iter()
            .any(|e| view.deleted.binary_search(&e.id).is_ok())
    {
        return Err(Error::malformed("metadata not in normal form"));
    }
    check_segment_ids(view.segments)?;
    if !listed(view.current) {
        return Err(Error::malformed("metadata current version is not listed"));
    }
    Ok(())
}

/// Checks the one version an edit adds to an index of `count` live
/// entries (`listed` answers whether a version is in it): not listed yet,
/// not tombstoned in `fields.deleted`, and the index stays within
/// [`MAX_MERGED_VERSIONS`]. With [`check_stored`], what an edit seals then
/// passes the full check, in time independent of the history.
///
/// # Errors
///
/// [`Error::Malformed`] for a listed or tombstoned id;
/// [`Error::LimitExceeded`] above the version limit.
pub(crate) fn check_new_entry(
    fields: &Meta,
    count: usize,
    entry: &IndexEntry,
    listed: impl Fn(VersionId) -> bool,
) -> Result<()> {
    if listed(entry.id) || fields.deleted.binary_search(&entry.id).is_ok() {
        return Err(Error::malformed("metadata lists a version twice"));
    }
    if count >= MAX_MERGED_VERSIONS {
        return Err(Error::too_large(
            "versions of one prompt",
            MAX_MERGED_VERSIONS,
            count + 1,
        ));
    }
    Ok(())
}

/// Checks that a layout — the open `tail` and the live entries of the
/// listed segments — holds exactly the entries of `meta`, each once, with
/// no tombstoned entry in the tail (a segment may keep a tombstoned entry
/// until it is compacted; readers drop it).
///
/// # Errors
///
/// [`Error::Malformed`] otherwise (a bug in the writer: the write is
/// refused rather than stored).
pub(crate) fn check_layout<'a>(
    meta: &Meta,
    tail: &[IndexEntry],
    segments: impl IntoIterator<Item = &'a [IndexEntry]>,
) -> Result<()> {
    let dead: HashSet<VersionId> = meta.deleted.iter().copied().collect();
    let mut held: Vec<IndexEntry> = tail.to_vec();
    if held.iter().any(|e| dead.contains(&e.id)) {
        return Err(Error::malformed("a tombstoned version in the index tail"));
    }
    for s in segments {
        held.extend(s.iter().filter(|e| !dead.contains(&e.id)));
    }
    held.sort_unstable();
    if held.windows(2).any(|w| matches!(w, [a, b] if a.id == b.id)) || held != meta.versions {
        let mut ids: Vec<VersionId> = held.iter().map(|e| e.id).collect();
        ids.sort_unstable();
        ids.dedup();
        if ids.len() != held.len() {
            return Err(Error::malformed("metadata lists a version twice"));
        }
        return Err(Error::malformed(
            "the index layout does not hold the metadata's entries",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_refuse_control_and_bidi_overrides() {
        for c in [
            '\u{0}', '\u{1b}', '\u{7f}', '\u{85}', '\u{9b}', '\u{202e}', '\u{2066}',
        ] {
            assert!(forbidden_in_label(c), "{c:?}");
            assert!(check_title(&format!("a{c}b")).is_err());
        }
        for c in ['a', ' ', '\u{200f}', '\u{200e}', '\u{61c}', 'ß'] {
            assert!(!forbidden_in_label(c), "{c:?}");
        }
    }

    fn entry(t: u64, b: u8) -> IndexEntry {
        IndexEntry {
            created: crate::ids::Timestamp(t),
            id: VersionId::from_bytes([b; 16]),
        }
    }

    #[test]
    fn segment_rules() {
        let full: Vec<IndexEntry> = (0..64u8).map(|i| entry(u64::from(i), i)).collect();
        check_segment(&full).unwrap();
        check_segment(&full[..1]).unwrap();
        assert!(check_segment(&[]).is_err());
        let mut over = full.clone();
        over.push(entry(99, 99));
        assert!(check_segment(&over).is_err());
        assert!(check_segment(&[entry(2, 1), entry(1, 2)]).is_err());
        assert!(check_segment(&[entry(1, 1), entry(1, 1)]).is_err());
        // Same time: ordered by id bytes.
        check_segment(&[entry(1, 1), entry(1, 2)]).unwrap();

        let ids: Vec<SegmentId> = (1..=3u8).map(|b| SegmentId::from_bytes([b; 16])).collect();
        check_segment_ids(&ids).unwrap();
        check_segment_ids(&[]).unwrap();
        assert!(check_segment_ids(&[ids[1], ids[0]]).is_err());
        assert!(check_segment_ids(&[ids[0], ids[0]]).is_err());
        assert!(check_segment_ids(&[SegmentId::from_bytes([0; 16])]).is_err());
        let many: Vec<SegmentId> = (0..=MAX_SEGMENTS)
            .map(|i| {
                let mut b = [1u8; 16];
                b[..8].copy_from_slice(&(i as u64).to_be_bytes());
                SegmentId::from_bytes(b)
            })
            .collect();
        assert_eq!(
            check_segment_ids(&many),
            Err(Error::LimitExceeded {
                what: "index segments of one prompt",
                limit: 128,
                actual: 129
            })
        );
    }

    #[test]
    fn a_version_in_two_places_is_refused() {
        let tail = [entry(1, 1)];
        let seg = [entry(2, 2), entry(3, 3)];
        assert_eq!(resolve_index(&tail, [&seg[..]]).unwrap().len(), 3);
        let twice = [entry(1, 1)];
        assert!(resolve_index(&tail, [&twice[..]]).is_err());
        assert!(resolve_index(&[], [&seg[..], &seg[..1]]).is_err());
        // The same id at another time is still the same version.
        assert!(resolve_index(&[entry(9, 2)], [&seg[..]]).is_err());
    }

    #[test]
    fn tag_count_is_the_real_distinct_count() {
        let many: Vec<String> = (0..65).map(|i| format!("t{i}")).collect();
        let err = normalize_tags(many.iter().map(String::as_str), 64).unwrap_err();
        assert_eq!(
            err,
            Error::LimitExceeded {
                what: "tags on one prompt",
                limit: 64,
                actual: 65
            }
        );
        let dup = ["Art", " art ", "ART", "Straße", "STRASSE"];
        assert_eq!(normalize_tags(dup, 64).unwrap(), ["Art", "Straße"]);
    }
}
