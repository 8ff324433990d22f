//! The unlocked vault: key hierarchy, credentials, rotation, and the prompt
//! state decrypted in memory.
//!
//! ```text
//! password ──NFC──▶ Argon2id ──▶ KEK ─┐
//! recovery key ───────────────────────┴─ wraps ─▶ vault key (VK, per generation)
//!                                                   │ wraps
//!                                                   ▼
//!                                        item key per prompt and generation
//!                                                   │ seals
//!                                                   ▼
//!                                        prompt metadata + every version
//! ```
//!
//! The modules, by what they hold:
//! - `keys`: the key lifecycle — create, open, credentials;
//! - `rotation`: key rotation and its completion;
//! - `seal`: sealing records — headers, storage keys, the checked
//!   sealers of every prompt record kind, canonical JSON;
//! - `unlocked`: the `Vault` itself, what it reports and the records
//!   it holds;
//! - `state`: the decrypted prompt state and damaged prompts;
//! - `prompts`, `query`: prompt operations and read-only views;
//! - `sync`: ingesting records (open and merge); `layout`: index
//!   segments; `checkpoint`: the sealed list of prompts; `changeset`:
//!   what a mutation asks the store to do.

mod changeset;
pub(crate) mod checkpoint;
pub(crate) mod extras;
mod keys;
pub(crate) mod layout;
mod prompts;
mod query;
mod rotation;
pub(crate) mod seal;
pub(crate) mod state;
pub(crate) mod sync;
mod test_hooks;
#[cfg(test)]
mod tests;
mod unlocked;

pub use changeset::Changeset;
pub use keys::NewVault;
pub use prompts::Published;
pub use query::{ArchivedFilter, DiffLine, DiffOp, Query, TagCount, TagMode};
pub(crate) use seal::{parse_json, to_json};
pub use state::{DamagedPrompt, SeenRevisions};
pub use sync::MergeReport;
pub use unlocked::Vault;
