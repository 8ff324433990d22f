//! Conversions between C arguments and core types, shared by every
//! exported function: ids, passwords, JSON in and out, changeset handles,
//! and the one caller-owned output buffer (`OutBuf`) every byte or text
//! output goes through. Nothing here decides anything about vaults.

use std::ffi::c_char;

use promptvault::{Changeset, Password, PromptId, VersionId};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::handles::into_handle;
use crate::{Fail, PV_ID_BUF_LEN, pv_changeset, pv_result};

/// A result as JSON text with the core's camelCase names.
pub(crate) fn to_json<T: Serialize>(value: &T) -> Result<String, Fail> {
    serde_json::to_string(value).map_err(|e| Fail::json("result (cannot serialise)", &e))
}

/// A JSON argument parsed into a core input type (`what` names it in the
/// error).
pub(crate) fn from_json<T: DeserializeOwned>(json: &str, what: &str) -> Result<T, Fail> {
    serde_json::from_str(json).map_err(|e| Fail::json(what, &e))
}

pub(crate) fn prompt_id(text: &str) -> Result<PromptId, Fail> {
    Ok(text.parse()?)
}

pub(crate) fn version_id(text: &str) -> Result<VersionId, Fail> {
    Ok(text.parse()?)
}

/// `""` means the current version.
pub(crate) fn optional_version(text: &str) -> Result<Option<VersionId>, Fail> {
    if text.is_empty() {
        Ok(None)
    } else {
        version_id(text).map(Some)
    }
}

pub(crate) fn password(text: &str) -> Result<Password, Fail> {
    Ok(Password::new(text)?)
}

/// An id's hex text as a NUL-terminated `char[PV_ID_BUF_LEN]` (for the
/// fields of a C struct).
pub(crate) fn id_chars(hex: &str) -> [c_char; PV_ID_BUF_LEN] {
    let mut out = [0; PV_ID_BUF_LEN];
    for (slot, byte) in out.iter_mut().zip(hex.bytes().take(PV_ID_BUF_LEN - 1)) {
        *slot = byte as c_char;
    }
    out
}

/// Hands a changeset to C as a `pv_changeset` handle.
pub(crate) fn give(out: &mut *mut pv_changeset, changes: Changeset) {
    *out = into_handle(pv_changeset { inner: changes });
}

/// A caller-owned output buffer: `(buf, buf_len)` of an exported function.
///
/// `(NULL, 0)` is a size probe: an empty buffer, so the call does its work,
/// writes nothing and returns `PV_RESULT_BUFFER_TOO_SMALL` with the size
/// needed in `*out_len` (or, for an output that is itself empty, `PV_RESULT_OK`
/// with `*out_len == 0`). Every function that writes into a caller buffer
/// takes it through [`OutBuf::new`] (the `arg_out_buf!` macro), so the rule
/// is the same everywhere.
#[doc(hidden)]
#[derive(Debug)]
pub struct OutBuf {
    /// NULL only when `cap` is 0 (a probe).
    ptr: *mut u8,
    cap: usize,
}

impl OutBuf {
    /// Checks `(ptr, cap)`: NULL with a capacity above 0 is
    /// `PV_RESULT_NULL_PARAMETER`; NULL with 0 is a probe.
    pub(crate) fn new(ptr: *mut u8, cap: usize, name: &str) -> Result<Self, Fail> {
        if ptr.is_null() && cap != 0 {
            return Err(Fail::new(
                pv_result::NullParameter,
                format!(
                    "`{name}` is NULL but its length is {cap}; pass NULL with length 0 to ask for the size needed"
                ),
            ));
        }
        Ok(OutBuf { ptr, cap })
    }

    /// Fails with `PV_RESULT_BUFFER_TOO_SMALL` unless `needed` bytes fit
    /// (for fixed-size outputs, checked before any work).
    pub(crate) fn require(&self, needed: usize, name: &str) -> Result<(), Fail> {
        if self.cap < needed {
            return Err(too_small(name, needed, self.cap));
        }
        Ok(())
    }

    /// Copies `data` in and stores its length in `out_len`, or stores the
    /// size needed and fails without writing.
    pub(crate) fn write_bytes(&self, data: &[u8], out_len: &mut usize) -> Result<(), Fail> {
        *out_len = data.len();
        self.require(data.len(), "buffer")?;
        if data.is_empty() {
            // Nothing to copy, and `ptr` may be NULL (a probe).
            return Ok(());
        }
        // SAFETY: `cap >= data.len() > 0`, so `ptr` is not NULL (`new`
        // allows NULL only with `cap == 0`) and the caller guarantees `cap`
        // writable bytes there (documented on every function); a caller
        // buffer cannot overlap a Rust-owned value.
        unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), self.ptr, data.len()) };
        Ok(())
    }

    /// Copies `text` and a NUL in; `out_len` gets `text.len() + 1`.
    pub(crate) fn write_text(&self, text: &str, out_len: &mut usize) -> Result<(), Fail> {
        let needed = text.len() + 1;
        *out_len = needed;
        self.require(needed, "buffer")?;
        // SAFETY: as in `write_bytes`: `cap >= needed > 0`, so `ptr` is not
        // NULL and `needed` bytes are writable there; no overlap with `text`.
        unsafe {
            std::ptr::copy_nonoverlapping(text.as_ptr(), self.ptr, text.len());
            self.ptr.add(text.len()).write(0);
        }
        Ok(())
    }
}

fn too_small(name: &str, needed: usize, cap: usize) -> Fail {
    Fail::new(
        pv_result::BufferTooSmall,
        format!("`{name}` holds {cap} bytes but {needed} are needed; retry with a larger buffer"),
    )
}
