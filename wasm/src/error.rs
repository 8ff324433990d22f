//! Errors as real JS `Error`s carrying the stable numeric code of
//! [`promptvault::ErrorCode`].

use js_sys::Reflect;
use wasm_bindgen::prelude::*;

/// The `name` every error thrown by this package carries.
pub const ERROR_NAME: &str = "PromptVaultError";

/// Emits the JS `ErrorCode` enum and the TypeScript `ErrorCodeName` type
/// from core's one error table (`promptvault::error_code_table!`), so
/// neither is a hand-kept mirror.
macro_rules! js_error_codes {
    ($( $(#[doc = $doc:literal])* $variant:ident = $number:literal, $name:literal, $message:literal; )*) => {
        /// Stable numeric error codes, the same numbers as
        /// [`promptvault::ErrorCode`] in Rust and `pv_result` in the C ABI
        /// (emitted from core's one table). Numbers are never reused.
        #[wasm_bindgen]
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        #[repr(u32)]
        pub enum ErrorCode {
            $( $(#[doc = $doc])* $variant = $number, )*
        }

        /// `ErrorCodeName`: the stable names, in code order.
        #[wasm_bindgen(typescript_custom_section)]
        const ERROR_CODE_NAMES: &str = concat!(
            "/** Stable names of the error codes (`err.codeName`). */\nexport type ErrorCodeName =",
            $( "\n  | \"", $name, "\"", )*
            ";\n"
        );
    };
}

promptvault::error_code_table!(js_error_codes);

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

/// Converts a core error into a JS error with its code and its JS text
/// (camelCase names, no Rust syntax: [`promptvault::Error::js_message`]).
pub(crate) fn from_core(e: &promptvault::Error) -> JsValue {
    js_error(e.code(), &e.js_message())
}

/// Converts a sync error into a JS error with its code and message; a
/// server's refusal also carries `httpStatus` and `serverCode` (the
/// protocol's stable code, SPEC §12.9), so an app can tell `unauthorized`
/// (log in again) from the rest.
pub(crate) fn from_sync(e: &promptvault::sync::SyncError) -> JsValue {
    let err = match e {
        promptvault::sync::SyncError::Vault(inner) => return from_core(inner),
        other => js_error(other.code(), &other.to_string()),
    };
    if let promptvault::sync::SyncError::Refused { status, code, .. } = e {
        // As in `js_error`: setting a field of a fresh Error cannot fail.
        let _ = Reflect::set(
            &err,
            &JsValue::from_str("httpStatus"),
            &JsValue::from(*status),
        );
        let _ = Reflect::set(
            &err,
            &JsValue::from_str("serverCode"),
            &JsValue::from_str(code),
        );
    }
    err
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

    /// The emitted enum has core's codes, one for one (a guard on the macro).
    #[test]
    fn js_codes_are_core_s() {
        assert_eq!(ErrorCode::BufferTooSmall as u32, 102);
        assert_eq!(
            format!("{:?}", ErrorCode::KdfParamsOutOfBounds),
            format!("{:?}", promptvault::ErrorCode::KdfParamsOutOfBounds)
        );
    }
}
