//! Rollback detection: what this device has seen of each vault, kept in
//! the XDG state directory (`$XDG_STATE_HOME/promptvault/`, else
//! `~/.local/state/promptvault/`), one JSON file per vault id, written
//! atomically 0600.
//!
//! It holds the vault id, the header revision, every prompt's metadata
//! revision and the ids of prompts deleted here — all already readable
//! by anyone who has the vault file (`promptvault inspect`); no key, no
//! title, no text. On every open the vault must be at least as new as
//! this; after every open and write it is moved forward.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use promptvault::Vault;

use crate::fail::{Fail, Kind};
use crate::files;

/// Refusals listed in one message; the rest are counted.
const MAX_LISTED: usize = 3;
/// The state file is refused above this size (a million prompts fit).
const MAX_STATE_LEN: u64 = 128 << 20;

/// What one device has seen of one vault.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Seen {
    /// The vault id (hex), also the file name.
    vault: String,
    /// Highest vault-header revision seen.
    header: u64,
    /// Highest metadata revision seen, per prompt id (hex).
    prompts: BTreeMap<String, u64>,
    /// Prompts seen and later deleted here: they must not come back with
    /// an older file.
    #[serde(default)]
    deleted: BTreeSet<String>,
}

/// The state directory: `$XDG_STATE_HOME/promptvault`, else
/// `$HOME/.local/state/promptvault`; `None` if neither is set.
pub(crate) fn state_dir() -> Option<PathBuf> {
    std::env::var_os("XDG_STATE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|v| !v.is_empty())
                .map(|h| PathBuf::from(h).join(".local/state"))
        })
        .map(|d| d.join("promptvault"))
}

/// The seen state of one vault and where it lives.
pub(crate) struct SeenState {
    path: Option<PathBuf>,
    seen: Seen,
}

impl SeenState {
    /// Loads the state of `vault` (empty if none was recorded yet).
    ///
    /// # Errors
    ///
    /// Other if the state file exists but cannot be read or parsed (the
    /// message names it, so it can be removed).
    pub(crate) fn load(vault: &Vault) -> Result<Self, Fail> {
        let id = vault.id().to_hex();
        let Some(dir) = state_dir() else {
            eprintln!(
                "promptvault: neither $XDG_STATE_HOME nor $HOME is set; rollback detection is off"
            );
            return Ok(SeenState {
                path: None,
                seen: Seen::default(),
            });
        };
        let path = dir.join(format!("{id}.json"));
        let seen = match files::read_regular(&path, MAX_STATE_LEN) {
            Ok(bytes) => serde_json::from_slice::<Seen>(&bytes)
                .ok()
                .filter(|s| s.vault == id)
                .ok_or_else(|| damaged(&path))?,
            Err(files::ReadFail::NotFound) => Seen {
                vault: id,
                ..Seen::default()
            },
            Err(e) => {
                return Err(e.into_fail(&path, "the rollback state", MAX_STATE_LEN, Kind::Other));
            }
        };
        Ok(SeenState {
            path: Some(path),
            seen,
        })
    }

    /// Refuses `vault` if anything in it is older than seen before: the
    /// header revision, a prompt's metadata revision, a prompt that is
    /// missing, or a prompt deleted here that is back.
    ///
    /// # Errors
    ///
    /// Auth (exit 3) naming what regressed.
    pub(crate) fn check(&self, vault: &Vault) -> Result<(), Fail> {
        let now = vault.seen_revisions();
        let mut regressions = Vec::new();
        if now.header < self.seen.header {
            regressions.push(format!(
                "the vault header revision {} is older than {} seen before",
                now.header, self.seen.header
            ));
        }
        let current: BTreeMap<String, u64> = now
            .prompts
            .iter()
            .map(|(id, rev)| (id.to_hex(), *rev))
            .collect();
        for (id, seen_rev) in &self.seen.prompts {
            match current.get(id) {
                Some(rev) if rev < seen_rev => regressions.push(format!(
                    "prompt {}… metadata revision {rev} is older than {seen_rev} seen before",
                    short(id)
                )),
                Some(_) => {}
                None => regressions.push(format!(
                    "prompt {}… (revision {seen_rev} seen before) is missing",
                    short(id)
                )),
            }
        }
        for id in current.keys().filter(|id| self.seen.deleted.contains(*id)) {
            regressions.push(format!(
                "prompt {}… was deleted here and is back",
                short(id)
            ));
        }
        if regressions.is_empty() {
            return Ok(());
        }
        let total = regressions.len();
        let mut listed: Vec<String> = regressions.into_iter().take(MAX_LISTED).collect();
        if total > MAX_LISTED {
            listed.push(format!("and {} more", total - MAX_LISTED));
        }
        Err(Fail::new(
            Kind::Auth,
            format!(
                "the vault file is older than what this device has seen ({}): it may have been \
                 rolled back or replaced with an old copy; nothing was changed. If you restored \
                 it from a backup on purpose, run the command again with --accept-rollback",
                listed.join("; ")
            ),
        ))
    }

    /// Records `vault` as seen: revisions move to the vault's, prompts
    /// gone since the last record are remembered as deleted, prompts
    /// present are no longer counted as deleted. With `replace`, prompts
    /// gone are simply forgotten (an accepted restore from backup).
    ///
    /// A state that cannot be written is reported on stderr and does not
    /// fail the command: the state then stays older than the vault, which
    /// weakens detection but never refuses a good file.
    pub(crate) fn record(&mut self, vault: &Vault, replace: bool) {
        if let Err(f) = self.try_record(vault, replace) {
            eprintln!(
                "promptvault: warning: rollback state not updated ({}); this vault's current \
                 revisions are not remembered",
                f.message
            );
        }
    }

    fn try_record(&mut self, vault: &Vault, replace: bool) -> Result<(), Fail> {
        let now = vault.seen_revisions();
        let prompts: BTreeMap<String, u64> = now
            .prompts
            .iter()
            .map(|(id, rev)| (id.to_hex(), *rev))
            .collect();
        let mut deleted = if replace {
            BTreeSet::new()
        } else {
            let mut d = std::mem::take(&mut self.seen.deleted);
            d.extend(
                self.seen
                    .prompts
                    .keys()
                    .filter(|id| !prompts.contains_key(*id))
                    .cloned(),
            );
            d
        };
        deleted.retain(|id| !prompts.contains_key(id));
        let next = Seen {
            vault: vault.id().to_hex(),
            header: if replace {
                now.header
            } else {
                now.header.max(self.seen.header)
            },
            prompts,
            deleted,
        };
        if next == self.seen {
            return Ok(());
        }
        if let Some(path) = &self.path {
            let text = serde_json::to_vec(&next)
                .map_err(|e| Fail::new(Kind::Other, format!("rollback state: {e}")))?;
            files::create_private_dir(files::parent_dir(path))?;
            files::write_atomic(path, &text)?;
        }
        self.seen = next;
        Ok(())
    }
}

fn damaged(path: &Path) -> Fail {
    Fail::new(
        Kind::Other,
        format!(
            "the rollback state {} is damaged; remove it (the next command records the vault \
             as it is then)",
            path.display()
        ),
    )
}

fn short(hex: &str) -> &str {
    hex.get(..8).unwrap_or(hex)
}
