//! An unlocked vault with the file it came from and what this device has
//! seen of it, and the lookups every command shares.

use std::path::{Path, PathBuf};

use promptvault::share::SpaceKey;
use promptvault::{Changeset, Credential, MemoryStore, PromptId, SeenRevisions, Vault, VersionId};

use crate::fail::{Fail, Kind};
use crate::seen_state::SeenState;
use crate::{secrets, vault_file};

/// An unlocked vault, checked against rollback.
pub(crate) struct Session {
    path: PathBuf,
    store: MemoryStore,
    pub(crate) vault: Vault,
    seen: SeenState,
}

impl Session {
    /// Reads the vault at `path` and unlocks it with the password.
    ///
    /// # Errors
    ///
    /// As [`Session::open_with`], and a password that cannot be read.
    pub(crate) fn open(path: &Path, accept_rollback: bool) -> Result<Self, Fail> {
        let store = vault_file::read(path)?;
        let password = secrets::password()?;
        Self::open_with(
            path,
            store,
            Credential::Password(&password),
            accept_rollback,
        )
    }

    /// Unlocks `store` (read from `path`) with `credential`, verifies every
    /// record, and checks it is not older than seen before on this device
    /// (unless `accept_rollback`, which records it as the new state).
    ///
    /// # Errors
    ///
    /// Auth for a wrong credential, a modified file or a rollback; Corrupt
    /// for a damaged file.
    pub(crate) fn open_with(
        path: &Path,
        store: MemoryStore,
        credential: Credential<'_>,
        accept_rollback: bool,
    ) -> Result<Self, Fail> {
        let vault = vault_file::unlock(&store, credential)?;
        let mut seen = SeenState::load(&vault)?;
        if !accept_rollback {
            seen.check(&vault)?;
        }
        seen.record(&vault, accept_rollback);
        Ok(Session {
            path: path.to_owned(),
            store,
            vault,
            seen,
        })
    }

    /// Opens a shared space's store (read from `path`) with its space key,
    /// verifies every record and checks it against rollback as
    /// [`Session::open_with`] does.
    ///
    /// # Errors
    ///
    /// NotAMember when the space moved to a newer key generation than
    /// `key` (this account was removed, or the new key has not arrived);
    /// otherwise as [`Session::open_with`].
    pub(crate) fn open_space(
        path: &Path,
        store: MemoryStore,
        key: &SpaceKey,
        accept_rollback: bool,
    ) -> Result<Self, Fail> {
        let header = store
            .header()
            .ok_or_else(|| Fail::new(Kind::Corrupt, "the space file has no header".into()))?;
        let vault = Vault::open_space(
            header,
            store.record_bytes(),
            key,
            &SeenRevisions::default(),
        )
        .map_err(|e| match e {
            promptvault::Error::Authentication => Fail::new(
                Kind::Auth,
                format!(
                    "the shared space file {} was modified or its key is wrong; restore it from                      a backup or sync it again",
                    path.display()
                ),
            ),
            other => Fail::from_core(other),
        })?;
        vault.verify().map_err(Fail::from_core)?;
        Self::from_parts(path, store, vault, accept_rollback)
    }

    /// A session for a vault already opened from `store`.
    ///
    /// # Errors
    ///
    /// Auth for a rollback (unless `accept_rollback`).
    pub(crate) fn from_parts(
        path: &Path,
        store: MemoryStore,
        vault: Vault,
        accept_rollback: bool,
    ) -> Result<Self, Fail> {
        let mut seen = SeenState::load(&vault)?;
        if !accept_rollback {
            seen.check(&vault)?;
        }
        seen.record(&vault, accept_rollback);
        Ok(Session {
            path: path.to_owned(),
            store,
            vault,
            seen,
        })
    }

    /// Writes `changes` to the vault file, then records the new revisions.
    ///
    /// # Errors
    ///
    /// Io if the file cannot be written.
    pub(crate) fn save(&mut self, changes: &Changeset) -> Result<(), Fail> {
        vault_file::save(&self.path, &mut self.store, changes)?;
        self.seen.record(&self.vault, false);
        Ok(())
    }

    /// The vault and its store, for a sync that changes both.
    pub(crate) fn parts(&mut self) -> (&mut Vault, &mut MemoryStore) {
        (&mut self.vault, &mut self.store)
    }

    /// Writes the store as it is now (a sync changed it) and records the
    /// vault's revisions as seen.
    ///
    /// # Errors
    ///
    /// Io if the file cannot be written.
    pub(crate) fn write_store(&mut self) -> Result<(), Fail> {
        vault_file::write(&self.path, &self.store)?;
        self.seen.record(&self.vault, false);
        Ok(())
    }

    /// The prompt whose id starts with `prefix`.
    ///
    /// # Errors
    ///
    /// NotFound, or Invalid for a short or ambiguous prefix.
    pub(crate) fn prompt(&self, prefix: &str) -> Result<PromptId, Fail> {
        resolve_prefix(prefix, self.vault.prompt_ids(), PromptId::to_hex, "prompt")
    }

    /// As [`Session::prompt`], also matching damaged prompts (for `rm`).
    ///
    /// # Errors
    ///
    /// NotFound, or Invalid for a short or ambiguous prefix.
    pub(crate) fn any_prompt(&self, prefix: &str) -> Result<PromptId, Fail> {
        let mut ids = self.vault.prompt_ids();
        ids.extend(self.vault.damaged_prompts().into_iter().map(|d| d.id));
        resolve_prefix(prefix, ids, PromptId::to_hex, "prompt")
    }

    /// Warns on stderr about prompts the vault could not read as valid
    /// (their short id and the rule broken; no user text).
    pub(crate) fn warn_damaged(&self) {
        for d in self.vault.damaged_prompts() {
            let hex = d.id.to_hex();
            eprintln!(
                "promptvault: warning: prompt {} is damaged ({}); `export` saves what is readable, `rm {}` removes it",
                crate::output::short(&hex),
                d.reason,
                crate::output::short(&hex)
            );
        }
    }

    /// The version `spec` (a number from `history` or an id prefix) of `id`.
    ///
    /// # Errors
    ///
    /// NotFound, or Invalid for a short or ambiguous prefix.
    pub(crate) fn version(&self, id: PromptId, spec: &str) -> Result<VersionId, Fail> {
        let history = self.vault.history(id).map_err(Fail::from_core)?;
        if let Ok(n) = spec.parse::<usize>() {
            if spec.len() < 8 {
                return history.get(n.wrapping_sub(1)).map(|e| e.id).ok_or_else(|| {
                    Fail::new(
                        Kind::NotFound,
                        format!("no version {n}; `history` lists 1..={}", history.len()),
                    )
                });
            }
        }
        resolve_prefix(
            spec,
            history.iter().map(|e| e.id).collect(),
            VersionId::to_hex,
            "version",
        )
    }
}

fn resolve_prefix<T: Copy>(
    prefix: &str,
    ids: Vec<T>,
    hex: fn(&T) -> String,
    what: &str,
) -> Result<T, Fail> {
    let prefix = prefix.to_ascii_lowercase();
    if prefix.len() < 4 {
        return Err(Fail::invalid(format!(
            "give at least 4 characters of the {what} id"
        )));
    }
    let hits: Vec<T> = ids
        .into_iter()
        .filter(|i| hex(i).starts_with(&prefix))
        .collect();
    match hits.as_slice() {
        [one] => Ok(*one),
        [] => Err(Fail::new(
            Kind::NotFound,
            format!("no {what} id starts with {prefix}"),
        )),
        _ => Err(Fail::invalid(format!(
            "{prefix} matches several {what}s; give more characters"
        ))),
    }
}
