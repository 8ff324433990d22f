//! The keyless API for servers: validate a record or header and read its
//! public routing fields without holding any key.
//!
//! A backend uses this to reject garbage, enforce quotas and index records
//! by id; it never decrypts anything and never needs a key.

use serde::Serialize;

use crate::error::{Error, Result};
use crate::format::{self, RecordKind};
use crate::ids::{PromptId, SegmentId, VaultId, VersionId};
use crate::kdf::KdfParams;
use crate::key_header::KeyHeader;

/// The public fields of a record, as a server sees them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct RecordInfo {
    /// The record kind, by name (`"prompt-version"`, …).
    pub kind: &'static str,
    /// The record kind byte.
    pub kind_code: u8,
    /// The vault (or export) it belongs to.
    pub vault_id: VaultId,
    /// The prompt, for item keys, metadata and versions.
    pub prompt_id: Option<PromptId>,
    /// The version, for version records.
    pub version_id: Option<VersionId>,
    /// The segment, for prompt-index records (absent from the JSON form for
    /// every other kind).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub segment_id: Option<SegmentId>,
    /// Key generation.
    pub key_generation: u32,
    /// Revision (headers and metadata; 0 otherwise).
    pub revision: u64,
    /// Total length in bytes.
    pub size: usize,
    /// Where a store keeps it.
    pub storage_key: String,
    /// KDF parameters, for vault and export headers (already bounds-checked).
    pub kdf: Option<KdfInfo>,
}

/// KDF parameters as reported by [`inspect`]: the one [`KdfParams`] type
/// (kept as a name for compatibility).
pub type KdfInfo = KdfParams;

/// Validates one record (binary form) and reports its public fields.
///
/// # Errors
///
/// A typed error naming what is wrong: [`Error::Malformed`],
/// [`Error::UnsupportedVersion`], [`Error::UnsupportedSuite`],
/// [`Error::WrongKind`], [`Error::LimitExceeded`],
/// [`Error::KdfParamsOutOfBounds`]. Authenticity cannot be checked without
/// a key and is not claimed.
pub fn inspect(bytes: &[u8]) -> Result<RecordInfo> {
    let (h, _) = format::read::parse_record(bytes)?;
    let kdf = match h.kind {
        RecordKind::VaultHeader | RecordKind::ExportHeader => {
            Some(KeyHeader::parse(bytes, h.kind)?.kdf)
        }
        _ => None,
    };
    Ok(RecordInfo {
        kind: h.kind.name(),
        kind_code: h.kind as u8,
        vault_id: h.vault_id,
        prompt_id: h.prompt_id(),
        version_id: h.version_id(),
        segment_id: h.segment_id(),
        key_generation: h.key_gen,
        revision: h.revision,
        size: bytes.len(),
        storage_key: h.storage_key(),
        kdf,
    })
}

/// As [`inspect`], for the base64url text form.
///
/// # Errors
///
/// [`Error::Encoding`] for text that is not canonical base64url, then as [`inspect`].
pub fn inspect_text(text: &str) -> Result<RecordInfo> {
    inspect(&format::text::decode(text)?)
}

/// Checks that `bytes` is a record of `vault` a server may accept as the
/// value stored under `storage_key` (quotas are the caller's).
///
/// # Errors
///
/// As [`inspect`]; [`Error::WrongVault`] for another vault's record;
/// [`Error::InvalidInput`] when the storage key does not match.
pub fn validate_for_store(bytes: &[u8], vault: VaultId, storage_key: &str) -> Result<RecordInfo> {
    let info = inspect(bytes)?;
    if info.vault_id != vault {
        return Err(Error::WrongVault);
    }
    if info.storage_key != storage_key {
        return Err(Error::invalid("the storage key does not match the record"));
    }
    Ok(info)
}
