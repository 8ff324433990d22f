//! Sealing: record headers, storage keys, and the checked sealers of every
//! prompt record kind — metadata, versions, index segments, item keys —
//! plus the canonical JSON every sealed plaintext is.

use serde::Serialize;
use zeroize::Zeroizing;

use crate::error::Result;
use crate::format::{RecordHeader, RecordKind};
use crate::hazmat::Key;
use crate::header::KeyHeader;
use crate::ids::{ID_LEN, PromptId, SegmentId, VaultId, VersionId};
use crate::model::{IndexEntry, Meta, MetaView, VersionContent};
use crate::record::SealedRecord;
use crate::sealing;

use super::layout::Layout;

pub(crate) fn version_storage_key(prompt: PromptId, version: VersionId) -> String {
    crate::format::storage_key::version(prompt.as_bytes(), version.as_bytes())
}

pub(crate) fn header_record(header: &KeyHeader) -> Result<SealedRecord> {
    Ok(SealedRecord::from_parts(
        header.record,
        header.bytes.clone(),
    ))
}

pub(crate) fn item_key_storage_key(prompt: PromptId, generation: u32) -> String {
    crate::format::storage_key::item_key(prompt.as_bytes(), generation)
}

pub(crate) fn record_header(
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
pub(crate) fn segment_header(
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
