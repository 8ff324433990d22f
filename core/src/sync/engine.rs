//! The steps of a sync: absorb pulled pages into an [`Inbox`], integrate it
//! into the vault and its store, prepare a commit of what the server lacks,
//! and record the commit's answer. Each step checks everything before it
//! changes anything, so a failed step leaves vault, store and state as
//! they were.

use std::collections::{BTreeMap, BTreeSet};

use super::error::{Misbehavior, SyncError};
use super::state::{Row, SyncState, digest};
use crate::error::Error;
use crate::format::{RecordKind, text};
use crate::ids::{PromptId, VaultId};
use crate::protocol::{CommitRequest, Delete, PullRequest, PullResponse, Put};
use crate::record::SealedRecord;
use crate::store::MemoryStore;
use crate::vault::checkpoint::Checkpoint;
use crate::vault::{Changeset, Vault};
use crate::{rng, vault::sync::MAX_RECORDS_PER_BATCH};

/// Storage key of the vault header.
const HEADER_KEY: &str = "h";
/// Storage key of the checkpoint (SPEC §12.10).
const CHECKPOINT_KEY: &str = "c";
/// Longest storage key a server may send (the longest of SPEC §5 is 68).
const MAX_KEY_LEN: usize = 128;

/// The rows pulled so far in one pull (one or more pages).
#[derive(Debug)]
pub struct Inbox {
    vault: VaultId,
    cursor: u64,
    full: bool,
    done: bool,
    rows: BTreeMap<String, (u64, Option<SealedRecord>)>,
    /// For tombstones: the revision of the record each deleted (SPEC §12.6).
    tomb_revisions: BTreeMap<String, u64>,
}

impl Inbox {
    /// The next page's request.
    #[must_use]
    pub fn request(&self, max_bytes: Option<u64>) -> PullRequest {
        PullRequest {
            after: self.cursor,
            max_bytes,
        }
    }

    /// Whether the pull is complete (the last page said `more: false`).
    #[must_use]
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// Rows pulled so far.
    #[must_use]
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether no row was pulled.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The vault header the server holds, if this pull brought it (always
    /// in a full pull of a registered vault).
    #[must_use]
    pub fn header(&self) -> Option<&SealedRecord> {
        self.rows.get(HEADER_KEY).and_then(|(_, r)| r.as_ref())
    }

    /// A newer vault header than `vault`'s, if the server holds one.
    #[must_use]
    pub fn newer_header(&self, vault: &Vault) -> Option<&SealedRecord> {
        match self.rows.get(HEADER_KEY) {
            Some((_, Some(h))) if h.header().revision() > vault.header_revision() => Some(h),
            _ => None,
        }
    }

    /// Takes one page. Returns whether another page must be pulled.
    ///
    /// # Errors
    ///
    /// [`SyncError::Server`] ([`Misbehavior::Protocol`]) for a page that
    /// breaks the protocol: rows out of order or beyond the cursor, a
    /// record that does not parse, sits under another key or belongs to
    /// another vault, a page that makes no progress, a start-over from 0.
    pub fn absorb(&mut self, page: PullResponse) -> Result<bool, SyncError> {
        if self.done {
            return Err(SyncError::protocol("a page after the last one"));
        }
        match page {
            PullResponse::StartOver { .. } => {
                if self.cursor == 0 {
                    return Err(SyncError::protocol("start-over from cursor 0"));
                }
                self.cursor = 0;
                self.full = true;
                self.rows.clear();
                self.tomb_revisions.clear();
                Ok(true)
            }
            PullResponse::Changes {
                changes,
                cursor,
                more,
            } => {
                if cursor < self.cursor || (more && cursor == self.cursor) {
                    return Err(SyncError::protocol(format!(
                        "page cursor {cursor} after {}",
                        self.cursor
                    )));
                }
                let mut last = self.cursor;
                for c in changes {
                    if c.seq <= self.cursor || c.seq > cursor || c.seq < last {
                        return Err(SyncError::protocol(format!(
                            "row {} at seq {} outside ({}, {cursor}]",
                            c.key, c.seq, self.cursor
                        )));
                    }
                    last = c.seq;
                    if c.key.is_empty() || c.key.len() > MAX_KEY_LEN || !c.key.is_ascii() {
                        return Err(SyncError::protocol("a malformed storage key"));
                    }
                    let record = match c.record {
                        None => None,
                        Some(t) => Some(self.check_record(&c.key, &t)?),
                    };
                    if self.rows.len() >= MAX_RECORDS_PER_BATCH && !self.rows.contains_key(&c.key) {
                        return Err(SyncError::Vault(Error::too_large(
                            "rows in one pull",
                            MAX_RECORDS_PER_BATCH,
                            self.rows.len() + 1,
                        )));
                    }
                    match (&record, c.revision) {
                        (None, Some(r)) => {
                            self.tomb_revisions.insert(c.key.clone(), r);
                        }
                        _ => {
                            self.tomb_revisions.remove(&c.key);
                        }
                    }
                    self.rows.insert(c.key, (c.seq, record));
                }
                self.cursor = cursor;
                self.done = !more;
                Ok(more)
            }
        }
    }

    fn check_record(&self, key: &str, text: &str) -> Result<SealedRecord, SyncError> {
        let r = SealedRecord::from_text(text)
            .map_err(|e| SyncError::protocol(format!("record under {key}: {e}")))?;
        let h = r.header();
        if h.vault_id() != self.vault {
            return Err(SyncError::protocol(format!(
                "record under {key} of another vault"
            )));
        }
        if matches!(
            h.kind(),
            RecordKind::ExportHeader | RecordKind::ExportPayload
        ) || r.storage_key() != key
        {
            return Err(SyncError::protocol(format!(
                "a {} record under {key}",
                h.kind().name()
            )));
        }
        Ok(r)
    }
}

/// What integrating a pull did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Integrated {
    /// The changes made to the local store (already applied to it).
    pub changes: Changeset,
    /// Rows pulled.
    pub rows: usize,
    /// Prompts new to this device.
    pub prompts_added: usize,
    /// Versions new to this device.
    pub versions_added: usize,
    /// Prompts whose metadata changed.
    pub metadata_updated: usize,
    /// Diverged metadata merged into a new revision.
    pub conflicts_resolved: usize,
    /// Prompts deleted on another device and deleted here.
    pub prompts_deleted: usize,
    /// Prompts another device changed after this one deleted them, or a
    /// merge that keeps a version this device deleted (nothing else of
    /// this pull was integrated then): their records must all be pulled
    /// again (the driver does a full pull).
    pub needs_full_pull: bool,
}

/// A commit to send, and what to record when it is accepted.
#[derive(Debug)]
pub struct Prepared {
    /// The request (its idempotency key makes resending it safe).
    pub request: CommitRequest,
    puts: Vec<(String, Row)>,
    deletes: Vec<String>,
    checkpoint_generation: Option<u32>,
}

impl Prepared {
    /// Records this commit writes.
    #[must_use]
    pub fn puts(&self) -> usize {
        self.puts.len()
    }

    /// Keys this commit deletes.
    #[must_use]
    pub fn deletes(&self) -> usize {
        self.deletes.len()
    }
}

/// Most records (puts and deletes) in one prepared commit.
pub const MAX_COMMIT_RECORDS: usize = 5_000;
/// Most record bytes in one prepared commit (more may follow).
pub const MAX_COMMIT_BYTES: usize = 12 << 20;

/// One prompt's share of a commit: records to put (with the `seq` seen
/// under their key) and keys to delete (likewise).
type Group<'a> = (Vec<(&'a SealedRecord, u64)>, Vec<(String, u64)>);

fn prompt_of_key(key: &str) -> Option<PromptId> {
    let rest = key
        .strip_prefix("m.")
        .or_else(|| key.strip_prefix("k."))
        .or_else(|| key.strip_prefix("v."))
        .or_else(|| key.strip_prefix("i."))?;
    rest.get(..32)?.parse().ok()
}

fn meta_prompts(rows: &BTreeMap<String, Row>) -> BTreeSet<PromptId> {
    rows.keys()
        .filter(|k| k.starts_with("m."))
        .filter_map(|k| prompt_of_key(k))
        .collect()
}

fn rollback(detail: String) -> SyncError {
    SyncError::server(Misbehavior::Rollback, detail)
}

fn list(ids: impl Iterator<Item = PromptId>) -> String {
    let ids: Vec<String> = ids.take(3).map(|p| p.to_hex()).collect();
    ids.join(", ")
}

impl SyncState {
    fn bind(&mut self, vault: &Vault) -> Result<(), SyncError> {
        match self.vault {
            Some(v) if v != vault.id() => Err(SyncError::Vault(Error::WrongVault)),
            _ => {
                self.vault = Some(vault.id());
                Ok(())
            }
        }
    }

    /// Starts a pull after this state's cursor.
    ///
    /// # Errors
    ///
    /// [`Error::WrongVault`] if this state belongs to another vault.
    pub fn begin_pull(&mut self, vault: &Vault) -> Result<Inbox, SyncError> {
        self.bind(vault)?;
        Ok(Inbox {
            vault: vault.id(),
            cursor: self.cursor,
            full: false,
            done: false,
            rows: BTreeMap::new(),
            tomb_revisions: BTreeMap::new(),
        })
    }

    /// Starts the first, full pull of a vault this device does not have
    /// yet (`vault`: the id the login answered). Open the vault from
    /// [`Inbox::header`], then [`SyncState::integrate`] the same inbox.
    ///
    /// # Errors
    ///
    /// [`Error::WrongVault`] if this state belongs to another vault.
    pub fn begin_download(&mut self, vault: VaultId) -> Result<Inbox, SyncError> {
        if self.vault.is_some_and(|v| v != vault) {
            return Err(SyncError::Vault(Error::WrongVault));
        }
        self.vault = Some(vault);
        Ok(Inbox {
            vault,
            cursor: 0,
            full: true,
            done: false,
            rows: BTreeMap::new(),
            tomb_revisions: BTreeMap::new(),
        })
    }

    /// Starts a pull of everything (cursor 0), as after a start-over.
    ///
    /// # Errors
    ///
    /// As [`SyncState::begin_pull`].
    pub fn begin_full_pull(&mut self, vault: &Vault) -> Result<Inbox, SyncError> {
        let mut inbox = self.begin_pull(vault)?;
        inbox.cursor = 0;
        inbox.full = true;
        Ok(inbox)
    }

    /// Integrates a complete pull: checks the server against what this
    /// client saw before and against the checkpoint, applies deletions of
    /// whole prompts made elsewhere, merges every other record
    /// ([`Vault::merge`]) and applies the result to `store`.
    ///
    /// # Errors
    ///
    /// [`SyncError::HeaderChanged`] when the server holds a newer header:
    /// reopen the vault with [`Inbox::newer_header`] and call again with the
    /// same inbox. [`SyncError::Server`] when the server hides a prompt the
    /// checkpoint lists, serves one it does not, or serves a record,
    /// checkpoint or cursor older than one seen before. [`SyncError::Vault`]
    /// for a record that does not authenticate or a limit. On any error
    /// nothing changed.
    ///
    /// # Security
    ///
    /// A server can always withhold the newest commits from a client that
    /// never saw them; what it cannot do undetected is go back on what this
    /// client saw, or serve a prompt set that contradicts the checkpoint.
    #[allow(clippy::too_many_lines)]
    pub fn integrate(
        &mut self,
        vault: &mut Vault,
        store: &mut MemoryStore,
        inbox: &Inbox,
    ) -> Result<Integrated, SyncError> {
        self.bind(vault)?;
        if !inbox.done || inbox.vault != vault.id() {
            return Err(SyncError::Vault(Error::invalid(
                "integrate needs a complete pull of this vault",
            )));
        }
        if !inbox.full && inbox.cursor < self.cursor {
            return Err(rollback(format!(
                "cursor {} after {}",
                inbox.cursor, self.cursor
            )));
        }
        if inbox.newer_header(vault).is_some() {
            return Err(SyncError::HeaderChanged);
        }

        // The server's rows after this pull.
        let old = &self.rows;
        let mut view = if inbox.full {
            BTreeMap::new()
        } else {
            old.clone()
        };
        for (key, (seq, rec)) in &inbox.rows {
            match rec {
                None => {
                    view.remove(key);
                }
                Some(r) => {
                    let revision = r.header().revision();
                    if let Some(prev) = old.get(key) {
                        if revision < prev.revision {
                            return Err(rollback(format!(
                                "{key} at revision {revision} after {}",
                                prev.revision
                            )));
                        }
                    }
                    view.insert(
                        key.clone(),
                        Row {
                            seq: *seq,
                            digest: digest(r.as_bytes()),
                            revision,
                            synced: false,
                        },
                    );
                }
            }
        }
        // In a full pull, rows the server no longer serves were deleted
        // (their tombstones purged): they are simply not in the view.

        // The checkpoint.
        let mut checkpoint_generation = self.checkpoint_generation;
        match view.get(CHECKPOINT_KEY) {
            None if self.checkpoint_seen > 0 => {
                return Err(rollback(format!(
                    "no checkpoint after revision {}",
                    self.checkpoint_seen
                )));
            }
            None => {}
            Some(row) => {
                if row.revision < self.checkpoint_seen {
                    return Err(rollback(format!(
                        "checkpoint revision {} after {}",
                        row.revision, self.checkpoint_seen
                    )));
                }
                let listed = match inbox.rows.get(CHECKPOINT_KEY) {
                    Some((_, Some(rec))) => {
                        let cp = vault.open_checkpoint(rec)?;
                        checkpoint_generation = rec.header().key_generation();
                        Some(cp.prompts)
                    }
                    // Unchanged since the last pull, which checked it: the
                    // set of prompts cannot have changed either.
                    _ => (!inbox.full).then(|| meta_prompts(old)),
                };
                let Some(listed) = listed else {
                    return Err(SyncError::protocol("a full pull without the checkpoint"));
                };
                let served = meta_prompts(&view);
                if let Some(p) = listed.difference(&served).next() {
                    return Err(SyncError::server(
                        Misbehavior::HiddenPrompt,
                        format!(
                            "checkpoint revision {} lists {} not served",
                            row.revision,
                            list(listed.difference(&served).copied().chain([*p]))
                        ),
                    ));
                }
                if served.difference(&listed).next().is_some() {
                    return Err(SyncError::server(
                        Misbehavior::UnlistedPrompt,
                        format!(
                            "{} served, not in checkpoint revision {}",
                            list(served.difference(&listed).copied()),
                            row.revision
                        ),
                    ));
                }
            }
        }

        // Prompts with a live row the pull did not bring (one pass: a
        // search of the whole view per prompt made a first download of
        // n prompts O(n²)).
        let incomplete: BTreeSet<PromptId> = view
            .keys()
            .filter(|k| !matches!(inbox.rows.get(*k), Some((_, Some(_)))))
            .filter_map(|k| prompt_of_key(k))
            .collect();

        // Decide prompt by prompt.
        let mut touched: BTreeMap<PromptId, Vec<&SealedRecord>> = BTreeMap::new();
        for (key, (_, rec)) in &inbox.rows {
            if let Some(p) = prompt_of_key(key) {
                let slot = touched.entry(p).or_default();
                if let Some(r) = rec {
                    slot.push(r);
                }
            }
        }
        if inbox.full {
            // A full pull serves live rows only: a prompt this client saw
            // and the pull does not bring was deleted (its tombstones
            // purged, SPEC §12.4 start-over) and is decided like one whose
            // tombstones arrived.
            for key in old.keys() {
                if let Some(p) = prompt_of_key(key) {
                    touched.entry(p).or_default();
                }
            }
        }
        let mut out = Integrated {
            rows: inbox.rows.len(),
            ..Integrated::default()
        };
        let mut changes = Changeset::default();
        let mut batch: Vec<&SealedRecord> = Vec::new();
        let mut deleted: Vec<PromptId> = Vec::new();
        for (prompt, records) in touched {
            let mkey = crate::format::storage_key::meta(prompt.as_bytes());
            let held = vault.holds_prompt(prompt);
            let before = old.get(&mkey);
            let Some(now) = view.get(&mkey) else {
                // Deleted on the server. Delete it here too unless it was
                // changed here since (then it comes back on the next push:
                // an offline edit is never lost).
                let unchanged = before.is_some_and(|b| {
                    b.synced
                        && store
                            .get(&mkey)
                            .is_some_and(|r| self.local.of(&mkey, r.as_bytes()) == b.digest)
                });
                if held && unchanged {
                    deleted.push(prompt);
                }
                continue;
            };
            if held {
                batch.extend(records);
                continue;
            }
            let deleted_here = before.is_some_and(|b| b.synced && b.seq == now.seq);
            if deleted_here {
                // Deleted here and not changed there: the push deletes it.
                continue;
            }
            let complete = !incomplete.contains(&prompt);
            if complete {
                batch.extend(records);
            } else {
                // Changed there after it was deleted here: the change wins,
                // and needs every record of the prompt.
                out.needs_full_pull = true;
            }
        }
        // Account records (the identity, space keys; SPEC §13.3) are merged
        // like any record (the merge keeps the one that supersedes); one
        // deleted there and unchanged here since is deleted here.
        let mut account_deletes: Vec<String> = Vec::new();
        let gone_keys: Vec<&String> = if inbox.full {
            old.keys().filter(|k| !view.contains_key(*k)).collect()
        } else {
            inbox
                .rows
                .iter()
                .filter(|(_, (_, r))| r.is_none())
                .map(|(k, _)| k)
                .collect()
        };
        for (key, (_, rec)) in &inbox.rows {
            if let (true, Some(r)) = (crate::vault::extras::is_extra_key(key), rec) {
                batch.push(r);
            }
        }
        for key in gone_keys {
            if !crate::vault::extras::is_extra_key(key) {
                continue;
            }
            let unchanged = old.get(key).is_some_and(|b| {
                b.synced
                    && store
                        .get(key)
                        .is_some_and(|r| self.local.of(key, r.as_bytes()) == b.digest)
            });
            if unchanged {
                account_deletes.push(key.clone());
            }
        }
        let header = inbox
            .rows
            .get(HEADER_KEY)
            .and_then(|(_, r)| r.as_ref())
            .filter(|h| {
                h.as_bytes() == vault.header_bytes()
                    && store.header_record().map(SealedRecord::as_bytes) != Some(h.as_bytes())
            });

        // Everything is checked; now change things. A failed merge leaves
        // the vault as it was and returns before the store is touched, so
        // it comes first: deleting a held prompt cannot fail.
        if !batch.is_empty() {
            let report = match vault.merge(batch.iter().map(|r| r.as_bytes())) {
                // A version the merged metadata keeps and neither this pull
                // nor the store holds: one this device deleted while another
                // deleted the rest (the merge keeps the last version, SPEC
                // §8). The server still serves it, so pull everything and
                // merge then; nothing has changed yet. In a full pull the
                // server does not hold it either: that is the error.
                Err(Error::MissingRecord { .. }) if !inbox.full => {
                    return Ok(Integrated {
                        needs_full_pull: true,
                        ..Integrated::default()
                    });
                }
                r => r?,
            };
            out.prompts_added = report.prompts_added;
            out.versions_added = report.versions_added;
            out.metadata_updated = report.metadata_updated;
            out.conflicts_resolved = report.conflicts_resolved;
            // The first changes of this step: taken whole.
            changes = report.changes;
        }
        for prompt in deleted {
            // Other prompts' keys than the merge's: nothing to dedup.
            let gone = vault.delete_prompt(prompt)?;
            changes.puts.extend(gone.puts);
            changes.deletes.extend(gone.deletes);
            out.prompts_deleted += 1;
        }
        for key in account_deletes {
            changes.extend(vault.remove_extra(&key));
        }
        if let Some(h) = header {
            changes.header = Some(h.clone());
        }
        store.apply(&changes);

        // Metadata kept here (it won the merge) at a revision not above the
        // server's different record: the server only takes a higher
        // revision (SPEC §12.6), so it is re-sealed above it, unchanged.
        // (Sealing fails only without randomness; the store then holds
        // what the vault does, and the next sync redoes this step.)
        let mut resealed = Changeset::default();
        for key in inbox.rows.keys().filter(|k| k.starts_with("m.")) {
            let (Some(row), Some(local), Some(prompt)) =
                (view.get(key), store.get(key), prompt_of_key(key))
            else {
                continue;
            };
            if local.header().revision() <= row.revision && digest(local.as_bytes()) != row.digest {
                resealed.extend(vault.reseal_meta_at(prompt, row.revision + 1)?);
            }
        }
        // Metadata kept here over a deletion elsewhere (an offline edit
        // wins): the server takes it only above the revision the tombstone
        // deleted, so no device that saw that revision reads the prompt
        // coming back as a rollback.
        for (key, rev) in &inbox.tomb_revisions {
            let (Some(local), Some(prompt)) = (store.get(key), prompt_of_key(key)) else {
                continue;
            };
            if key.starts_with("m.") && !view.contains_key(key) && local.header().revision() <= *rev
            {
                resealed.extend(vault.reseal_meta_at(prompt, rev + 1)?);
            }
        }
        store.apply(&resealed);
        changes.extend(resealed);

        // Tombstones under keys the store still holds (a prompt deleted
        // elsewhere and kept here): a put under such a key must name the
        // tombstone's `seq` as seen (SPEC §12.5).
        let mut tombstones = if inbox.full {
            BTreeMap::new()
        } else {
            self.tombstones.clone()
        };
        for (key, (seq, rec)) in &inbox.rows {
            if rec.is_none() {
                tombstones.insert(key.clone(), *seq);
            }
        }
        tombstones.retain(|k, _| !view.contains_key(k) && store.get(k).is_some());

        // What the store now agrees with.
        let local = &mut self.local;
        let mut local_digest = |key: &str| -> Option<super::state::Digest> {
            let rec = if key == HEADER_KEY {
                store.header_record()
            } else {
                store.get(key)
            };
            rec.map(|r| local.of(key, r.as_bytes()))
        };
        let mut changed: BTreeSet<String> =
            changes.puts.iter().map(SealedRecord::storage_key).collect();
        changed.extend(changes.deletes.iter().cloned());
        if changes.header.is_some() {
            changed.insert(HEADER_KEY.to_owned());
        }
        // Keys this step deleted here (versions the merged metadata
        // tombstones, prompts deleted elsewhere) are deletions to push
        // where the server still holds them: marked synced, they are.
        // Otherwise a version tombstoned here before the server's row
        // came back in a pull (a full pull, a start-over) would be marked
        // unsynced and stay on the server for ever.
        let dropped: BTreeSet<&String> = changes
            .deletes
            .iter()
            .filter(|k| store.get(k).is_none())
            .collect();
        for (key, row) in &mut view {
            let same = old
                .get(key)
                .filter(|o| o.digest == row.digest && o.seq == row.seq);
            row.synced = match same {
                _ if dropped.contains(key) => true,
                Some(o) if !changed.contains(key) => o.synced,
                _ => local_digest(key) == Some(row.digest),
            };
        }
        if let Some(c) = view.get(CHECKPOINT_KEY) {
            self.checkpoint_seen = self.checkpoint_seen.max(c.revision);
        }
        self.checkpoint_generation = checkpoint_generation;
        self.tombstones = tombstones;
        self.rows = view;
        self.cursor = inbox.cursor;
        out.changes = changes;
        Ok(out)
    }

    /// Prepares a commit of what the server lacks: every local record it
    /// does not hold byte for byte, deletions made here, and a new
    /// checkpoint when the set of prompts changes. At most
    /// [`MAX_COMMIT_RECORDS`] records and about [`MAX_COMMIT_BYTES`] bytes,
    /// whole prompts at a time; call again after
    /// [`SyncState::committed`] until it returns `None`.
    ///
    /// # Errors
    ///
    /// [`SyncError::Vault`] if the checkpoint cannot be sealed.
    pub fn prepare_commit(
        &mut self,
        vault: &Vault,
        store: &MemoryStore,
    ) -> Result<Option<Prepared>, SyncError> {
        self.bind(vault)?;
        // Candidate changes, grouped so a prompt's records travel together.
        let mut groups: BTreeMap<Option<PromptId>, Group<'_>> = BTreeMap::new();
        let rows = &self.rows;
        let tombstones = &self.tombstones;
        let local = &mut self.local;
        let seen = |key: &str| {
            rows.get(key)
                .map(|r| r.seq)
                .or_else(|| tombstones.get(key).copied())
                .unwrap_or(0)
        };
        let mut differs = |key: &str, r: &SealedRecord| {
            rows.get(key)
                .is_none_or(|row| row.digest != local.of(key, r.as_bytes()))
        };
        if let Some(h) = store.header_record() {
            if differs(HEADER_KEY, h) {
                groups
                    .entry(None)
                    .or_default()
                    .0
                    .push((h, seen(HEADER_KEY)));
            }
        }
        for (key, r) in store.entries() {
            if key != CHECKPOINT_KEY && differs(key, r) {
                groups
                    .entry(prompt_of_key(key))
                    .or_default()
                    .0
                    .push((r, seen(key)));
            }
        }
        for (key, row) in &self.rows {
            if key == HEADER_KEY || key == CHECKPOINT_KEY || !row.synced || store.get(key).is_some()
            {
                continue;
            }
            let prompt = prompt_of_key(key);
            if key.starts_with("m.") && prompt.is_some_and(|p| vault.holds_prompt(p)) {
                continue;
            }
            groups
                .entry(prompt)
                .or_default()
                .1
                .push((key.clone(), row.seq));
        }

        let mut puts: Vec<(String, Row, String, u64)> = Vec::new();
        let mut deletes: Vec<(String, u64)> = Vec::new();
        let mut bytes = 0usize;
        for (_, (p, d)) in groups {
            let size: usize = p.iter().map(|(r, _)| r.as_bytes().len()).sum();
            let count = p.len() + d.len();
            if !(puts.is_empty() && deletes.is_empty())
                && (bytes + size > MAX_COMMIT_BYTES
                    || puts.len() + deletes.len() + count > MAX_COMMIT_RECORDS)
            {
                break;
            }
            bytes += size;
            for (r, s) in p {
                puts.push((
                    r.storage_key(),
                    Row {
                        seq: 0,
                        digest: digest(r.as_bytes()),
                        revision: r.header().revision(),
                        synced: true,
                    },
                    r.to_text(),
                    s,
                ));
            }
            deletes.extend(d);
        }

        // The checkpoint: the server's prompt set after this commit.
        let before = meta_prompts(&self.rows);
        let mut after = before.clone();
        for (key, ..) in &puts {
            if let (true, Some(p)) = (key.starts_with("m."), prompt_of_key(key)) {
                after.insert(p);
            }
        }
        for (key, _) in &deletes {
            if let (true, Some(p)) = (key.starts_with("m."), prompt_of_key(key)) {
                after.remove(&p);
            }
        }
        let current = self.rows.get(CHECKPOINT_KEY);
        let mut checkpoint_generation = None;
        if current.is_none()
            || after != before
            || self.checkpoint_generation != vault.key_generation()
        {
            let revision = current.map_or(0, |c| c.revision).max(self.checkpoint_seen) + 1;
            let rec = vault.seal_checkpoint(&Checkpoint {
                revision,
                prompts: after,
            })?;
            checkpoint_generation = Some(vault.key_generation());
            puts.push((
                CHECKPOINT_KEY.to_owned(),
                Row {
                    seq: 0,
                    digest: digest(rec.as_bytes()),
                    revision,
                    synced: false,
                },
                rec.to_text(),
                current.map_or(0, |c| c.seq),
            ));
        }
        if puts.is_empty() && deletes.is_empty() {
            return Ok(None);
        }
        let request = CommitRequest {
            idempotency_key: text::encode(&rng::array::<18>()?),
            puts: puts
                .iter()
                .map(|(_, _, record, seen)| Put {
                    seen: *seen,
                    record: record.clone(),
                })
                .collect(),
            deletes: deletes
                .iter()
                .map(|(key, seen)| Delete {
                    key: key.clone(),
                    seen: *seen,
                })
                .collect(),
        };
        Ok(Some(Prepared {
            request,
            puts: puts.into_iter().map(|(k, row, ..)| (k, row)).collect(),
            deletes: deletes.into_iter().map(|(k, _)| k).collect(),
            checkpoint_generation,
        }))
    }

    /// Records an accepted commit: its rows are now on the server at
    /// `cursor`, byte for byte what this client holds. (A server that
    /// answers a wrong cursor gains nothing: the next pull brings the true
    /// rows, checked against these.)
    pub fn committed(&mut self, prepared: Prepared, cursor: u64) {
        for (key, mut row) in prepared.puts {
            row.seq = cursor;
            self.tombstones.remove(&key);
            if key == CHECKPOINT_KEY {
                self.checkpoint_seen = self.checkpoint_seen.max(row.revision);
            }
            self.rows.insert(key, row);
        }
        for key in prepared.deletes {
            self.rows.remove(&key);
        }
        if let Some(g) = prepared.checkpoint_generation {
            self.checkpoint_generation = g;
        }
        // Commits are numbered one by one: when this one directly follows
        // the cursor, nothing else came in between and the cursor moves on
        // (the next pull would only bring back these rows).
        if cursor == self.cursor + 1 {
            self.cursor = cursor;
        }
    }
}
