//! The client's sync engine (SPEC §12.10), sans-IO: it turns server
//! answers into changes of a vault and its [`MemoryStore`], and local
//! changes into commits. No HTTP, no clock, no threads: the caller moves
//! the messages — a [`Transport`] for the blocking [`run`], or the
//! [`Machine`]'s steps one by one (a browser's `fetch`, an app's own HTTP
//! stack); `run` is a loop over the same machine.
//!
//! One sync is: pull every page after the cursor into an [`Inbox`];
//! [`SyncState::integrate`] it (checks, deletions, merge); then
//! [`SyncState::prepare_commit`] and send it: accepted →
//! [`SyncState::committed`] and prepare the next chunk; conflict → pull
//! and integrate again, then prepare anew. Persist the store and the
//! [`SyncState`] after each step that succeeded.
//!
//! Needs the `unlock` feature.

mod engine;
mod error;
mod machine;
mod state;

pub use engine::{Inbox, Integrated, MAX_COMMIT_BYTES, MAX_COMMIT_RECORDS, Prepared};
pub use error::{Misbehavior, SyncError};
pub use machine::{Answer, Machine, Request, Step, read_answer};
pub use state::{Row, SyncState};

use crate::protocol::{CommitRequest, CommitResponse, PullRequest, PullResponse};
use crate::store::MemoryStore;
use crate::vault::Vault;

/// Moves the messages of one sync. An implementation resends a request
/// after a network failure as it sees fit (a commit's idempotency key
/// makes that safe) and maps the server's typed refusals to
/// [`SyncError::Refused`].
pub trait Transport {
    /// `POST /v1/pull`.
    ///
    /// # Errors
    ///
    /// [`SyncError::Transport`] or [`SyncError::Refused`].
    fn pull(&mut self, request: &PullRequest) -> Result<PullResponse, SyncError>;

    /// `POST /v1/commit`.
    ///
    /// # Errors
    ///
    /// [`SyncError::Transport`] or [`SyncError::Refused`].
    fn commit(&mut self, request: &CommitRequest) -> Result<CommitResponse, SyncError>;

    /// Called after a commit met a conflict, before pulling again
    /// (`attempt` counts from 1): a place to back off with jitter, so
    /// clients racing for the same keys stop colliding in lockstep. The
    /// default returns at once (the core has no clock).
    fn conflicted(&mut self, _attempt: u32) {}

    /// Called after every step that changed the store or the state, so the
    /// caller can persist both (a crash then loses at most a step, which
    /// the next sync redoes). The default does nothing.
    ///
    /// # Errors
    ///
    /// Whatever persisting fails with; the sync stops.
    fn checkpoint(&mut self, _store: &MemoryStore, _state: &SyncState) -> Result<(), SyncError> {
        Ok(())
    }
}

/// Limits of one [`run`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Options {
    /// The page size to ask for (the server caps it).
    pub max_page_bytes: Option<u64>,
    /// Most commit attempts that meet a conflict before giving up.
    pub max_conflicts: u32,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            max_page_bytes: None,
            max_conflicts: 64,
        }
    }
}

/// What one [`run`] moved (serialised with camelCase names for the
/// bindings).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct SyncReport {
    /// Rows pulled (all pulls of the run).
    pub pulled: usize,
    /// Prompts new to this device.
    pub prompts_added: usize,
    /// Versions new to this device.
    pub versions_added: usize,
    /// Prompts whose metadata changed here.
    pub metadata_updated: usize,
    /// Diverged metadata merged into a new revision.
    pub conflicts_resolved: usize,
    /// Prompts deleted elsewhere and deleted here.
    pub prompts_deleted: usize,
    /// Records pushed.
    pub pushed: usize,
    /// Deletions pushed.
    pub deleted: usize,
    /// Commits accepted.
    pub commits: u32,
    /// Commits that met a conflict and were retried.
    pub conflicts: u32,
    /// Whether a full pull (cursor 0) was needed.
    pub full_pull: bool,
    /// The cursor at the end.
    pub cursor: u64,
}

impl SyncReport {
    /// Adds what a later run of the same sync moved (after the caller
    /// reopened the vault on [`SyncError::HeaderChanged`], say): counts
    /// add up, the cursor is the later one's.
    pub fn add_run(&mut self, later: &SyncReport) {
        self.pulled += later.pulled;
        self.prompts_added += later.prompts_added;
        self.versions_added += later.versions_added;
        self.metadata_updated += later.metadata_updated;
        self.conflicts_resolved += later.conflicts_resolved;
        self.prompts_deleted += later.prompts_deleted;
        self.pushed += later.pushed;
        self.deleted += later.deleted;
        self.commits += later.commits;
        self.conflicts += later.conflicts;
        self.full_pull |= later.full_pull;
        self.cursor = later.cursor;
    }

    fn add(&mut self, i: &Integrated) {
        self.pulled += i.rows;
        self.prompts_added += i.prompts_added;
        self.versions_added += i.versions_added;
        self.metadata_updated += i.metadata_updated;
        self.conflicts_resolved += i.conflicts_resolved;
        self.prompts_deleted += i.prompts_deleted;
    }
}

/// Pulls every page into `inbox` (from [`SyncState::begin_pull`],
/// [`SyncState::begin_full_pull`] or [`SyncState::begin_download`]).
///
/// # Errors
///
/// The transport's, and [`Inbox::absorb`]'s for a page that breaks the
/// protocol.
pub fn pull<T: Transport + ?Sized>(
    transport: &mut T,
    mut inbox: Inbox,
    options: Options,
) -> Result<Inbox, SyncError> {
    loop {
        let page = transport.pull(&inbox.request(options.max_page_bytes))?;
        if !inbox.absorb(page)? {
            return Ok(inbox);
        }
    }
}

/// One whole sync: pull and merge, then push until the server holds
/// everything this device has, retrying after conflicts.
///
/// # Errors
///
/// [`SyncError::HeaderChanged`]: reopen the vault with the server's newer
/// header (pull it with [`SyncState::begin_pull`] and
/// [`Inbox::newer_header`]) and run again. [`SyncError::Contention`] after
/// [`Options::max_conflicts`] conflicts in a row. Any other error of a step
/// or the transport. Steps that succeeded before the error stay done (and
/// were passed to [`Transport::checkpoint`]).
pub fn run<T: Transport + ?Sized>(
    vault: &mut Vault,
    store: &mut MemoryStore,
    state: &mut SyncState,
    transport: &mut T,
    options: Options,
) -> Result<SyncReport, SyncError> {
    let (mut machine, mut step) = Machine::start(vault, state, options)?;
    loop {
        match step {
            Step::Send {
                request,
                persist,
                backoff,
            } => {
                if persist {
                    transport.checkpoint(store, state)?;
                }
                if let Some(attempt) = backoff {
                    transport.conflicted(attempt);
                }
                let answer = match &request {
                    Request::Pull(r) => Answer::Pull(transport.pull(r)?),
                    Request::Commit(r) => Answer::Commit(transport.commit(r)?),
                };
                step = machine.resume(vault, store, state, answer)?;
            }
            Step::Done { report, persist } => {
                if persist {
                    transport.checkpoint(store, state)?;
                }
                return Ok(report);
            }
        }
    }
}
