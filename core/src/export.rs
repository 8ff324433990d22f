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

use crate::argon::{self, Password};
use crate::error::{Error, Result};
use crate::format::{self, RecordHeader, RecordKind};
use crate::hazmat::Key;
use crate::header::{Credential, HeaderBuilder, KeyHeader, SlotSource};
use crate::ids::{ID_LEN, PromptId, Timestamp, VaultId, VersionId};
use crate::kdf::KdfParams;
use crate::model::{IndexEntry, MAX_MERGED_VERSIONS, Meta, VersionContent};
use crate::record::SealedRecord;
use crate::rng;
use crate::rules;
use crate::sealing;
use crate::vault::layout::Layout;
use crate::vault::seal::{seal_item_key_with, seal_meta, seal_version, settle};
use crate::vault::state::{Damaged, PromptState};
use crate::vault::{Changeset, Vault};

/// The export payload format tag.
const PAYLOAD_FORMAT: &str = "promptvault-export/1";

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Payload<P> {
    format: String,
    prompts: Vec<P>,
}

/// An exported prompt as read, before its own members are parsed: a
/// prompt whose metadata or versions do not parse is refused alone
/// ([`ImportReport::refused`]), not the whole file.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPrompt {
    id: PromptId,
    meta: serde_json::Value,
    versions: serde_json::Value,
}

impl RawPrompt {
    fn parse(self) -> Result<ExportedPrompt> {
        let malformed = |_| Error::malformed("export prompt JSON");
        Ok(ExportedPrompt {
            id: self.id,
            meta: serde_json::from_value(self.meta).map_err(malformed)?,
            versions: serde_json::from_value(self.versions).map_err(malformed)?,
        })
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExportedPrompt {
    id: PromptId,
    meta: Meta,
    versions: BTreeMap<VersionId, VersionContent>,
}

/// What an import did. Serialises with camelCase names.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ImportReport {
    /// Prompts that were new to this vault.
    pub prompts_added: usize,
    /// Versions that were new to this vault.
    pub versions_added: usize,
    /// Prompts left out because they break a model rule that cannot be
    /// normalised (see `SPEC.md` §6.3); the rest of the file is imported.
    pub refused: Vec<RefusedPrompt>,
    /// The records to store.
    pub changes: Changeset,
}

/// A prompt of an export file that an import left out, and why.
/// Serialises as `{"promptId", "code", "message"}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct RefusedPrompt {
    /// The prompt id in the export.
    #[serde(rename = "promptId")]
    pub id: PromptId,
    /// The rule it breaks.
    #[serde(flatten)]
    pub reason: Error,
}

/// One prompt's import, staged: nothing of the vault changes until every
/// prompt of the file is staged.
struct StagedImport {
    state: PromptState,
    changes: Changeset,
    new: bool,
    versions_added: usize,
}

impl Vault {
    /// Exports every prompt with its full history, tags and flags into one
    /// file encrypted under `password`. Damaged prompts (see
    /// [`Vault::damaged_prompts`]) are exported as far as they are
    /// readable: their metadata as stored if it parses (else rebuilt from
    /// their versions), and every version whose content parses. A version
    /// of any prompt whose authentic content does not parse is left out.
    ///
    /// # Errors
    ///
    /// [`Error::Authentication`] if a stored version fails to open;
    /// [`Error::LimitExceeded`] above the export payload limit.
    pub fn export(&self, password: &Password, params: KdfParams) -> Result<Vec<u8>> {
        let mut prompts = Vec::with_capacity(self.prompts.len() + self.damaged.len());
        for (id, p) in &self.prompts {
            let mut versions = BTreeMap::new();
            for (vid, rec) in &p.versions {
                // Authentic content that does not parse is left out (the
                // import then drops its entry); tampering still fails. The
                // records are carried as they are: import derives the
                // metadata's copies from them (D4).
                match self.open_version_content(p, rec) {
                    Ok(content) => {
                        versions.insert(*vid, content);
                    }
                    Err(Error::Malformed { .. }) => {}
                    Err(e) => return Err(e),
                }
            }
            prompts.push(ExportedPrompt {
                id: *id,
                meta: p.meta.clone(),
                versions,
            });
        }
        for (id, d) in &self.damaged {
            if let Some(ep) = salvage(*id, d)? {
                prompts.push(ep);
            }
        }
        seal_payload(
            &Payload {
                format: PAYLOAD_FORMAT.to_owned(),
                prompts,
            },
            password,
            params,
        )
    }

    /// Imports an export file: new prompts are added under fresh item keys;
    /// for prompts already here, versions not yet present are added (and
    /// listed), while local metadata otherwise stays as it is. Importing the
    /// same file twice adds nothing.
    ///
    /// Every prompt goes through the model rules (`SPEC.md` §6.3): what can
    /// be normalised is (tags re-normalised and deduplicated, entries
    /// sorted, …); a prompt that still breaks a rule is left out and listed
    /// in [`ImportReport::refused`] with the reason. So an import never
    /// writes what [`Vault::open`] would refuse.
    ///
    /// # Errors
    ///
    /// [`Error::Authentication`] for a wrong password or a modified file;
    /// [`Error::Malformed`] and friends for a file that is not an export;
    /// [`Error::KdfParamsOutOfBounds`] for a hostile header (before any KDF
    /// work); [`Error::Randomness`]. On error the vault is unchanged.
    pub fn import(
        &mut self,
        file: &[u8],
        password: &Password,
        now: Timestamp,
    ) -> Result<ImportReport> {
        let payload = open_export(file, password)?;
        let mut report = ImportReport::default();
        let mut staged = Vec::new();
        let mut seen = BTreeSet::new();
        for raw in payload.prompts {
            let id = raw.id;
            if !seen.insert(id) {
                report.refused.push(RefusedPrompt {
                    id,
                    reason: Error::malformed("the export lists this prompt twice"),
                });
                continue;
            }
            match raw.parse().and_then(|ep| self.stage_import(ep, now)) {
                Ok(Some(s)) => {
                    report.prompts_added += usize::from(s.new);
                    report.versions_added += s.versions_added;
                    report.changes.puts.extend(s.changes.puts);
                    report.changes.deletes.extend(s.changes.deletes);
                    staged.push((id, s.state));
                }
                Ok(None) => {}
                Err(Error::Randomness) => return Err(Error::Randomness),
                Err(reason) => report.refused.push(RefusedPrompt { id, reason }),
            }
        }
        for (id, state) in staged {
            self.prompts.insert(id, state);
        }
        Ok(report)
    }

    /// Copies prompt `id` with its whole history, tags and flags into
    /// `target` under the same prompt id, as an import of a one-prompt
    /// export would (SPEC §7): the versions keep their ids, `target` seals
    /// them under its own keys. Returns `target`'s changeset.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] for a prompt this vault does not hold (healthy);
    /// [`Error::Authentication`] if a version fails to open; the rule a
    /// prompt breaks in `target` (as [`Vault::import`] reports it);
    /// [`Error::Randomness`]. On error `target` is unchanged.
    #[cfg(feature = "sharing")]
    pub(crate) fn copy_prompt_into(
        &self,
        id: PromptId,
        target: &mut Vault,
        now: Timestamp,
    ) -> Result<Changeset> {
        let p = self
            .prompts
            .get(&id)
            .ok_or(Error::NotFound { what: "prompt" })?;
        let mut versions = BTreeMap::new();
        for (vid, rec) in &p.versions {
            versions.insert(*vid, self.open_version_content(p, rec)?);
        }
        let ep = ExportedPrompt {
            id,
            meta: p.meta.clone(),
            versions,
        };
        match target.stage_import(ep, now)? {
            Some(staged) => {
                target.prompts.insert(id, staged.state);
                Ok(staged.changes)
            }
            None => Ok(Changeset::default()),
        }
    }

    /// Stages one exported prompt, or says which rule it breaks. `None`
    /// when it brings nothing new.
    fn stage_import(&self, ep: ExportedPrompt, now: Timestamp) -> Result<Option<StagedImport>> {
        if self.damaged.contains_key(&ep.id) {
            return Err(Error::invalid(
                "the prompt is damaged in this vault; remove it before importing it",
            ));
        }
        let ExportedPrompt {
            id,
            meta: mut incoming,
            versions: contents,
        } = ep;
        // A partial export: entries without content are left out, and
        // `current` falls back to the newest version kept, whose title the
        // metadata then takes from its content.
        incoming.versions.retain(|e| contents.contains_key(&e.id));
        // The version contents are authoritative (D4, SPEC §6.3): a
        // metadata copy that disagrees with one refuses the prompt, as a
        // reader would.
        for e in &incoming.versions {
            if let Some(c) = contents.get(&e.id) {
                rules::check_entry(&incoming, e, c)?;
            }
        }
        if !incoming.versions.iter().any(|e| e.id == incoming.current) {
            if let Some(newest) = incoming.versions.iter().max() {
                incoming.current = newest.id;
                if let Some(c) = contents.get(&newest.id) {
                    incoming.title.clone_from(&c.title);
                }
            }
        }
        rules::normalize_meta(&mut incoming)?;
        let vault_id = self.id();
        let mut changes = Changeset::default();
        let (mut state, new) = match self.prompts.get(&id) {
            Some(p) => (p.clone(), false),
            None => {
                let generation = self.key_generation();
                let item = Key::generate()?;
                changes.put_new(seal_item_key_with(
                    self.vault_key_current(),
                    vault_id,
                    id,
                    generation,
                    &item,
                )?);
                let mut keys = BTreeMap::new();
                keys.insert(generation, item);
                let state = PromptState {
                    stale: BTreeSet::new(),
                    keys,
                    meta: Meta {
                        versions: Vec::new(),
                        ..incoming.clone()
                    },
                    layout: Layout::default(),
                    strays: BTreeMap::new(),
                    revision: 0,
                    meta_gen: generation,
                    versions: BTreeMap::new(),
                };
                (state, true)
            }
        };
        let dead: BTreeSet<VersionId> = state.meta.deleted.iter().copied().collect();
        let fresh: Vec<&IndexEntry> = incoming
            .versions
            .iter()
            .filter(|e| !state.versions.contains_key(&e.id) && !dead.contains(&e.id))
            .collect();
        if fresh.is_empty() {
            return Ok(None);
        }
        let total = state.meta.versions.len() + fresh.len();
        if total > MAX_MERGED_VERSIONS {
            return Err(Error::too_large(
                "versions of one prompt",
                MAX_MERGED_VERSIONS,
                total,
            ));
        }
        let (kgen, item) = state.current_key()?;
        let item = item.clone();
        let versions_added = fresh.len();
        for entry in fresh {
            let content = contents
                .get(&entry.id)
                .ok_or(Error::malformed("export version missing"))?;
            let rec = seal_version(vault_id, id, entry.id, kgen, &item, content)?;
            changes.put_new(rec.clone());
            state.versions.insert(entry.id, rec);
            state.meta.versions.push(*entry);
            state.layout.tail.push(*entry);
        }
        rules::sort_entries(&mut state.meta.versions);
        rules::sort_entries(&mut state.layout.tail);
        // The new entries join the tail, cut into segments (SPEC §6.4).
        let layout = core::mem::take(&mut state.layout);
        let settled = settle(vault_id, id, kgen, &item, layout, &|v| {
            state.versions.contains_key(&v)
        })?;
        state.layout = settled.layout;
        state.strays.extend(settled.dropped);
        changes.puts.extend(settled.puts);
        changes.deletes.extend(settled.deletes);
        if !new {
            state.meta.updated = now;
        }
        state.revision = state
            .revision
            .checked_add(1)
            .ok_or(Error::invalid("revision overflow"))?;
        state.meta_gen = kgen;
        changes.put_new(seal_meta(
            vault_id,
            id,
            kgen,
            &item,
            state.revision,
            &state.meta,
            &state.layout,
        )?);
        changes.deletes.extend(state.take_stale(id));
        Ok(Some(StagedImport {
            state,
            changes,
            new,
            versions_added,
        }))
    }
}

/// What can be read of a damaged prompt, for export: its metadata if it
/// parses (else rebuilt from the versions), and every version whose content
/// parses. `None` when nothing is readable.
fn salvage(id: PromptId, d: &Damaged) -> Result<Option<ExportedPrompt>> {
    let open = |rec: &SealedRecord| -> Result<Zeroizing<Vec<u8>>> {
        let key = d
            .keys
            .get(&rec.header().key_gen)
            .ok_or(Error::Authentication)?;
        sealing::open(key, rec)
    };
    let mut versions = BTreeMap::new();
    for (vid, rec) in &d.versions {
        let plain = open(rec)?;
        if let Ok(content) = crate::vault::parse_json::<VersionContent>(&plain, "version JSON") {
            versions.insert(*vid, content);
        }
    }
    let plain = open(&d.meta)?;
    // The stored metadata with its index resolved from the segments held,
    // if all of it reads; else rebuilt from the versions.
    let stored = crate::vault::sync::parse_meta(&plain).ok().and_then(|m| {
        let mut segs = Vec::with_capacity(m.segments.len());
        for sid in &m.segments {
            let plain = open(d.segments.get(sid)?).ok()?;
            segs.push(crate::model::index::parse_segment(&plain).ok()?);
        }
        let all = rules::resolve_index(&m.versions, segs.iter().map(Vec::as_slice)).ok()?;
        Some(m.into_meta(all))
    });
    let meta = match stored {
        Some(m) => m,
        None => {
            let mut entries: Vec<IndexEntry> = versions
                .iter()
                .map(|(vid, c)| IndexEntry {
                    created: c.created,
                    id: *vid,
                })
                .collect();
            rules::sort_entries(&mut entries);
            let (Some(first), Some(last)) = (entries.first().copied(), entries.last().copied())
            else {
                return Ok(None);
            };
            let title = versions
                .get(&last.id)
                .map(|c| c.title.clone())
                .unwrap_or_default();
            Meta {
                archived: false,
                created: first.created,
                current: last.id,
                deleted: Vec::new(),
                favorite: false,
                tags: Vec::new(),
                title,
                updated: last.created,
                versions: entries,
            }
        }
    };
    Ok(Some(ExportedPrompt { id, meta, versions }))
}

/// Seals an export payload into an export file (header, then the payload
/// record under a fresh export key).
fn seal_payload<P: Serialize>(
    payload: &Payload<P>,
    password: &Password,
    params: KdfParams,
) -> Result<Vec<u8>> {
    let json = Zeroizing::new(crate::vault::to_json(payload)?);
    let export_id = VaultId::generate()?;
    let export_key = Key::generate()?;
    let salt = rng::array()?;
    let kek = argon::derive_kek(password, &salt, params)?;
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
    let body = sealing::seal(
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

/// Writes an export file whose payload is `payload_json` as given, with no
/// model rule applied: for tests that need an export a buggy or hostile
/// client could write. Not part of the API; the safe writer is
/// [`Vault::export`].
///
/// # Errors
///
/// As [`Vault::export`].
#[doc(hidden)]
pub fn unchecked_export_for_tests(
    payload_json: &[u8],
    password: &Password,
    params: KdfParams,
) -> Result<Vec<u8>> {
    // Any JSON: the writer below stores it in canonical form.
    let payload: Payload<serde_json::Value> =
        serde_json::from_slice(payload_json).map_err(|_| Error::malformed("export JSON"))?;
    seal_payload(&payload, password, params)
}

fn open_export(file: &[u8], password: &Password) -> Result<Payload<RawPrompt>> {
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
    let plain = sealing::open(&unlocked.vk, &payload)?;
    let parsed: Payload<RawPrompt> = crate::vault::parse_json(&plain, "export JSON")?;
    if parsed.format != PAYLOAD_FORMAT {
        return Err(Error::malformed("export payload format"));
    }
    Ok(parsed)
}
