//! The vault as one local file: a promptvault bundle (header, then every
//! record in storage-key order), replaced atomically on every write.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use promptvault::store::MAX_BUNDLE_LEN;
use promptvault::{Changeset, Credential, MemoryStore, Vault};

use crate::fail::{Fail, Kind};

/// Default vault location: `$PROMPTVAULT_VAULT`, else the user's data directory.
pub(crate) fn default_path() -> PathBuf {
    let base = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
        .unwrap_or_else(|| PathBuf::from("."));
    base.join("promptvault").join("vault.pvlt")
}

/// Reads the vault file, refusing one over the bundle limit before reading it.
pub(crate) fn read(path: &Path) -> Result<MemoryStore, Fail> {
    let mut file = File::open(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            Fail::new(
                Kind::NotFound,
                format!(
                    "no vault at {}; create one with `promptvault init`",
                    path.display()
                ),
            )
        } else {
            Fail::io(path, &e)
        }
    })?;
    let len = file.metadata().map_err(|e| Fail::io(path, &e))?.len();
    if len > MAX_BUNDLE_LEN as u64 {
        return Err(Fail::new(
            Kind::Corrupt,
            format!(
                "{} is {len} bytes, over the {MAX_BUNDLE_LEN}-byte limit for a vault file; it is not a promptvault vault",
                path.display()
            ),
        ));
    }
    let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    Read::by_ref(&mut file)
        .take(MAX_BUNDLE_LEN as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Fail::io(path, &e))?;
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

/// Opens and fully verifies the vault in `store`.
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

/// Applies `changes` to `store` and writes the file atomically: a temporary
/// file in the same directory, fsync, rename over the old file, fsync the
/// directory. A failure at any step leaves the previous file intact.
pub(crate) fn save(path: &Path, store: &mut MemoryStore, changes: &Changeset) -> Result<(), Fail> {
    if changes.is_empty() {
        return Ok(());
    }
    store.apply(changes);
    write_atomic(path, &store.to_bundle().map_err(Fail::from_core)?)
}

pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), Fail> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(|e| Fail::io(dir, &e))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let result = (|| {
        let mut f = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        fs::rename(&tmp, path)?;
        if let Ok(d) = File::open(dir) {
            // Persist the rename itself; not every platform allows this.
            let _ = d.sync_all();
        }
        Ok::<(), std::io::Error>(())
    })();
    if let Err(e) = result {
        let _ = fs::remove_file(&tmp);
        return Err(Fail::io(path, &e));
    }
    Ok(())
}
