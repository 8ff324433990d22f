//! The vault as one local file: a promptvault bundle (header, then every
//! record in storage-key order), replaced atomically on every write.

use std::path::{Path, PathBuf};

use promptvault::store::MAX_BUNDLE_LEN;
use promptvault::{Changeset, Credential, MemoryStore, Vault};

use crate::fail::{Fail, Kind};
use crate::files::{self, ReadFail};

/// Default vault location: `$PROMPTVAULT_VAULT`, else the user's data directory.
pub(crate) fn default_path() -> PathBuf {
    let base = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
        .unwrap_or_else(|| PathBuf::from("."));
    base.join("promptvault").join("vault.pvlt")
}

/// Reads the vault file: a regular file (through a symlink), refused over
/// the bundle limit before it is read.
///
/// # Errors
///
/// NotFound without a vault; Invalid if the path is not a regular file;
/// Corrupt for an oversized or damaged file; Io otherwise.
pub(crate) fn read(path: &Path) -> Result<MemoryStore, Fail> {
    let limit = MAX_BUNDLE_LEN as u64;
    let bytes = files::read_regular(path, limit).map_err(|e| match e {
        ReadFail::NotFound => missing(path),
        ReadFail::TooLarge { len } => Fail::new(
            Kind::Corrupt,
            format!(
                "{} is {len} bytes, over the {MAX_BUNDLE_LEN}-byte limit for a vault file; it is not a promptvault vault",
                path.display()
            ),
        ),
        other => other.into_fail(path, "the vault", limit, Kind::Corrupt),
    })?;
    MemoryStore::from_bundle(&bytes).map_err(|e| {
        Fail::new(
            Kind::Corrupt,
            format!(
                "{} is damaged or not a promptvault vault ({e}); restore it from a backup",
                path.display()
            ),
        )
    })
}

/// The failure for a vault that does not exist.
pub(crate) fn missing(path: &Path) -> Fail {
    Fail::new(
        Kind::NotFound,
        format!(
            "no vault at {}; create one with `promptvault init`",
            path.display()
        ),
    )
}

/// Opens and fully verifies the vault in `store`.
///
/// # Errors
///
/// Auth or Corrupt, as the core reports.
pub(crate) fn unlock(store: &MemoryStore, credential: Credential<'_>) -> Result<Vault, Fail> {
    let header = store
        .header()
        .ok_or_else(|| Fail::new(Kind::Corrupt, "the vault file has no header".into()))?;
    let vault = Vault::open(header, store.record_bytes(), credential).map_err(Fail::from_core)?;
    // Open authenticates keys and metadata; check every version too, so a
    // damaged file is reported now rather than at some later read.
    vault.verify().map_err(Fail::from_core)?;
    Ok(vault)
}

/// Applies `changes` to `store` and writes the file atomically (see
/// [`files::write_atomic`]), first removing temporary files an earlier,
/// killed write left. Call with the vault's exclusive lock held.
///
/// # Errors
///
/// Io; a failure leaves the previous file intact.
pub(crate) fn save(path: &Path, store: &mut MemoryStore, changes: &Changeset) -> Result<(), Fail> {
    if changes.is_empty() {
        return Ok(());
    }
    store.apply(changes);
    write(path, store)
}

/// Writes `store` to the file atomically. Call with the vault's exclusive
/// lock held.
///
/// # Errors
///
/// Io; a failure leaves the previous file intact.
pub(crate) fn write(path: &Path, store: &MemoryStore) -> Result<(), Fail> {
    let bytes = store.to_bundle().map_err(Fail::from_core)?;
    files::remove_stale_temps(path);
    files::write_atomic(path, &bytes)
}
