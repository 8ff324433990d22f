//! Export and import: one portable encrypted file with its own password.
//!
//! File = an `export-header` record (KDF parameters, salt, one password slot
//! wrapping a random export key, header seal) followed by one
//! `export-payload` record sealed under the export key, whose associated
//! data (its header) carries the export id — so the payload opens only with
//! its own header. The payload is JSON holding every prompt with its full
//! history, tags and flags, and the ids they have in the vault, so importing
//! the same file twice adds nothing.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::format::{self, RecordHeader, RecordKind};
use crate::hazmat::Key;
use crate::header::{Credential, HeaderBuilder, KeyHeader, SlotSource};
use crate::ids::{ID_LEN, PromptId, Timestamp, VaultId, VersionId};
use crate::kdf::{self, KdfParams, Password};
use crate::model::{IndexEntry, MAX_MERGED_VERSIONS, Meta, VersionContent};
use crate::record::{self, SealedRecord};
use crate::rng;
use crate::vault::{Changeset, Vault};

/// The export payload format tag.
const PAYLOAD_FORMAT: &str = "promptvault-export/1";

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Payload {
    format: String,
    prompts: Vec<ExportedPrompt>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExportedPrompt {
    id: PromptId,
    meta: Meta,
    versions: BTreeMap<VersionId, VersionContent>,
}

/// What an import did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ImportReport {
    /// Prompts that were new to this vault.
    pub prompts_added: usize,
    /// Versions that were new to this vault.
    pub versions_added: usize,
    /// The records to store.
    pub changes: Changeset,
}

impl Vault {
    /// Exports every prompt with its full history, tags and flags into one
    /// file encrypted under `password`.
    ///
    /// # Errors
    ///
    /// [`Error::Authentication`] if a stored version fails to open;
    /// [`Error::LimitExceeded`] above the export payload limit.
    pub fn export(&self, password: &Password, params: KdfParams) -> Result<Vec<u8>> {
        let mut prompts = Vec::with_capacity(self.prompts.len());
        for (id, p) in &self.prompts {
            let mut versions = BTreeMap::new();
            for (vid, rec) in &p.versions {
                versions.insert(*vid, self.open_version_record(p, rec)?);
            }
            prompts.push(ExportedPrompt {
                id: *id,
                meta: p.meta.clone(),
                versions,
            });
        }
        let payload = Payload {
            format: PAYLOAD_FORMAT.to_owned(),
            prompts,
        };
        let json = Zeroizing::new(crate::vault::to_json(&payload)?);
        let export_id = VaultId::generate()?;
        let export_key = Key::generate()?;
        let salt = rng::array()?;
        let kek = kdf::derive_kek(password, &salt, params)?;
        let header = HeaderBuilder {
            kind: RecordKind::ExportHeader,
            vault_id: export_id,
            key_gen: 1,
            revision: 0,
            kdf: params,
            salt,
            vk: &export_key,
        }
        .build(
            SlotSource::Wrap(&kek),
            SlotSource::Keep([0; format::COMMITTED_SLOT_LEN]),
            None,
        )?;
        let body = record::seal(
            &export_key,
            RecordHeader {
                kind: RecordKind::ExportPayload,
                key_gen: 1,
                vault_id: export_id,
                id1: [0; ID_LEN],
                id2: [0; ID_LEN],
                revision: 0,
                body_len: 0,
            },
            &json,
        )?;
        let mut out = header.bytes;
        out.extend_from_slice(body.as_bytes());
        Ok(out)
    }

    /// Imports an export file: new prompts are added under fresh item keys;
    /// for prompts already here, versions not yet present are added (and
    /// listed), while local metadata otherwise stays as it is. Importing the
    /// same file twice adds nothing.
    ///
    /// # Errors
    ///
    /// [`Error::Authentication`] for a wrong password or a modified file;
    /// [`Error::Malformed`] and friends for a file that is not an export;
    /// [`Error::KdfParamsOutOfBounds`] for a hostile header (before any KDF
    /// work). On error the vault is unchanged.
    pub fn import(
        &mut self,
        file: &[u8],
        password: &Password,
        now: Timestamp,
    ) -> Result<ImportReport> {
        let payload = open_export(file, password)?;
        let vault_id = self.id();
        let generation = self.key_generation();
        let mut report = ImportReport::default();
        let mut staged = Vec::new();
        for ep in payload.prompts {
            let mut incoming_meta = ep.meta;
            let mut state = match self.prompts.get(&ep.id) {
                Some(p) => p.clone(),
                None => {
                    let item = Key::generate()?;
                    report.changes.put_new(crate::vault::seal_item_key_with(
                        self.vault_key_current(),
                        vault_id,
                        ep.id,
                        generation,
                        &item,
                    )?);
                    report.prompts_added += 1;
                    let mut keys = BTreeMap::new();
                    keys.insert(generation, item);
                    incoming_meta
                        .versions
                        .retain(|e| ep.versions.contains_key(&e.id));
                    crate::vault::PromptState {
                        keys,
                        meta: Meta {
                            versions: Vec::new(),
                            ..incoming_meta.clone()
                        },
                        revision: 0,
                        meta_gen: generation,
                        versions: BTreeMap::new(),
                    }
                }
            };
            let dead: BTreeSet<VersionId> = state.meta.deleted.iter().copied().collect();
            let (kgen, item) = state.current_key()?;
            let item = item.clone();
            let mut added = false;
            for entry in &incoming_meta.versions {
                if state.versions.contains_key(&entry.id) || dead.contains(&entry.id) {
                    continue;
                }
                let content = ep
                    .versions
                    .get(&entry.id)
                    .ok_or(Error::malformed("export version missing"))?;
                if state.meta.versions.len() >= MAX_MERGED_VERSIONS {
                    return Err(Error::too_large(
                        "versions of one prompt",
                        MAX_MERGED_VERSIONS,
                        state.meta.versions.len() + 1,
                    ));
                }
                let rec =
                    crate::vault::seal_version(vault_id, ep.id, entry.id, kgen, &item, content)?;
                report.changes.put_new(rec.clone());
                state.versions.insert(entry.id, rec);
                // The version record is authoritative for its creation time.
                state.meta.versions.push(IndexEntry {
                    created: content.created,
                    id: entry.id,
                });
                report.versions_added += 1;
                added = true;
            }
            if !added {
                continue;
            }
            crate::vault::sync::sort_entries(&mut state.meta.versions);
            if !state
                .meta
                .versions
                .iter()
                .any(|e| e.id == state.meta.current)
            {
                if let Some(last) = state.meta.versions.last() {
                    state.meta.current = last.id;
                }
            }
            if !self.prompts.contains_key(&ep.id) {
                // A new prompt: its metadata's title is the current
                // version's, taken from the version itself.
                state.meta.title = ep
                    .versions
                    .get(&state.meta.current)
                    .ok_or(Error::malformed("export version missing"))?
                    .title
                    .clone();
            }
            if self.prompts.contains_key(&ep.id) {
                state.meta.updated = now;
            }
            state.revision = state
                .revision
                .checked_add(1)
                .ok_or(Error::invalid("revision overflow"))?;
            state.meta_gen = kgen;
            report.changes.put_new(crate::vault::seal_meta(
                vault_id,
                ep.id,
                kgen,
                &item,
                state.revision,
                &state.meta,
            )?);
            staged.push((ep.id, state));
        }
        for (id, state) in staged {
            self.prompts.insert(id, state);
        }
        Ok(report)
    }
}

fn open_export(file: &[u8], password: &Password) -> Result<Payload> {
    let (h, _, rest) = format::read::parse_prefix(file)?;
    if h.kind != RecordKind::ExportHeader {
        return Err(Error::WrongKind {
            found: h.kind as u8,
        });
    }
    let header_bytes = file
        .get(..h.total_len())
        .ok_or(Error::malformed("truncated"))?;
    let header = KeyHeader::parse(header_bytes, RecordKind::ExportHeader)?;
    let payload = SealedRecord::from_bytes(rest.to_vec())?;
    if payload.kind() != RecordKind::ExportPayload {
        return Err(Error::WrongKind {
            found: payload.kind() as u8,
        });
    }
    let unlocked = header.unlock(&Credential::Password(password))?;
    if payload.header().vault_id != h.vault_id {
        return Err(Error::Authentication);
    }
    let plain = record::open(&unlocked.vk, &payload)?;
    let parsed: Payload = crate::vault::parse_json(&plain, "export JSON")?;
    if parsed.format != PAYLOAD_FORMAT {
        return Err(Error::malformed("export payload format"));
    }
    Ok(parsed)
}
