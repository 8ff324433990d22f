//! The sync checkpoint (SPEC §12.10): the exact set of prompts a sync
//! server holds, sealed under the vault key, so a client can tell when a
//! server hides a whole prompt or brings back a deleted one.
//!
//! Plaintext (RFC 8785 JSON): `{"prompts": "<base64url of the sorted
//! 16-byte prompt ids>"}`. The record is kind 8, storage key `c`, no prompt
//! or version id, revision ≥ 1 (the server refuses a revision that does not
//! go up), under the current vault key generation.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::Vault;
use super::seal::parse_json;
use crate::error::{Error, Result};
use crate::format::{RecordHeader, RecordKind, text};
use crate::ids::{ID_LEN, PromptId};
use crate::model::MAX_PROMPTS;
use crate::record::SealedRecord;
use crate::sealing;

/// The set of prompts a server must hold, at a revision.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Checkpoint {
    /// The record's revision (0: no checkpoint was ever written).
    pub(crate) revision: u64,
    /// Every prompt whose metadata the server holds.
    pub(crate) prompts: BTreeSet<PromptId>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Json {
    prompts: String,
}

impl Vault {
    /// Seals `prompts` as the checkpoint at `revision`, under the current
    /// vault key.
    ///
    /// # Errors
    ///
    /// [`Error::LimitExceeded`] over [`MAX_PROMPTS`]; [`Error::Randomness`].
    pub(crate) fn seal_checkpoint(&self, checkpoint: &Checkpoint) -> Result<SealedRecord> {
        if checkpoint.prompts.len() > MAX_PROMPTS {
            return Err(Error::too_large(
                "checkpoint prompts",
                MAX_PROMPTS,
                checkpoint.prompts.len(),
            ));
        }
        if checkpoint.revision == 0 {
            return Err(Error::invalid("a checkpoint revision starts at 1"));
        }
        let mut ids = Vec::with_capacity(checkpoint.prompts.len() * ID_LEN);
        for p in &checkpoint.prompts {
            ids.extend_from_slice(p.as_bytes());
        }
        let json = crate::format::json::to_canonical(&Json {
            prompts: text::encode(&ids),
        })?;
        let header = RecordHeader {
            kind: RecordKind::Checkpoint,
            key_gen: self.key_generation(),
            vault_id: self.id(),
            id1: [0; ID_LEN],
            id2: [0; ID_LEN],
            revision: checkpoint.revision,
            body_len: 0,
        };
        sealing::seal(self.vault_key_current(), header, &json)
    }

    /// Opens a checkpoint record of this vault.
    ///
    /// # Errors
    ///
    /// [`Error::Authentication`] for a record of another vault or kind, one
    /// no held vault key opens, or content that is not a canonical,
    /// strictly ascending list of ids (only a holder of the vault key can
    /// write one, so any of these is tampering).
    pub(crate) fn open_checkpoint(&self, record: &SealedRecord) -> Result<Checkpoint> {
        let h = record.header();
        if h.kind != RecordKind::Checkpoint || h.vault_id != self.id() {
            return Err(Error::Authentication);
        }
        let key = self.vault_key(h.key_gen).ok_or(Error::Authentication)?;
        let plain = sealing::open(key, record)?;
        let json: Json = parse_json(&plain, "checkpoint").map_err(|_| Error::Authentication)?;
        let ids = text::decode(&json.prompts).map_err(|_| Error::Authentication)?;
        if ids.len() % ID_LEN != 0 || ids.len() / ID_LEN > MAX_PROMPTS {
            return Err(Error::Authentication);
        }
        let mut prompts = BTreeSet::new();
        let mut last: Option<[u8; ID_LEN]> = None;
        for chunk in ids.chunks_exact(ID_LEN) {
            let mut id = [0u8; ID_LEN];
            id.copy_from_slice(chunk);
            if last.is_some_and(|l| l >= id) || id == [0; ID_LEN] {
                return Err(Error::Authentication);
            }
            last = Some(id);
            prompts.insert(PromptId::from_bytes(id));
        }
        Ok(Checkpoint {
            revision: h.revision,
            prompts,
        })
    }

    /// Whether this vault holds prompt `id` (healthy or damaged).
    pub(crate) fn holds_prompt(&self, id: PromptId) -> bool {
        self.prompts.contains_key(&id) || self.damaged.contains_key(&id)
    }
}
