//! Errors as real JS `Error`s carrying the stable numeric code of
//! [`promptvault::ErrorCode`].

use js_sys::Reflect;
use wasm_bindgen::prelude::*;

/// The `name` every error thrown by this package carries.
pub const ERROR_NAME: &str = "PromptVaultError";

/// Stable numeric error codes, the same numbers as [`promptvault::ErrorCode`]
/// in Rust and `pv_result` in the C ABI. Numbers are never reused.
#[wasm_bindgen]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum ErrorCode {
    /// Not an error.
    Ok = 0,
    /// Wrong password or key, or the data was tampered with (deliberately opaque).
    Authentication = 1,
    /// The bytes are not a well-formed record, header, bundle or key.
    Malformed = 2,
    /// The data was written by a newer format version.
    UnsupportedVersion = 3,
    /// An unknown algorithm suite.
    UnsupportedSuite = 4,
    /// KDF parameters outside the documented bounds.
    KdfParamsOutOfBounds = 5,
    /// A size or count limit was exceeded.
    LimitExceeded = 6,
    /// A recovery key with a bad format or checksum.
    InvalidRecoveryKey = 7,
    /// An argument was rejected (empty title, bad id, wrong argument type, a locked vault…).
    InvalidInput = 8,
    /// The prompt, version or tag does not exist.
    NotFound = 9,
    /// The record belongs to another vault.
    WrongVault = 10,
    /// Older than a revision already seen.
    Rollback = 11,
    /// Text that is not canonical base64url, hex or JSON.
    Encoding = 12,
    /// A string argument that is not valid UTF-8.
    InvalidUtf8 = 13,
    /// The system random number generator failed.
    Randomness = 14,
    /// A record of a kind not accepted here.
    WrongKind = 15,
    /// A record the vault refers to is missing.
    MissingRecord = 16,
    /// A null pointer (C ABI only; reserved).
    NullParameter = 100,
    /// A caught panic (reserved; this package has no panic path).
    Panic = 101,
    /// Output buffer too small (C ABI only; reserved).
    BufferTooSmall = 102,
}

/// Builds the JS error for `code` with `message`.
pub(crate) fn js_error(code: promptvault::ErrorCode, message: &str) -> JsValue {
    let err = js_sys::Error::new(message);
    err.set_name(ERROR_NAME);
    // `Reflect::set` on a fresh, extensible Error object cannot fail; if it
    // ever did, the error would still be a thrown `Error` with a message.
    let _ = Reflect::set(
        &err,
        &JsValue::from_str("code"),
        &JsValue::from(code.as_u32()),
    );
    let _ = Reflect::set(
        &err,
        &JsValue::from_str("codeName"),
        &JsValue::from_str(code.name()),
    );
    err.into()
}

/// Converts a core error into a JS error with its code.
pub(crate) fn from_core(e: &promptvault::Error) -> JsValue {
    js_error(e.code(), &e.to_string())
}

/// An argument the binding could not convert (always `INVALID_INPUT`).
pub(crate) fn invalid(message: &str) -> JsValue {
    js_error(
        promptvault::ErrorCode::InvalidInput,
        &format!("invalid input: {message}"),
    )
}

/// Shorthand: map a core result into a JS result.
pub(crate) trait IntoJs<T> {
    /// Maps the error into a JS error.
    fn js(self) -> Result<T, JsValue>;
}

impl<T> IntoJs<T> for promptvault::Result<T> {
    fn js(self) -> Result<T, JsValue> {
        self.map_err(|e| from_core(&e))
    }
}

/// Whether `value` is an error thrown by this package (a JS `Error` whose
/// `name` is `"PromptVaultError"` and whose `code` is a number).
///
/// TypeScript sees it as the type guard `(e: unknown) => e is PromptVaultError`.
#[wasm_bindgen(js_name = isPromptVaultError, skip_typescript)]
#[must_use]
pub fn is_promptvault_error(value: &JsValue) -> bool {
    if !value.is_instance_of::<js_sys::Error>() {
        return false;
    }
    let name = Reflect::get(value, &JsValue::from_str("name")).ok();
    let code = Reflect::get(value, &JsValue::from_str("code")).ok();
    name.and_then(|n| n.as_string()).as_deref() == Some(ERROR_NAME)
        && code.and_then(|c| c.as_f64()).is_some()
}

/// The stable name of a numeric code (`"AUTHENTICATION"`, …), or
/// `undefined` for a number that is not a code.
#[wasm_bindgen(js_name = errorCodeName)]
#[must_use]
pub fn error_code_name(code: u32) -> Option<String> {
    promptvault::ErrorCode::from_u32(code).map(|c| c.name().to_owned())
}

#[cfg(test)]
mod tests {
    use super::ErrorCode;

    /// The JS enum mirrors core's codes one for one, by number and name.
    #[test]
    fn js_codes_mirror_core() {
        let mirror = [
            (ErrorCode::Ok, "Ok"),
            (ErrorCode::Authentication, "Authentication"),
            (ErrorCode::Malformed, "Malformed"),
            (ErrorCode::UnsupportedVersion, "UnsupportedVersion"),
            (ErrorCode::UnsupportedSuite, "UnsupportedSuite"),
            (ErrorCode::KdfParamsOutOfBounds, "KdfParamsOutOfBounds"),
            (ErrorCode::LimitExceeded, "LimitExceeded"),
            (ErrorCode::InvalidRecoveryKey, "InvalidRecoveryKey"),
            (ErrorCode::InvalidInput, "InvalidInput"),
            (ErrorCode::NotFound, "NotFound"),
            (ErrorCode::WrongVault, "WrongVault"),
            (ErrorCode::Rollback, "Rollback"),
            (ErrorCode::Encoding, "Encoding"),
            (ErrorCode::InvalidUtf8, "InvalidUtf8"),
            (ErrorCode::Randomness, "Randomness"),
            (ErrorCode::WrongKind, "WrongKind"),
            (ErrorCode::MissingRecord, "MissingRecord"),
            (ErrorCode::NullParameter, "NullParameter"),
            (ErrorCode::Panic, "Panic"),
            (ErrorCode::BufferTooSmall, "BufferTooSmall"),
        ];
        assert_eq!(mirror.len(), promptvault::ErrorCode::ALL.len());
        for ((js, js_name), core) in mirror.iter().zip(promptvault::ErrorCode::ALL) {
            assert_eq!(*js as u32, core.as_u32());
            assert_eq!(format!("{core:?}"), *js_name);
            assert_eq!(format!("{js:?}"), *js_name);
        }
    }
}
