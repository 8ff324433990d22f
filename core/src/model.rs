//! The prompt model: what a prompt's metadata and versions hold, and the
//! plain views the vault hands out. These are the plaintexts inside
//! `prompt-meta` and `prompt-version` records (JSON, see `SPEC.md`).
//!
//! Needs the `unlock` cargo feature (on by default).

pub(crate) mod index;
mod write;

pub(crate) use write::meta_json;

use serde::{Deserialize, Serialize};

use crate::ids::{PromptId, SegmentId, Timestamp, VersionId};

/// Longest title, in UTF-8 bytes (before JSON escaping).
pub const MAX_TITLE_LEN: usize = 1024;
/// Longest body, in UTF-8 bytes (1 MiB, before JSON escaping).
pub const MAX_BODY_LEN: usize = 1 << 20;
/// Longest note, in UTF-8 bytes (before JSON escaping).
pub const MAX_NOTE_LEN: usize = 64 * 1024;
/// Largest generation-settings JSON, in bytes of its canonical (RFC 8785) form.
pub const MAX_SETTINGS_LEN: usize = 64 * 1024;
/// Most tags on one prompt.
pub const MAX_TAGS_PER_PROMPT: usize = 64;
/// Longest tag, in characters.
pub const MAX_TAG_CHARS: usize = 64;
/// Most versions one prompt keeps (prune to add more).
pub const MAX_VERSIONS_PER_PROMPT: usize = 1000;
/// Most prompts in one vault.
pub const MAX_PROMPTS: usize = 1_000_000;
/// Most tombstones (deleted version ids) remembered per prompt.
pub const MAX_TOMBSTONES: usize = 4096;
/// Most versions of one prompt after a merge or an import (above the local
/// limit, so devices that each stayed under [`MAX_VERSIONS_PER_PROMPT`] can
/// always merge: up to four of them).
pub const MAX_MERGED_VERSIONS: usize = 4 * MAX_VERSIONS_PER_PROMPT;
/// Entries in a full segment of the version index (SPEC §6.4): a writer
/// moves the oldest 64 entries of the metadata's open tail into a new
/// `prompt-index` record whenever the tail holds 64.
pub const SEGMENT_ENTRIES: usize = crate::format::SEGMENT_ENTRIES;
/// Most index segments one metadata record lists: twice the full segments
/// of [`MAX_MERGED_VERSIONS`] versions, so merges may keep partial segments;
/// a writer that would list more compacts (SPEC §6.4).
pub const MAX_SEGMENTS: usize = 128;

/// A prompt's metadata as the model sees it (SPEC §6.1): every live
/// version's index entry, whether the stored record keeps it in its open
/// tail or in a sealed segment. This is the form the rules normalise,
/// merges compare and exports carry (SPEC §7); the stored form is
/// [`StoredMeta`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Meta {
    pub(crate) archived: bool,
    pub(crate) created: Timestamp,
    pub(crate) current: VersionId,
    /// Versions deleted by pruning, ascending by id, so a replayed record
    /// stays deleted.
    #[serde(with = "index::tombstones")]
    pub(crate) deleted: Vec<VersionId>,
    pub(crate) favorite: bool,
    /// Tags in the user's spelling (NFC), unique by folded key.
    pub(crate) tags: Vec<String>,
    /// The title of the current version (a copy; the version record is
    /// authoritative).
    pub(crate) title: String,
    pub(crate) updated: Timestamp,
    /// Every live version, ordered by (created, id).
    #[serde(with = "index::entries")]
    pub(crate) versions: Vec<IndexEntry>,
}

impl Meta {
    /// The stored form of this metadata with the given segment list and
    /// open tail, borrowed (SPEC §6.1).
    pub(crate) fn view<'a>(
        &'a self,
        segments: &'a [SegmentId],
        tail: &'a [IndexEntry],
    ) -> MetaView<'a> {
        MetaView {
            archived: self.archived,
            created: self.created,
            current: self.current,
            deleted: &self.deleted,
            favorite: self.favorite,
            segments,
            tags: &self.tags,
            title: &self.title,
            updated: self.updated,
            tail,
        }
    }

    /// A copy of every member but the index (left empty): what an edit
    /// that does not touch the index changes, without copying it.
    pub(crate) fn clone_fields(&self) -> Meta {
        Meta {
            archived: self.archived,
            created: self.created,
            current: self.current,
            deleted: self.deleted.clone(),
            favorite: self.favorite,
            tags: self.tags.clone(),
            title: self.title.clone(),
            updated: self.updated,
            versions: Vec::new(),
        }
    }
}

/// Plaintext of a `prompt-meta` record as stored (SPEC §6.1): the members
/// of [`Meta`], with `versions` holding only the open tail of the index and
/// `segments` the sealed segments holding the rest (SPEC §6.4). So an edit
/// re-seals at most 63 entries and 16 bytes per segment, whatever the
/// history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct StoredMeta {
    pub(crate) archived: bool,
    pub(crate) created: Timestamp,
    pub(crate) current: VersionId,
    #[serde(with = "index::tombstones")]
    pub(crate) deleted: Vec<VersionId>,
    pub(crate) favorite: bool,
    /// The index segments, strictly ascending by id bytes.
    #[serde(with = "index::segment_ids")]
    pub(crate) segments: Vec<SegmentId>,
    pub(crate) tags: Vec<String>,
    pub(crate) title: String,
    pub(crate) updated: Timestamp,
    /// The open tail of the index.
    #[serde(with = "index::entries")]
    pub(crate) versions: Vec<IndexEntry>,
}

impl StoredMeta {
    /// Borrowed, for the writer.
    pub(crate) fn view(&self) -> MetaView<'_> {
        MetaView {
            archived: self.archived,
            created: self.created,
            current: self.current,
            deleted: &self.deleted,
            favorite: self.favorite,
            segments: &self.segments,
            tags: &self.tags,
            title: &self.title,
            updated: self.updated,
            tail: &self.versions,
        }
    }

    /// The model's metadata, given every entry of the index (tail and
    /// segments, resolved by the reader).
    pub(crate) fn into_meta(self, versions: Vec<IndexEntry>) -> Meta {
        Meta {
            archived: self.archived,
            created: self.created,
            current: self.current,
            deleted: self.deleted,
            favorite: self.favorite,
            tags: self.tags,
            title: self.title,
            updated: self.updated,
            versions,
        }
    }
}

/// A stored metadata plaintext, borrowed from wherever its parts live: what
/// the writer ([`meta_json`]) and the stored-form rules read.
#[derive(Clone, Copy, Debug)]
pub(crate) struct MetaView<'a> {
    pub(crate) archived: bool,
    pub(crate) created: Timestamp,
    pub(crate) current: VersionId,
    pub(crate) deleted: &'a [VersionId],
    pub(crate) favorite: bool,
    pub(crate) segments: &'a [SegmentId],
    pub(crate) tags: &'a [String],
    pub(crate) title: &'a str,
    pub(crate) updated: Timestamp,
    pub(crate) tail: &'a [IndexEntry],
}

/// One version in the metadata's index: 16-byte id and creation time.
/// The derived order is the index order, `(created, id)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct IndexEntry {
    pub(crate) created: Timestamp,
    pub(crate) id: VersionId,
}

/// Largest canonical metadata plaintext any reachable state produces, in
/// bytes: the fixed members, a title of [`MAX_TITLE_LEN`] bytes all escaped
/// as `\u00xx` (6 bytes each), [`MAX_TAGS_PER_PROMPT`] tags of
/// [`MAX_TAG_CHARS`] 4-byte characters each escaped at most to twice its
/// size (tags hold no control characters), an open tail of
/// [`MAX_MERGED_VERSIONS`] entries (writers keep it under
/// [`SEGMENT_ENTRIES`]; only a store re-sealed right after an open that
/// adopted unlisted versions holds more), [`MAX_SEGMENTS`] segment ids and
/// [`MAX_TOMBSTONES`] tombstones in base64url.
pub const MAX_META_JSON: usize = 256
    + 6 * MAX_TITLE_LEN
    + MAX_TAGS_PER_PROMPT * (2 * 4 * MAX_TAG_CHARS + 3)
    + (MAX_MERGED_VERSIONS * index::ENTRY_LEN).div_ceil(3) * 4
    + (MAX_SEGMENTS * crate::ids::ID_LEN).div_ceil(3) * 4
    + (MAX_TOMBSTONES * crate::ids::ID_LEN).div_ceil(3) * 4;

/// Largest canonical version plaintext: every text field at its byte limit
/// and escaped at worst 6× (a control character as `\u00xx`), settings at
/// their limit (already JSON), and the fixed members.
pub const MAX_VERSION_JSON: usize =
    256 + 6 * (MAX_TITLE_LEN + MAX_BODY_LEN + MAX_NOTE_LEN) + MAX_SETTINGS_LEN;

const _: () = assert!(MAX_META_JSON <= crate::format::MAX_META_PLAINTEXT);
const _: () = assert!(MAX_VERSION_JSON <= crate::format::MAX_VERSION_PLAINTEXT);

/// A version in a prompt's history (no body), as [`crate::Vault::history`]
/// reads it from the version record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionEntry {
    /// The version id.
    pub id: VersionId,
    /// The version it was derived from, if any.
    pub parent: Option<VersionId>,
    /// When it was written.
    pub created: Timestamp,
    /// Its title.
    pub title: String,
}

/// Plaintext of a `prompt-version` record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct VersionContent {
    pub(crate) title: String,
    pub(crate) body: String,
    pub(crate) settings: Option<serde_json::Value>,
    pub(crate) note: String,
    pub(crate) created: Timestamp,
    pub(crate) parent: Option<VersionId>,
}

/// The content of a new version, as the caller gives it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct Draft {
    /// Title (required, non-empty).
    pub title: String,
    /// Body: the prompt text itself.
    pub body: String,
    /// Optional generation settings (model, seed, size…), free-form JSON.
    pub settings: Option<serde_json::Value>,
    /// A note about this version.
    pub note: String,
}

/// One version in full, as returned by [`crate::Vault::version`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Version {
    /// The version id.
    pub id: VersionId,
    /// The version it was derived from.
    pub parent: Option<VersionId>,
    /// When it was written.
    pub created: Timestamp,
    /// Title.
    pub title: String,
    /// Body.
    pub body: String,
    /// Generation settings.
    pub settings: Option<serde_json::Value>,
    /// Note.
    pub note: String,
}

/// A prompt as a list view sees it: metadata only, no body decrypted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PromptSummary {
    /// The prompt id.
    pub id: PromptId,
    /// Title of the current version.
    pub title: String,
    /// Tags in the user's spelling.
    pub tags: Vec<String>,
    /// Favorite flag.
    pub favorite: bool,
    /// Archived flag.
    pub archived: bool,
    /// The current version.
    pub current_version: VersionId,
    /// How many versions are kept.
    pub version_count: usize,
    /// Metadata revision.
    pub revision: u64,
    /// Creation time.
    pub created: Timestamp,
    /// Last change.
    pub updated: Timestamp,
}

#[cfg(test)]
mod tests;
