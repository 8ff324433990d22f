//! One writer at a time: an advisory lock on a sidecar file next to the
//! vault (`<vault>.lock`), held for a command's whole read-modify-write.
//!
//! The lock is on a sidecar file, not on the vault: every write replaces the
//! vault by renaming a new file over it, and a lock on the old inode would
//! not stop a process that opens the new one. The sidecar is never removed
//! (removing a lock file races with processes about to lock it), holds
//! nothing, and sits next to the symlink-resolved vault, so two links to
//! one vault share one lock.
//!
//! Commands that change the vault take the lock exclusively; commands that
//! only read it take it shared, so they see no half-finished command and
//! their update of the rollback state (see `seen_state`) is ordered with the
//! writers'. A command that finds the lock taken says so on stderr and
//! waits; it does not time out (like `cargo`): interrupt it to give up.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

use fd_lock::{RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::fail::{Fail, Kind};
use crate::files;

/// How a command uses the vault.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Access {
    /// Changes the vault: exclusive lock.
    Write,
    /// Reads the vault (and ratchets the rollback state): shared lock,
    /// skipped when the lock file cannot be created (a read-only
    /// directory), since every write is an atomic rename anyway.
    Read,
}

/// The open lock file of one vault.
pub(crate) struct VaultLock {
    path: PathBuf,
    vault: PathBuf,
    file: Option<RwLock<File>>,
}

/// A held lock; released when dropped (and by the OS when the process ends).
#[allow(dead_code)] // Held only for its Drop.
pub(crate) enum Held<'a> {
    /// Exclusive.
    Write(RwLockWriteGuard<'a, File>),
    /// Shared.
    Read(RwLockReadGuard<'a, File>),
    /// No lock could be taken for a read (see [`Access::Read`]).
    Unlocked,
}

/// `<vault>.lock`, next to the symlink-resolved vault.
///
/// # Errors
///
/// As [`files::resolve`].
pub(crate) fn lock_path(vault: &Path) -> Result<PathBuf, Fail> {
    let mut target = files::resolve(vault)?.into_os_string();
    target.push(".lock");
    Ok(PathBuf::from(target))
}

impl VaultLock {
    /// Opens (creating it 0600 if needed) the lock file of `vault`.
    ///
    /// # Errors
    ///
    /// Io if the lock file cannot be opened for a [`Access::Write`].
    pub(crate) fn open(vault: &Path, access: Access) -> Result<Self, Fail> {
        let path = lock_path(vault)?;
        let mut options = OpenOptions::new();
        options.read(true).write(true).create(true).truncate(false);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let file = match options.open(&path) {
            Ok(f) => Some(RwLock::new(f)),
            Err(e) if access == Access::Read && cannot_create(&e) => None,
            Err(e) => {
                return Err(Fail::new(
                    Kind::Io,
                    format!("cannot open the lock file {}: {e}", path.display()),
                ));
            }
        };
        Ok(VaultLock {
            path,
            vault: vault.to_owned(),
            file,
        })
    }

    /// Takes the lock for `access`, waiting (with a note on stderr) while
    /// another process holds it.
    ///
    /// # Errors
    ///
    /// Io if locking fails for a reason other than contention.
    pub(crate) fn acquire(&mut self, access: Access) -> Result<Held<'_>, Fail> {
        let Some(lock) = self.file.as_mut() else {
            return Ok(Held::Unlocked);
        };
        let (path, vault) = (&self.path, &self.vault);
        let fail =
            |e: io::Error| Fail::new(Kind::Io, format!("cannot lock {}: {e}", path.display()));
        let note = || {
            eprintln!(
                "promptvault: waiting for another promptvault process to finish with {} …",
                vault.display()
            );
        };
        match access {
            Access::Write => {
                if is_contended(lock.try_write().map(drop)) {
                    note();
                }
                lock.write().map(Held::Write).map_err(fail)
            }
            Access::Read => {
                if is_contended(lock.try_read().map(drop)) {
                    note();
                }
                lock.read().map(Held::Read).map_err(fail)
            }
        }
    }
}

fn is_contended(attempt: io::Result<()>) -> bool {
    matches!(attempt, Err(e) if e.kind() == io::ErrorKind::WouldBlock)
}

fn cannot_create(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::PermissionDenied | io::ErrorKind::ReadOnlyFilesystem
    )
}
