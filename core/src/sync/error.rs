//! What can stop a sync, typed so a caller can tell a hostile server from
//! a network fault from a vault problem.

use core::fmt;

use crate::error::{Error, ErrorCode};

/// Why a server is not to be trusted for this sync (see SPEC §12.10).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Misbehavior {
    /// The checkpoint lists a prompt the server does not serve: the server
    /// is hiding it.
    HiddenPrompt,
    /// The server serves a prompt the checkpoint does not list: a deleted
    /// prompt brought back, or one written behind the checkpoint's back.
    UnlistedPrompt,
    /// A record, the checkpoint or the cursor went below one this client
    /// saw from the server before.
    Rollback,
    /// An answer that breaks the protocol (rows out of order, a record
    /// under the wrong key or of another vault, a malformed record).
    Protocol,
}

/// A failed sync. The local vault and store are unchanged by the step that
/// failed (every step stages its result first).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SyncError {
    /// The core refused: a record that does not authenticate (the opaque
    /// [`Error::Authentication`]), a limit, a local rollback.
    Vault(Error),
    /// The server misbehaved; nothing was pushed over it.
    Server {
        /// What it did.
        what: Misbehavior,
        /// Details for a log (storage keys, revisions; never secrets).
        detail: String,
    },
    /// The server answered with a typed refusal (SPEC §12.9).
    Refused {
        /// HTTP status.
        status: u16,
        /// The stable code.
        code: String,
        /// The server's message.
        message: String,
    },
    /// The transport failed (connection, timeout, a non-protocol answer).
    Transport(String),
    /// Every commit attempt met a conflict; try again later.
    Contention {
        /// How many commits were tried.
        attempts: u32,
    },
    /// The server holds a newer vault header (a password change or a
    /// rotation on another device): reopen the vault with it, then sync.
    HeaderChanged,
}

impl SyncError {
    pub(crate) fn server(what: Misbehavior, detail: impl Into<String>) -> Self {
        SyncError::Server {
            what,
            detail: detail.into(),
        }
    }

    pub(crate) fn protocol(detail: impl Into<String>) -> Self {
        Self::server(Misbehavior::Protocol, detail)
    }
}

impl SyncError {
    /// The stable code of this error, the one mapping every binding uses:
    /// a vault error keeps its own code, a server's rollback is
    /// [`ErrorCode::Rollback`], every other kind has its own code.
    #[must_use]
    pub const fn code(&self) -> ErrorCode {
        match self {
            SyncError::Vault(e) => e.code(),
            SyncError::Server {
                what: Misbehavior::Rollback,
                ..
            } => ErrorCode::Rollback,
            SyncError::Server { .. } => ErrorCode::ServerMisbehaved,
            SyncError::Refused { .. } => ErrorCode::ServerRefused,
            SyncError::Transport(_) => ErrorCode::Transport,
            SyncError::Contention { .. } => ErrorCode::Contention,
            SyncError::HeaderChanged => ErrorCode::HeaderChanged,
        }
    }
}

impl From<Error> for SyncError {
    fn from(e: Error) -> Self {
        SyncError::Vault(e)
    }
}

impl fmt::Display for SyncError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SyncError::Vault(e) => write!(f, "{e}"),
            SyncError::Server { what, detail } => {
                let what = match what {
                    Misbehavior::HiddenPrompt => "the server is hiding a prompt",
                    Misbehavior::UnlistedPrompt => {
                        "the server serves a prompt no device wrote (a deleted prompt brought back?)"
                    }
                    Misbehavior::Rollback => "the server served data older than it served before",
                    Misbehavior::Protocol => "the server broke the sync protocol",
                };
                write!(f, "{what} ({detail}); nothing was pushed")
            }
            SyncError::Refused {
                status,
                code,
                message,
            } => write!(f, "the server refused ({status} {code}): {message}"),
            SyncError::Transport(m) => write!(f, "cannot reach the server: {m}"),
            SyncError::Contention { attempts } => write!(
                f,
                "{attempts} commits in a row met changes from other devices; sync again later"
            ),
            SyncError::HeaderChanged => write!(
                f,
                "the vault's password or keys changed on another device; unlock with the new password"
            ),
        }
    }
}

impl std::error::Error for SyncError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_sync_error_has_its_code() {
        let refused = SyncError::Refused {
            status: 401,
            code: "unauthorized".into(),
            message: "log in".into(),
        };
        assert_eq!(refused.code(), ErrorCode::ServerRefused);
        assert!(refused.to_string().contains("401 unauthorized"));
        assert_eq!(
            SyncError::Transport("down".into()).code(),
            ErrorCode::Transport
        );
        assert_eq!(
            SyncError::Contention { attempts: 3 }.code(),
            ErrorCode::Contention
        );
        assert_eq!(SyncError::HeaderChanged.code(), ErrorCode::HeaderChanged);
        assert_eq!(
            SyncError::server(Misbehavior::Rollback, "x").code(),
            ErrorCode::Rollback
        );
        assert_eq!(SyncError::protocol("x").code(), ErrorCode::ServerMisbehaved);
        assert_eq!(
            SyncError::Vault(Error::Authentication).code(),
            ErrorCode::Authentication
        );
    }
}
