//! What this device keeps about one sync server, account and vault file:
//! the session token and the sync engine's state, in the XDG state
//! directory (`sync/<hash>.json`, 0600), one file per server, account and
//! vault path.

use std::path::{Path, PathBuf};

use blake2::digest::consts::U16;
use blake2::{Blake2b, Digest as _};
use promptvault::sync::SyncState;
use serde::{Deserialize, Serialize};

use crate::clock::unix_secs;
use crate::fail::{Fail, Kind};
use crate::{files, seen_state};

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
