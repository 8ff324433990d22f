//! Careful file access for the vault, its state, exports and `--file`:
//! only regular files are read, never more than a bound; writes are atomic,
//! private (0600) and go through a symlink to its target.

use std::fs::{self, File, Metadata, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use crate::fail::{Fail, Kind};

/// Why a bounded read failed.
#[derive(Debug)]
pub(crate) enum ReadFail {
    /// The path does not exist.
    NotFound,
    /// The path is not a regular file (a directory, FIFO, device, socket).
    NotRegular(&'static str),
    /// The file holds more than the limit; `len` is its size.
    TooLarge { len: u64 },
    /// Any other I/O error.
    Io(io::Error),
}

impl ReadFail {
    /// A failure for reading `path` as `what` ("the body file", "the export
    /// file"), with `too_large` as the exit kind for an oversized file.
    pub(crate) fn into_fail(self, path: &Path, what: &str, limit: u64, too_large: Kind) -> Fail {
        match self {
            ReadFail::NotFound => Fail::new(
                Kind::Io,
                format!("{}: no such file ({what})", path.display()),
            ),
            ReadFail::NotRegular(kind) => Fail::invalid(format!(
                "{} is {kind}, not a regular file; give a regular file as {what}",
                path.display()
            )),
            ReadFail::TooLarge { len } => Fail::new(
                too_large,
                format!(
                    "{} is {len} bytes, over the {limit}-byte limit for {what}",
                    path.display()
                ),
            ),
            ReadFail::Io(e) => Fail::io(path, &e),
        }
    }
}

fn file_kind(meta: &Metadata) -> Option<&'static str> {
    let t = meta.file_type();
    if t.is_file() {
        return None;
    }
    if t.is_dir() {
        return Some("a directory");
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_fifo() {
            return Some("a FIFO (named pipe)");
        }
        if t.is_char_device() || t.is_block_device() {
            return Some("a device");
        }
        if t.is_socket() {
            return Some("a socket");
        }
    }
    Some("not a regular file")
}

fn open_for_read(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // A FIFO swapped in after the check below must not block the open.
        options.custom_flags(libc::O_NONBLOCK);
    }
    options.open(path)
}

/// Reads the regular file at `path` (symlinks followed), at most `limit`
/// bytes.
///
/// The type is checked before opening (so a device is never opened) and
/// again on the open file (so a swap in between is caught); the open does
/// not block on a FIFO. At most `limit + 1` bytes are ever read, whatever
/// the file claims its size is.
///
/// # Errors
///
/// [`ReadFail`] as documented on each variant.
pub(crate) fn read_regular(path: &Path, limit: u64) -> Result<Vec<u8>, ReadFail> {
    let io_fail = |e: io::Error| {
        if e.kind() == io::ErrorKind::NotFound {
            ReadFail::NotFound
        } else {
            ReadFail::Io(e)
        }
    };
    let meta = fs::metadata(path).map_err(io_fail)?;
    if let Some(kind) = file_kind(&meta) {
        return Err(ReadFail::NotRegular(kind));
    }
    let file = open_for_read(path).map_err(io_fail)?;
    let meta = file.metadata().map_err(ReadFail::Io)?;
    if let Some(kind) = file_kind(&meta) {
        return Err(ReadFail::NotRegular(kind));
    }
    if meta.len() > limit {
        return Err(ReadFail::TooLarge { len: meta.len() });
    }
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    file.take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(ReadFail::Io)?;
    let len = bytes.len() as u64;
    if len > limit {
        return Err(ReadFail::TooLarge { len });
    }
    Ok(bytes)
}

/// The path a write to `path` must replace: the final target if `path` is
/// a symlink (so the link stays and its target gets the update), else
/// `path` itself made absolute through its existing parent.
///
/// # Errors
///
/// Io for a dangling symlink or an unreadable parent.
pub(crate) fn resolve(path: &Path) -> Result<PathBuf, Fail> {
    match fs::canonicalize(path) {
        Ok(p) => Ok(p),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            if fs::symlink_metadata(path).is_ok() {
                return Err(Fail::new(
                    Kind::Io,
                    format!(
                        "{} is a symlink to a missing file; fix or remove the link",
                        path.display()
                    ),
                ));
            }
            let name = path
                .file_name()
                .ok_or_else(|| Fail::invalid(format!("{} does not name a file", path.display())))?;
            let parent = parent_dir(path);
            match fs::canonicalize(parent) {
                Ok(dir) => Ok(dir.join(name)),
                Err(e) => Err(Fail::new(
                    Kind::Io,
                    format!(
                        "{}: the directory {} cannot be used ({e}); create it first",
                        path.display(),
                        parent.display()
                    ),
                )),
            }
        }
        Err(e) => Err(Fail::io(path, &e)),
    }
}

/// The directory holding `path` (`.` for a bare file name).
pub(crate) fn parent_dir(path: &Path) -> &Path {
    path.parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// Whether `a` and `b` are the same file (same device and inode, so also
/// through a hardlink or symlink). False if either does not exist.
pub(crate) fn same_file(a: &Path, b: &Path) -> bool {
    match (fs::metadata(a), fs::metadata(b)) {
        (Ok(ma), Ok(mb)) => same_meta(&ma, &mb),
        _ => false,
    }
}

#[cfg(unix)]
fn same_meta(a: &Metadata, b: &Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    a.dev() == b.dev() && a.ino() == b.ino()
}

#[cfg(not(unix))]
fn same_meta(_: &Metadata, _: &Metadata) -> bool {
    false
}

/// The mode for a file replacing `existing`: 0600, narrowed further if the
/// existing file is stricter (a 0400 vault stays 0400), never wider.
#[cfg(unix)]
fn private_permissions(existing: Option<&Metadata>) -> fs::Permissions {
    use std::os::unix::fs::PermissionsExt;
    let mode = existing.map_or(0o600, |m| m.permissions().mode() & 0o600);
    fs::Permissions::from_mode(mode)
}

/// Writes `bytes` to `path` atomically, through a symlink to its target.
///
/// A temporary file with a random name is created 0600 next to the real
/// target (the `tempfile` crate), written, fsynced, given the final mode
/// (see `private_permissions`), renamed over the target, and the
/// directory is fsynced. A failure at any step leaves the previous file
/// intact; a killed write leaves at most one uniquely named temporary
/// file, which never blocks a later write. The directory must exist.
///
/// # Errors
///
/// Invalid if the target exists and is not a regular file; Io for any
/// I/O failure (a missing directory included).
///
/// # Security
///
/// The file is never readable by others, not even for a moment.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), Fail> {
    let target = resolve(path)?;
    let existing = match fs::metadata(&target) {
        Ok(m) => Some(m),
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => return Err(Fail::io(path, &e)),
    };
    if let Some(kind) = existing.as_ref().and_then(file_kind) {
        return Err(Fail::invalid(format!(
            "{} is {kind}, not a regular file; refusing to replace it",
            path.display()
        )));
    }
    let dir = parent_dir(&target);
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let prefix = temp_prefix(&name);
    let mut tmp = tempfile::Builder::new()
        .prefix(&prefix)
        .suffix(TEMP_SUFFIX)
        .rand_bytes(TEMP_RANDOM_CHARS)
        .tempfile_in(dir)
        .map_err(|e| Fail::io(dir, &e))?;
    let written = (|| {
        tmp.write_all(bytes)?;
        #[cfg(unix)]
        tmp.as_file()
            .set_permissions(private_permissions(existing.as_ref()))?;
        tmp.as_file().sync_all()
    })();
    written.map_err(|e| Fail::io(path, &e))?;
    tmp.persist(&target).map_err(|e| Fail::io(path, &e.error))?;
    if let Ok(d) = File::open(dir) {
        // Persist the rename itself; not every platform allows this.
        let _ = d.sync_all();
    }
    Ok(())
}

const TEMP_SUFFIX: &str = ".tmp";
const TEMP_RANDOM_CHARS: usize = 8;

fn temp_prefix(name: &str) -> String {
    format!(".{name}.")
}

/// Removes temporary files that an interrupted write of `path` left
/// behind. Call only while no other process can be writing `path` (with
/// the vault's exclusive lock held). Best effort: failures are ignored.
pub(crate) fn remove_stale_temps(path: &Path) {
    let Ok(target) = resolve(path) else { return };
    let dir = parent_dir(&target);
    let Some(name) = target.file_name().map(|n| n.to_string_lossy().into_owned()) else {
        return;
    };
    let prefix = temp_prefix(&name);
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let file_name = entry.file_name();
        let file_name = file_name.to_string_lossy();
        let is_ours = file_name
            .strip_prefix(&prefix)
            .and_then(|rest| rest.strip_suffix(TEMP_SUFFIX))
            .is_some_and(|random| {
                random.len() == TEMP_RANDOM_CHARS
                    && random.bytes().all(|b| b.is_ascii_alphanumeric())
            });
        if is_ours && entry.file_type().is_ok_and(|t| t.is_file()) {
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// Creates `dir` (and its parents) private to the user (0700) if missing.
///
/// # Errors
///
/// Io if it cannot be created.
pub(crate) fn create_private_dir(dir: &Path) -> Result<(), Fail> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir).map_err(|e| Fail::io(dir, &e))
}
