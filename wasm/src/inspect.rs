//! The keyless API for servers that run JS: validate a record and read its
//! public routing fields without any key.

use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;

use crate::convert::{record_bytes, to_js};
use crate::error::IntoJs;
use crate::types::{RecordInfo, RecordInput};

/// Validates one record (binary or base64url) and reports its public
/// fields. Never decrypts; authenticity is not claimed.
///
/// # Errors
///
/// `MALFORMED`, `UNSUPPORTED_VERSION`, `UNSUPPORTED_SUITE`, `WRONG_KIND`,
/// `LIMIT_EXCEEDED`, `KDF_PARAMS_OUT_OF_BOUNDS`, `ENCODING`.
#[wasm_bindgen]
pub fn inspect(record: RecordInput) -> Result<RecordInfo, JsValue> {
    let bytes = record_bytes(&record)?;
    let info = promptvault::inspect::inspect(&bytes).js()?;
    to_js(&info).map(JsCast::unchecked_into)
}

/// Checks that `record` belongs to `vault` (an id) and is the value a
/// server may store under `key` (quotas are the caller's).
///
/// # Errors
///
/// As `inspect`; `WRONG_VAULT`; `INVALID_INPUT` when the key does not match.
#[wasm_bindgen(js_name = validateForStore)]
pub fn validate_for_store(
    record: RecordInput,
    vault: &str,
    key: &str,
) -> Result<RecordInfo, JsValue> {
    let bytes = record_bytes(&record)?;
    let vault = vault.parse().js()?;
    let info = promptvault::inspect::validate_for_store(&bytes, vault, key).js()?;
    to_js(&info).map(JsCast::unchecked_into)
}
