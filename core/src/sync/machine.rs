//! One whole sync as a sans-IO state machine: [`Machine::start`] gives the
//! first request, [`Machine::resume`] takes the server's answer and gives
//! the next, until [`Step::Done`]. This is what a caller without blocking
//! I/O drives (a browser's `fetch`, an app's own HTTP stack through the C
//! ABI); the blocking [`super::run`] is a loop over it.

use serde::de::DeserializeOwned;

use super::engine::{Inbox, Prepared};
use super::error::SyncError;
use super::state::SyncState;
use super::{Options, SyncReport};
use crate::error::Error;
use crate::protocol::{CommitRequest, CommitResponse, ErrorResponse, PullRequest, PullResponse};
use crate::store::MemoryStore;
use crate::vault::Vault;

/// A request for the server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Request {
    /// `POST /v1/pull`.
    Pull(PullRequest),
    /// `POST /v1/commit` (its idempotency key makes resending it safe).
    Commit(CommitRequest),
}

/// The server's answer to a [`Request`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answer {
    /// The answer to [`Request::Pull`].
    Pull(PullResponse),
    /// The answer to [`Request::Commit`] (a conflict is an answer too).
    Commit(CommitResponse),
}

impl Request {
    /// The HTTP method of every request.
    pub const METHOD: &'static str = "POST";

    /// The path under the server's base URL: `/v1/pull` or `/v1/commit`.
    #[must_use]
    pub fn path(&self) -> &'static str {
        match self {
            Request::Pull(_) => "/v1/pull",
            Request::Commit(_) => "/v1/commit",
        }
    }

    /// The JSON body (`Content-Type: application/json`).
    #[must_use]
    pub fn body(&self) -> String {
        let json = match self {
            Request::Pull(r) => serde_json::to_string(r),
            Request::Commit(r) => serde_json::to_string(r),
        };
        // Plain structs of strings and integers: serialising cannot fail.
        json.unwrap_or_default()
    }
}

impl Answer {
    /// Reads the server's HTTP answer to `request` (SPEC §12): a 200 with
    /// the answer's JSON, or for a commit a 409 with the conflict.
    ///
    /// # Errors
    ///
    /// [`SyncError::Refused`] for the server's typed refusal (SPEC §12.9;
    /// a 401 `unauthorized` means: log in again and resend the request).
    /// [`SyncError::Transport`] for a 5xx (send again later) or an answer
    /// that is not the protocol's.
    pub fn from_http(request: &Request, status: u16, body: &[u8]) -> Result<Answer, SyncError> {
        let answer = match (request, status) {
            (Request::Pull(_), 200) => serde_json::from_slice(body).ok().map(Answer::Pull),
            (Request::Commit(_), 200 | 409) => {
                serde_json::from_slice(body).ok().map(Answer::Commit)
            }
            _ => None,
        };
        match answer {
            Some(a) => Ok(a),
            None => Err(refusal(status, body)),
        }
    }
}

/// Reads the server's HTTP answer to a call outside the sync loop (SPEC
/// §12: a login or a registration answers a `SessionResponse`, a rekey a
/// `PreLoginResponse`, an account deletion a `DeleteAccountResponse`): a
/// 200 with `T`'s JSON.
///
/// # Errors
///
/// As [`Answer::from_http`]: [`SyncError::Refused`] for the server's typed
/// refusal (a wrong password is a 401 `authentication_failed`),
/// [`SyncError::Transport`] for a 5xx or an answer outside the protocol.
pub fn read_answer<T: DeserializeOwned>(status: u16, body: &[u8]) -> Result<T, SyncError> {
    if status == 200 {
        if let Ok(answer) = serde_json::from_slice(body) {
            return Ok(answer);
        }
    }
    Err(refusal(status, body))
}

/// The error for an HTTP answer that is not the one expected.
fn refusal(status: u16, body: &[u8]) -> SyncError {
    if status >= 500 {
        return SyncError::Transport(format!(
            "HTTP {status} from the server: send the request again later"
        ));
    }
    match serde_json::from_slice::<ErrorResponse>(body) {
        Ok(e) if status >= 400 => SyncError::Refused {
            status,
            code: e.error.code,
            message: e.error.message,
        },
        _ => SyncError::Transport(format!(
            "HTTP {status} with an answer that is not the protocol's"
        )),
    }
}

/// What the caller does next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// Send `request` and hand the answer to [`Machine::resume`].
    Send {
        /// The request.
        request: Request,
        /// The store and the [`SyncState`] changed since the last step:
        /// persist both first (a crash then loses at most this step, which
        /// the next sync redoes).
        persist: bool,
        /// After the `n`-th conflict in a row: wait first (with jitter), so
        /// clients racing for the same keys stop colliding in lockstep.
        backoff: Option<u32>,
    },
    /// The sync is over: persist the store and the state if `persist`.
    Done {
        /// What moved.
        report: SyncReport,
        /// As in [`Step::Send`].
        persist: bool,
    },
}

enum Phase {
    /// Pages of a pull arrive; `full` once a full pull was started.
    Pulling { inbox: Inbox, full: bool },
    /// A commit is out.
    Committing(Box<Prepared>),
    /// Ended (done or failed): any answer is out of place.
    Over,
}

/// One sync in progress.
pub struct Machine {
    options: Options,
    phase: Phase,
    report: SyncReport,
}

impl core::fmt::Debug for Machine {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let phase = match self.phase {
            Phase::Pulling { full, .. } => {
                if full {
                    "full pull"
                } else {
                    "pull"
                }
            }
            Phase::Committing(_) => "commit",
            Phase::Over => "over",
        };
        f.debug_struct("Machine")
            .field("phase", &phase)
            .field("report", &self.report)
            .finish_non_exhaustive()
    }
}

impl Machine {
    /// Starts a sync: the first step is a pull after the state's cursor.
    ///
    /// # Errors
    ///
    /// As [`SyncState::begin_pull`].
    pub fn start(
        vault: &Vault,
        state: &mut SyncState,
        options: Options,
    ) -> Result<(Machine, Step), SyncError> {
        let inbox = state.begin_pull(vault)?;
        let step = Step::Send {
            request: Request::Pull(inbox.request(options.max_page_bytes)),
            persist: false,
            backoff: None,
        };
        let machine = Machine {
            options,
            phase: Phase::Pulling { inbox, full: false },
            report: SyncReport::default(),
        };
        Ok((machine, step))
    }

    /// Takes the answer to the last [`Step::Send`] and gives the next step.
    /// `vault`, `store` and `state` must be the ones of [`Machine::start`].
    ///
    /// # Errors
    ///
    /// [`SyncError::HeaderChanged`]: reopen the vault with the server's
    /// newer header and start again. [`SyncError::Contention`] after
    /// [`Options::max_conflicts`] conflicts in a row. A page or answer that
    /// breaks the protocol, a misbehaving server, a vault error: as
    /// [`Inbox::absorb`], [`SyncState::integrate`] and
    /// [`SyncState::prepare_commit`]. An answer of the wrong kind, or any
    /// answer after the machine ended, is the caller's mistake:
    /// [`SyncError::Vault`] with `INVALID_INPUT`. After an error the machine
    /// has ended; what earlier steps did stays done.
    pub fn resume(
        &mut self,
        vault: &mut Vault,
        store: &mut MemoryStore,
        state: &mut SyncState,
        answer: Answer,
    ) -> Result<Step, SyncError> {
        let phase = core::mem::replace(&mut self.phase, Phase::Over);
        match (phase, answer) {
            (Phase::Pulling { mut inbox, full }, Answer::Pull(page)) => {
                if inbox.absorb(page)? {
                    let request = Request::Pull(inbox.request(self.options.max_page_bytes));
                    self.phase = Phase::Pulling { inbox, full };
                    return Ok(Step::Send {
                        request,
                        persist: false,
                        backoff: None,
                    });
                }
                let done = state.integrate(vault, store, &inbox)?;
                self.report.add(&done);
                if done.needs_full_pull && !full {
                    self.report.full_pull = true;
                    let inbox = state.begin_full_pull(vault)?;
                    let request = Request::Pull(inbox.request(self.options.max_page_bytes));
                    self.phase = Phase::Pulling { inbox, full: true };
                    return Ok(Step::Send {
                        request,
                        persist: true,
                        backoff: None,
                    });
                }
                self.next_commit(vault, store, state)
            }
            (Phase::Committing(prepared), Answer::Commit(CommitResponse::Accepted { cursor })) => {
                self.report.pushed += prepared.puts();
                self.report.deleted += prepared.deletes();
                self.report.commits += 1;
                state.committed(*prepared, cursor);
                self.next_commit(vault, store, state)
            }
            (Phase::Committing(_), Answer::Commit(CommitResponse::Conflict { .. })) => {
                self.report.conflicts += 1;
                if self.report.conflicts >= self.options.max_conflicts {
                    return Err(SyncError::Contention {
                        attempts: self.report.conflicts,
                    });
                }
                // The conflict's rows are a subset of what changed; a pull
                // brings all of it, so the checkpoint can be checked.
                let inbox = state.begin_pull(vault)?;
                let request = Request::Pull(inbox.request(self.options.max_page_bytes));
                self.phase = Phase::Pulling { inbox, full: false };
                Ok(Step::Send {
                    request,
                    persist: false,
                    backoff: Some(self.report.conflicts),
                })
            }
            // The caller's mistakes, not the server's.
            (Phase::Over, _) => Err(SyncError::Vault(Error::invalid(
                "an answer after the sync ended",
            ))),
            _ => Err(SyncError::Vault(Error::invalid(
                "an answer of another kind than the request",
            ))),
        }
    }

    /// The next commit, or the end.
    fn next_commit(
        &mut self,
        vault: &Vault,
        store: &MemoryStore,
        state: &mut SyncState,
    ) -> Result<Step, SyncError> {
        match state.prepare_commit(vault, store)? {
            Some(mut prepared) => {
                // Moved, not copied (a first upload's commits are ~12 MiB
                // each): `committed` needs only what the commit wrote.
                let request = Request::Commit(core::mem::replace(
                    &mut prepared.request,
                    CommitRequest {
                        idempotency_key: String::new(),
                        puts: Vec::new(),
                        deletes: Vec::new(),
                    },
                ));
                self.phase = Phase::Committing(Box::new(prepared));
                Ok(Step::Send {
                    request,
                    persist: true,
                    backoff: None,
                })
            }
            None => {
                self.report.cursor = state.cursor();
                Ok(Step::Done {
                    report: self.report.clone(),
                    persist: true,
                })
            }
        }
    }
}
