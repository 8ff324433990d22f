#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

pub mod error;
pub mod format;
pub mod hazmat;
pub mod inspect;
pub mod model;
pub mod protocol;
pub mod store;
pub mod tags;

mod export;
mod header;
mod ids;
mod kdf;
mod record;
mod recovery;
mod rng;
mod rules;
mod slot;
mod vault;

pub use error::{Error, ErrorCode, Result};
/// Writes an export file from a raw payload, bypassing the model rules: a
/// test hook for exports a buggy or hostile client could write. Not API.
#[doc(hidden)]
pub use export::unchecked_export_for_tests;
pub use export::{ImportReport, RefusedPrompt};
pub use format::{RecordHeader, RecordKind};
pub use header::Credential;
pub use ids::{ID_LEN, PromptId, Timestamp, VaultId, VersionId};
pub use kdf::{KdfParams, MAX_PASSWORD_LEN, Password, SALT_LEN};
pub use model::{Draft, PromptSummary, Version, VersionEntry};
pub use record::SealedRecord;
pub use recovery::RecoveryKey;
pub use store::MemoryStore;
pub use vault::Published;
pub use vault::sync::MAX_RECORDS_PER_BATCH;
pub use vault::{
    ArchivedFilter, Changeset, DamagedPrompt, DiffLine, DiffOp, MergeReport, NewVault, Query,
    SeenRevisions, TagCount, TagMode, Vault,
};
