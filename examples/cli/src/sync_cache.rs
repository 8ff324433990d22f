//! What this device keeps about one sync server, account and vault file:
//! the session token and the sync engine's state, in the XDG state
//! directory (`sync/<hash>.json`, 0600), one file per server, account and
//! vault path (a space's store is a vault path of its own); and the server
//! and account the vault last synced with (`sync/last-<hash>.json`), which
//! the sharing commands use.

use std::path::{Path, PathBuf};

use blake2::digest::consts::U16;
use blake2::{Blake2b, Digest as _};
use promptvault::MemoryStore;
use promptvault::sync::{SyncError, SyncState, Transport};
use serde::{Deserialize, Serialize};

use crate::cli::ServerOpt;
use crate::clock::unix_secs;
use crate::fail::{Fail, Kind};
use crate::remote::Remote;
use crate::{files, seen_state, vault_file};

/// What this device keeps about one server, account and vault file.
#[derive(Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct Cached {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    token: Option<String>,
    /// Seconds since the epoch after which the token is not used.
    #[serde(default)]
    pub(crate) token_until: u64,
    #[serde(default)]
    pub(crate) state: SyncState,
}

/// [`Cached`] and the file it is kept in (none without a state directory).
pub(crate) struct Cache {
    path: Option<PathBuf>,
    pub(crate) data: Cached,
}

impl Cache {
    /// Reads what was kept for `origin`, `account` and the vault file at
    /// `vault` (nothing yet: a default).
    ///
    /// # Errors
    ///
    /// Other for a damaged state file; as reading a file otherwise.
    pub(crate) fn load(origin: &str, account: &str, vault: &Path) -> Result<Self, Fail> {
        let vault = files::resolve(vault).unwrap_or_else(|_| vault.to_owned());
        let Some(dir) = seen_state::state_dir() else {
            eprintln!(
                "promptvault: neither $XDG_STATE_HOME nor $HOME is set; the sync state is not kept"
            );
            return Ok(Cache {
                path: None,
                data: Cached::default(),
            });
        };
        let mut h = Blake2b::<U16>::new();
        for part in [
            origin.as_bytes(),
            account.as_bytes(),
            vault.as_os_str().as_encoded_bytes(),
        ] {
            h.update((part.len() as u64).to_le_bytes());
            h.update(part);
        }
        let name: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
        let path = dir.join("sync").join(format!("{name}.json"));
        let data = match files::read_regular(&path, 1 << 30) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
                Fail::new(
                    Kind::Other,
                    format!(
                        "the sync state {} is damaged ({e}); remove it and sync again",
                        path.display()
                    ),
                )
            })?,
            Err(files::ReadFail::NotFound) => Cached::default(),
            Err(e) => return Err(e.into_fail(&path, "the sync state", 1 << 30, Kind::Other)),
        };
        Ok(Cache {
            path: Some(path),
            data,
        })
    }

    /// The session token, unless it has expired.
    pub(crate) fn token(&self) -> Option<String> {
        (self.data.token_until > unix_secs())
            .then(|| self.data.token.clone())
            .flatten()
    }

    /// Keeps `token`, valid for `expires_in` seconds less a minute.
    pub(crate) fn set_token(&mut self, token: Option<String>, expires_in: u64) {
        self.data.token = token;
        self.data.token_until = unix_secs() + expires_in.saturating_sub(60);
    }

    /// Writes the state file (atomically, 0600).
    ///
    /// # Errors
    ///
    /// As writing a file.
    pub(crate) fn save(&self) -> Result<(), Fail> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        files::create_private_dir(files::parent_dir(path))?;
        let bytes = serde_json::to_vec(&self.data)
            .map_err(|e| Fail::new(Kind::Other, format!("encoding the sync state: {e}")))?;
        files::write_atomic(path, &bytes)
    }

    /// Removes the state file, if there is one.
    pub(crate) fn remove(&self) {
        if let Some(p) = &self.path {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// Persists the vault file, then the sync state, after every engine step.
pub(crate) struct Persist<'a> {
    pub(crate) remote: &'a mut Remote,
    pub(crate) cache: &'a mut Cache,
    /// The store's file (the vault file, or a space's store).
    pub(crate) path: &'a Path,
}

impl Transport for Persist<'_> {
    fn pull(
        &mut self,
        r: &promptvault::protocol::PullRequest,
    ) -> Result<promptvault::protocol::PullResponse, SyncError> {
        self.remote.pull(r)
    }

    fn commit(
        &mut self,
        r: &promptvault::protocol::CommitRequest,
    ) -> Result<promptvault::protocol::CommitResponse, SyncError> {
        self.remote.commit(r)
    }

    fn checkpoint(&mut self, store: &MemoryStore, state: &SyncState) -> Result<(), SyncError> {
        let io = |f: Fail| SyncError::Transport(f.message);
        vault_file::write(self.path, store).map_err(io)?;
        self.cache.data.state = state.clone();
        self.cache.save().map_err(io)
    }
}

/// The server and account a vault file last synced with.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct LastServer {
    /// The server's origin.
    pub(crate) server: String,
    /// The account name.
    pub(crate) account: String,
}

/// `sync/last-<hash of the vault path>.json` in the state directory.
fn last_path(vault: &Path) -> Option<PathBuf> {
    let vault = files::resolve(vault).unwrap_or_else(|_| vault.to_owned());
    let dir = seen_state::state_dir()?;
    let mut h = Blake2b::<U16>::new();
    h.update(b"last server\0");
    h.update(vault.as_os_str().as_encoded_bytes());
    let name: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
    Some(dir.join("sync").join(format!("last-{name}.json")))
}

/// Remembers that the vault at `vault` synced with `server` as `account`.
///
/// # Errors
///
/// As writing a file.
pub(crate) fn remember(vault: &Path, server: &str, account: &str) -> Result<(), Fail> {
    let Some(path) = last_path(vault) else {
        return Ok(());
    };
    let last = LastServer {
        server: server.to_owned(),
        account: account.to_owned(),
    };
    files::create_private_dir(files::parent_dir(&path))?;
    let bytes = serde_json::to_vec(&last)
        .map_err(|e| Fail::new(Kind::Other, format!("encoding the sync state: {e}")))?;
    files::write_atomic(&path, &bytes)
}

/// The server and account the vault at `vault` last synced with.
///
/// # Errors
///
/// Invalid when it never synced (nothing remembered); Other for a damaged
/// file.
pub(crate) fn remembered(vault: &Path) -> Result<LastServer, Fail> {
    let never = || {
        Fail::invalid(
            "this vault has not synced with a server yet: run `promptvault sync --server URL \
             --account NAME` first (or give --server and --account)",
        )
    };
    let path = last_path(vault).ok_or_else(never)?;
    match files::read_regular(&path, 1 << 16) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
            Fail::new(
                Kind::Other,
                format!(
                    "the sync state {} is damaged ({e}); sync again",
                    path.display()
                ),
            )
        }),
        Err(files::ReadFail::NotFound) => Err(never()),
        Err(e) => Err(e.into_fail(&path, "the sync state", 1 << 16, Kind::Other)),
    }
}

/// The server and account to use: those given, else those the vault at
/// `vault` last synced with.
///
/// # Errors
///
/// As [`remembered`] when one is missing.
pub(crate) fn resolve(vault: &Path, to: &ServerOpt) -> Result<(String, String), Fail> {
    Ok(match (&to.server, &to.account) {
        (Some(s), Some(a)) => (s.clone(), a.clone()),
        (s, a) => {
            let last = remembered(vault)?;
            (
                s.clone().unwrap_or(last.server),
                a.clone().unwrap_or(last.account),
            )
        }
    })
}
