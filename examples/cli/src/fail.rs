//! CLI failures: a message that says what went wrong and what to do, and a
//! documented exit code.

use std::path::Path;

use promptvault::sync::SyncError;
use promptvault::{Error, ErrorCode};

/// Exit codes (also in `--help` and the README).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// 1: anything else.
    Other = 1,
    /// 3: wrong password or recovery key, or the vault was modified or
    /// rolled back to an older state.
    Auth = 3,
    /// 4: the vault or export file is damaged or not a promptvault file.
    Corrupt = 4,
    /// 5: no such vault, prompt, version or tag.
    NotFound = 5,
    /// 6: an argument was rejected (bad tag, empty title, limit).
    Invalid = 6,
    /// 7: reading or writing a file failed.
    Io = 7,
    /// 8: a fingerprint does not match the account's published identity,
    /// or an identity pinned here changed.
    Fingerprint = 8,
    /// 9: this account is no longer a member of a shared space (or a key
    /// delivery was not meant for it).
    NotAMember = 9,
}

pub(crate) const EXIT_CODES: &str = "\
Exit codes:
  0  success (also when the reader of the output stops early: `list | head`)
  1  other error
  2  bad command line
  3  wrong password or recovery key, or the vault file was modified or is
     older than one seen before (rollback; see --accept-rollback), or a
     sync server hid or rolled back data (nothing was pushed)
  4  the vault or export file is damaged or not a promptvault file
  5  no such vault, prompt, version or tag
  6  an argument was rejected (empty title, bad tag, size limit, not a
     regular file, export onto the vault, deleting the current version
     without --force)
  7  reading or writing a file failed (a missing directory included)
  8  sharing refused: the fingerprint given does not match the account's
     published identity, an identity pinned on this device changed, or a
     key delivery is not signed by its pinned sender (nothing was sent
     or accepted)
  9  you are not (or no longer) a member of a shared space: its owner
     removed you (what you synced before stays readable here), or an
     invitation was sealed to another identity";

#[derive(Debug)]
pub(crate) struct Fail {
    pub(crate) kind: Kind,
    pub(crate) message: String,
    /// Not a failure to report: standard output was closed by its reader
    /// (`list | head`); the command stops and exits 0 without a message.
    pub(crate) broken_pipe: bool,
}

impl Fail {
    pub(crate) fn new(kind: Kind, message: String) -> Self {
        Fail {
            kind,
            message,
            broken_pipe: false,
        }
    }

    /// Standard output was closed by its reader: stop quietly, exit 0.
    pub(crate) fn broken_pipe() -> Self {
        Fail {
            broken_pipe: true,
            ..Fail::new(Kind::Other, String::new())
        }
    }

    pub(crate) fn io(path: &Path, e: &std::io::Error) -> Self {
        Fail::new(Kind::Io, format!("{}: {e}", path.display()))
    }

    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Fail::new(Kind::Invalid, message.into())
    }

    pub(crate) fn context(mut self, what: &str) -> Self {
        self.message = format!("{what}: {}", self.message);
        self
    }

    pub(crate) fn from_core(e: Error) -> Self {
        let kind = match e.code() {
            ErrorCode::Authentication => Kind::Auth,
            ErrorCode::Malformed
            | ErrorCode::UnsupportedVersion
            | ErrorCode::UnsupportedSuite
            | ErrorCode::KdfParamsOutOfBounds
            | ErrorCode::WrongKind
            | ErrorCode::WrongVault
            | ErrorCode::MissingRecord
            | ErrorCode::Rollback
            | ErrorCode::Encoding => Kind::Corrupt,
            ErrorCode::NotFound => Kind::NotFound,
            ErrorCode::InvalidInput | ErrorCode::LimitExceeded | ErrorCode::InvalidRecoveryKey => {
                Kind::Invalid
            }
            ErrorCode::WrongFingerprint | ErrorCode::BadSignature => Kind::Fingerprint,
            ErrorCode::NotAMember | ErrorCode::Revoked => Kind::NotAMember,
            _ => Kind::Other,
        };
        let message = if kind == Kind::Auth {
            "wrong password, or the vault file was modified; check the password (or use \
             `promptvault recover`), and restore the file from a backup if it was damaged"
                .to_owned()
        } else {
            e.to_string()
        };
        Fail::new(kind, message)
    }
}

impl Fail {
    /// A sync failure as a CLI failure: a server that misbehaves or refuses
    /// the password is exit 3, like a tampered file; `account` names the
    /// account in the message.
    pub(crate) fn from_sync(e: SyncError, account: &str) -> Self {
        match e {
            SyncError::Server { .. } => Fail::new(Kind::Auth, e.to_string()),
            SyncError::Refused { ref code, .. } if code == "authentication_failed" => Fail::new(
                Kind::Auth,
                format!("wrong password, or no account {account} on this server"),
            ),
            SyncError::Refused { ref code, .. } if code == "cursor_ahead" => Fail::new(
                Kind::Auth,
                format!(
                    "{e}: the server lost commits this device saw (a restored backup, or another server)"
                ),
            ),
            SyncError::Vault(Error::Authentication) => Fail::new(
                Kind::Auth,
                "a record from the server does not authenticate: it was modified; nothing was pushed"
                    .into(),
            ),
            SyncError::Vault(core) => Fail::from_core(core),
            SyncError::HeaderChanged | SyncError::Contention { .. } | SyncError::Transport(_) => {
                Fail::new(Kind::Other, e.to_string())
            }
            SyncError::Refused { .. } | _ => Fail::new(Kind::Other, e.to_string()),
        }
    }
}
