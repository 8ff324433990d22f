//! The prompt model: what a prompt's metadata and versions hold, and the
//! plain views the vault hands out. These are the plaintexts inside
//! `prompt-meta` and `prompt-version` records (JSON, see `SPEC.md`).

use serde::{Deserialize, Serialize};

use crate::ids::{PromptId, Timestamp, VersionId};

/// Longest title, in bytes.
pub const MAX_TITLE_LEN: usize = 1024;
/// Longest body, in bytes (1 MiB).
pub const MAX_BODY_LEN: usize = 1 << 20;
/// Longest note, in bytes.
pub const MAX_NOTE_LEN: usize = 64 * 1024;
/// Largest generation-settings JSON, serialised, in bytes.
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

/// Plaintext of a `prompt-meta` record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Meta {
    pub(crate) created: Timestamp,
    pub(crate) updated: Timestamp,
    pub(crate) current: VersionId,
    /// Every live version, ordered by (created, id).
    pub(crate) versions: Vec<VersionEntry>,
    /// Tags in the user's spelling (NFC), unique by folded key.
    pub(crate) tags: Vec<String>,
    pub(crate) favorite: bool,
    pub(crate) archived: bool,
    /// Versions deleted by pruning, so a replayed record stays deleted.
    pub(crate) deleted: Vec<VersionId>,
}

/// A version as listed in the metadata (no body).
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
