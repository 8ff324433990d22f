//! C ABI for promptvault (`libpromptvault_ffi`, header `include/promptvault.h`).
//!
//! The bindings are thin: every function converts C types to the core's
//! types, calls one core function and converts the result back. No logic
//! lives here. The conventions follow rustls-ffi:
//!
//! - **Names**: everything is prefixed `pv_`. Handles are opaque structs
//!   (`pv_vault`, `pv_changeset`, `pv_store`, `pv_bytes`) created by a
//!   function of the library and released with `pv_<type>_free`, which
//!   accepts NULL.
//! - **Results**: every function (except the `_free` ones and
//!   [`pv_version`]) returns a [`pv_result`] and is `#[must_use]` (the
//!   header's `PV_MUST_USE`: ignoring the result is a C compiler warning). Its numbers are the core's `promptvault::ErrorCode`
//!   numbers and are never reused. [`pv_result_message`] describes a code,
//!   [`pv_last_error_message`] the detail of the last failure on the calling
//!   thread.
//! - **Arguments**: inputs first, outputs last. `const` inputs are never
//!   mutated. Text inputs are NUL-terminated UTF-8 (`const char *`); binary
//!   inputs are a pointer followed by its length. Every pointer argument is
//!   required: NULL gives `PV_RESULT_NULL_PARAMETER` (a zero-length input may
//!   point anywhere non-NULL).
//! - **Outputs are caller-owned buffers.** Every byte or text output is
//!   copied into a buffer the caller provides, followed by its capacity and a
//!   `size_t *out_len`. `*out_len` receives the number of bytes written
//!   (text outputs are NUL-terminated and the count includes the NUL). When
//!   the buffer is too small the function returns
//!   `PV_RESULT_BUFFER_TOO_SMALL`, writes nothing and sets `*out_len` to the
//!   size needed: call again with a buffer that large. A NULL buffer with
//!   capacity 0 is such a buffer, so `(NULL, 0)` asks for the size (one
//!   rule, in `OutBuf`); NULL with a capacity above 0 is
//!   `PV_RESULT_NULL_PARAMETER`. `PV_RESULT_OK` always means the output was
//!   written. Results that are
//!   expensive or not repeatable (the records of a mutation, an export file)
//!   come in a handle (`pv_changeset`, `pv_bytes`) from which the caller
//!   copies them the same way. Fixed-size text outputs (ids, recovery keys)
//!   take a buffer of at least [`PV_ID_BUF_LEN`] or
//!   [`PV_RECOVERY_KEY_BUF_LEN`] bytes, checked before any work.
//! - **No partial success**: on any error no output is written (except
//!   `*out_len` for `PV_RESULT_BUFFER_TOO_SMALL`) and the vault is unchanged.
//! - **Panics** never cross the boundary: every exported body runs inside
//!   one `catch_unwind` (the `ffi_guard!` macro) and a caught panic is
//!   `PV_RESULT_PANIC`.
//! - **Threads**: every handle may be moved between threads. Functions that
//!   take a `const` handle may run concurrently on the same handle; a
//!   function that takes a non-`const` handle needs exclusive access to it
//!   (no other call on that handle at the same time). The last-error message
//!   is per thread.
#![allow(unsafe_code)]
#![allow(non_camel_case_types)]

use std::cell::RefCell;
use std::ffi::{CStr, c_char};

use promptvault::{Error, ErrorCode};

mod convert;
mod handles;
mod inspect;
mod prompts;
mod result;
mod sync;
mod vault;

pub use handles::*;
pub use inspect::*;
pub use prompts::*;
pub use result::pv_result;
pub use sync::*;
pub use vault::*;

#[doc(hidden)]
pub use convert::OutBuf;

/// Size of a buffer for an id: 32 lowercase hex digits and a NUL.
pub const PV_ID_BUF_LEN: usize = 33;

/// Size of a buffer for a recovery key: 62 characters (seven groups of
/// eight, hyphenated) and a NUL.
pub const PV_RECOVERY_KEY_BUF_LEN: usize = 63;

/// `credential_kind`: the secret is the vault password.
pub const PV_CREDENTIAL_PASSWORD: u32 = 0;

/// `credential_kind`: the secret is the recovery key (its text form).
pub const PV_CREDENTIAL_RECOVERY_KEY: u32 = 1;

/// The library's version, `"MAJOR.MINOR.PATCH"` (the crate's version), as
/// NUL-terminated text owned by the library: static, never free it. It
/// equals the header's `PV_VERSION_STRING` when the header and the library
/// come from the same build; compare the two to detect a mismatch at run
/// time.
///
/// # Returns
///
/// The version text, e.g. `"0.1.0"`.
#[must_use]
#[unsafe(no_mangle)]
pub extern "C" fn pv_version() -> *const c_char {
    VERSION.as_ptr().cast()
}

/// The crate version as C text (`CARGO_PKG_VERSION` and a NUL).
const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), "\0");

/// A failure on its way to C: the code and the detail for
/// [`pv_last_error_message`].
#[derive(Debug)]
pub struct Fail {
    code: pv_result,
    message: String,
}

impl From<Error> for Fail {
    fn from(e: Error) -> Self {
        Fail {
            code: pv_result::from_code(e.code()),
            message: e.to_string(),
        }
    }
}

impl Fail {
    pub(crate) fn new(code: pv_result, message: impl Into<String>) -> Self {
        Fail {
            code,
            message: message.into(),
        }
    }

    pub(crate) fn null(name: &str) -> Self {
        Fail::new(
            pv_result::NullParameter,
            format!("`{name}` is NULL; {}", ErrorCode::NullParameter.message()),
        )
    }

    pub(crate) fn json(what: &str, e: &serde_json::Error) -> Self {
        Fail::new(pv_result::Encoding, format!("invalid {what}: {e}"))
    }
}

thread_local! {
    static LAST_ERROR: RefCell<String> = const { RefCell::new(String::new()) };
}

fn set_last_error(message: String) {
    // `try_with` fails only while the thread is being torn down.
    let _ = LAST_ERROR.try_with(|l| {
        if let Ok(mut slot) = l.try_borrow_mut() {
            *slot = message;
        }
    });
}

#[doc(hidden)]
pub fn clear_last_error() {
    set_last_error(String::new());
}

/// The `pv_result` of an exported body; `record` stores a failure's
/// message for `pv_last_error_message` (off for the functions that read
/// the codes and the message, so that a probe of the message, or a
/// too-small buffer for it, leaves the message being read alone).
#[doc(hidden)]
pub fn finish(outcome: std::thread::Result<Result<(), Fail>>, record: bool) -> pv_result {
    let (code, message) = match outcome {
        Ok(Ok(())) => return pv_result::Ok,
        Ok(Err(fail)) => (fail.code, fail.message),
        Err(payload) => {
            let what = payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            (
                pv_result::Panic,
                format!("{} ({what})", ErrorCode::Panic.message()),
            )
        }
    };
    if record {
        set_last_error(message);
    }
    code
}

/// The one panic boundary: runs `$body` (a block evaluating to
/// `Result<(), Fail>`) inside `catch_unwind`, records the failure message for
/// `pv_last_error_message` and returns the `pv_result`. `keep_error` leaves
/// the previous last-error message alone, on success and on failure (for
/// the functions that describe codes and read the message).
#[macro_export]
#[doc(hidden)]
macro_rules! ffi_guard {
    (keep_error, $body:block) => {
        $crate::finish(
            ::std::panic::catch_unwind(::std::panic::AssertUnwindSafe(
                || -> ::core::result::Result<(), $crate::Fail> { $body },
            )),
            false,
        )
    };
    ($body:block) => {{
        $crate::clear_last_error();
        $crate::finish(
            ::std::panic::catch_unwind(::std::panic::AssertUnwindSafe(
                || -> ::core::result::Result<(), $crate::Fail> { $body },
            )),
            true,
        )
    }};
}

/// `&T` from a `const T *` argument; NULL returns `PV_RESULT_NULL_PARAMETER`.
macro_rules! arg_ref {
    ($p:ident) => {
        // SAFETY: every exported function documents that a non-NULL pointer
        // argument must point to a live, aligned value of its type that is
        // not mutated for the duration of the call; NULL is handled here.
        match unsafe { $p.as_ref() } {
            Some(r) => r,
            None => return Err($crate::Fail::null(stringify!($p))),
        }
    };
}

/// `&mut T` from a `T *` argument (handles and out-pointers); NULL returns
/// `PV_RESULT_NULL_PARAMETER`.
macro_rules! arg_mut {
    ($p:ident) => {
        // SAFETY: every exported function documents that a non-NULL pointer
        // argument must point to a live, aligned value of its type that no
        // one else accesses during the call; NULL is handled here.
        match unsafe { $p.as_mut() } {
            Some(r) => r,
            None => return Err($crate::Fail::null(stringify!($p))),
        }
    };
}

/// `&str` from a NUL-terminated UTF-8 `const char *` argument.
macro_rules! arg_str {
    ($p:ident) => {
        if $p.is_null() {
            return Err($crate::Fail::null(stringify!($p)));
        } else {
            // SAFETY: not NULL (checked above); every exported function
            // documents that a text argument is NUL-terminated and stays
            // valid and unmodified for the duration of the call.
            $crate::utf8(unsafe { ::std::ffi::CStr::from_ptr($p) }, stringify!($p))?
        }
    };
}

/// `&[u8]` from a `const uint8_t *` and its length.
macro_rules! arg_bytes {
    ($p:ident, $len:ident) => {
        if $p.is_null() {
            return Err($crate::Fail::null(stringify!($p)));
        } else if $len > isize::MAX as usize {
            return Err($crate::Fail::new(
                $crate::pv_result::LimitExceeded,
                concat!("`", stringify!($len), "` is larger than isize::MAX"),
            ));
        } else {
            // SAFETY: not NULL and at most isize::MAX bytes (checked above);
            // every exported function documents that a binary argument points
            // to `len` readable bytes that stay unmodified during the call.
            unsafe { ::std::slice::from_raw_parts($p, $len) }
        }
    };
}

/// An output buffer `(uint8_t *buf, size_t buf_len)`, checked now and
/// written only once the result is known (see [`OutBuf::new`]:
/// `(NULL, 0)` is a size probe).
macro_rules! arg_out_buf {
    ($p:ident, $len:ident) => {
        $crate::OutBuf::new($p.cast::<u8>(), $len, stringify!($p))?
    };
}

pub(crate) use {arg_bytes, arg_mut, arg_out_buf, arg_ref, arg_str};

#[doc(hidden)]
pub fn utf8<'a>(s: &'a CStr, name: &str) -> Result<&'a str, Fail> {
    s.to_str().map_err(|_| {
        Fail::new(
            pv_result::InvalidUtf8,
            format!("`{name}` is not valid UTF-8"),
        )
    })
}

/// Writes the stable name of a result code (`"AUTHENTICATION"`, …) as
/// NUL-terminated text. Leaves the last-error message alone.
///
/// # Errors
///
/// `PV_RESULT_INVALID_INPUT` for a number that is not a code;
/// `PV_RESULT_NULL_PARAMETER`; `PV_RESULT_BUFFER_TOO_SMALL`.
///
/// # Safety
///
/// `buf` must point to `buf_len` writable bytes and `out_len` to a writable
/// `size_t`.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pv_result_name(
    code: u32,
    buf: *mut c_char,
    buf_len: usize,
    out_len: *mut usize,
) -> pv_result {
    ffi_guard!(keep_error, {
        let buf = arg_out_buf!(buf, buf_len);
        let out_len = arg_mut!(out_len);
        let code = known_code(code)?;
        buf.write_text(code.name(), out_len)
    })
}

/// Writes a generic message for a result code, saying what went wrong and
/// what to do, as NUL-terminated text. Leaves the last-error message
/// alone.
///
/// # Errors
///
/// `PV_RESULT_INVALID_INPUT` for a number that is not a code;
/// `PV_RESULT_NULL_PARAMETER`; `PV_RESULT_BUFFER_TOO_SMALL`.
///
/// # Safety
///
/// `buf` must point to `buf_len` writable bytes and `out_len` to a writable
/// `size_t`.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pv_result_message(
    code: u32,
    buf: *mut c_char,
    buf_len: usize,
    out_len: *mut usize,
) -> pv_result {
    ffi_guard!(keep_error, {
        let buf = arg_out_buf!(buf, buf_len);
        let out_len = arg_mut!(out_len);
        let code = known_code(code)?;
        buf.write_text(code.message(), out_len)
    })
}

fn known_code(code: u32) -> Result<ErrorCode, Fail> {
    ErrorCode::from_u32(code).ok_or_else(|| {
        Fail::new(
            pv_result::InvalidInput,
            format!("{code} is not a pv_result code"),
        )
    })
}

/// Writes the detailed message of the last failed call on this thread (an
/// empty string after a successful call) as NUL-terminated text. Reading it
/// does not change it, even when this call fails (a size probe, a buffer
/// too small): probe its size, then read it.
///
/// # Errors
///
/// `PV_RESULT_NULL_PARAMETER`; `PV_RESULT_BUFFER_TOO_SMALL`.
///
/// # Safety
///
/// `buf` must point to `buf_len` writable bytes and `out_len` to a writable
/// `size_t`.
///
/// # Security
///
/// Authentication failures carry no detail: the message of a wrong
/// password and of tampered data are the same.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pv_last_error_message(
    buf: *mut c_char,
    buf_len: usize,
    out_len: *mut usize,
) -> pv_result {
    ffi_guard!(keep_error, {
        let buf = arg_out_buf!(buf, buf_len);
        let out_len = arg_mut!(out_len);
        let message = LAST_ERROR
            .try_with(|l| l.try_borrow().map(|s| s.clone()).unwrap_or_default())
            .unwrap_or_default();
        buf.write_text(&message, out_len)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_core_code_maps_to_the_same_number() {
        for code in ErrorCode::ALL {
            assert_eq!(pv_result::from_code(code) as u32, code.as_u32(), "{code:?}");
        }
    }

    #[test]
    fn a_panic_is_caught_at_the_boundary() {
        fn boom(flag: bool) -> pv_result {
            ffi_guard!({
                if flag {
                    #[allow(clippy::panic)]
                    {
                        panic!("deliberate test panic");
                    }
                }
                Ok(())
            })
        }
        assert_eq!(boom(false), pv_result::Ok);
        assert_eq!(boom(true), pv_result::Panic);
        let msg = LAST_ERROR.with(|l| l.borrow().clone());
        assert!(msg.contains("deliberate test panic"), "{msg}");
        assert_eq!(boom(false), pv_result::Ok);
        assert!(LAST_ERROR.with(|l| l.borrow().is_empty()));
    }
}
