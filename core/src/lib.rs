#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
// Without `unlock`, some crate-internal helpers of the keyless modules are
// used only by the unlocking code (the slots a parsed header holds, the
// header encoder...). Anything dead in the full build is still reported by
// the default build, which has every module.
#![cfg_attr(not(feature = "unlock"), allow(dead_code))]

// Keyless: always compiled. Nothing here derives, unwraps or holds a key
// or a plaintext.
pub mod error;
pub mod format;
pub mod inspect;
pub mod protocol;
pub mod share;

mod ids;
mod kdf;
mod key_header;
mod record;
mod rng;

// `unlock`: everything that derives, unwraps or holds a key or plaintext.
#[cfg(feature = "unlock")]
pub mod hazmat;
#[cfg(feature = "unlock")]
pub mod model;
#[cfg(feature = "unlock")]
pub mod store;
#[cfg(feature = "unlock")]
pub mod sync;
#[cfg(feature = "unlock")]
pub mod tags;

#[cfg(feature = "unlock")]
mod argon;
mod crockford;
#[cfg(feature = "unlock")]
mod export;
#[cfg(feature = "unlock")]
mod header;
#[cfg(feature = "unlock")]
mod recovery;
#[cfg(feature = "unlock")]
mod rules;
#[cfg(feature = "unlock")]
mod sealing;
#[cfg(feature = "unlock")]
mod slot;
#[cfg(feature = "unlock")]
mod unicode;
#[cfg(feature = "unlock")]
mod vault;

pub use error::{Error, ErrorCode, Result};
pub use format::{RecordHeader, RecordKind};
pub use ids::{ID_LEN, PromptId, SegmentId, Timestamp, VaultId, VersionId};
pub use kdf::{KdfParams, SALT_LEN};
pub use record::SealedRecord;

#[cfg(feature = "unlock")]
pub use argon::{MAX_PASSWORD_LEN, Password};
/// Writes an export file from a raw payload, bypassing the model rules: a
/// test hook for exports a buggy or hostile client could write. Not API.
#[cfg(feature = "unlock")]
#[doc(hidden)]
pub use export::unchecked_export_for_tests;
#[cfg(feature = "unlock")]
pub use export::{ImportReport, RefusedPrompt};
#[cfg(feature = "unlock")]
pub use header::Credential;
#[cfg(feature = "unlock")]
pub use model::{Draft, PromptSummary, Version, VersionEntry};
#[cfg(feature = "unlock")]
pub use recovery::RecoveryKey;
#[cfg(feature = "unlock")]
pub use store::MemoryStore;
#[cfg(feature = "unlock")]
pub use vault::Published;
#[cfg(feature = "unlock")]
pub use vault::sync::MAX_RECORDS_PER_BATCH;
#[cfg(feature = "unlock")]
pub use vault::{
    ArchivedFilter, Changeset, DamagedPrompt, DiffLine, DiffOp, MergeReport, NewVault, Query,
    SeenRevisions, TagCount, TagMode, Vault,
};
