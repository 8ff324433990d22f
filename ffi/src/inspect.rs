//! The keyless API for servers: validate a record and read its public
//! routing fields without any key.

use std::ffi::c_char;

use promptvault::VaultId;
use promptvault::inspect;

use crate::convert::to_json;
use crate::{Fail, arg_bytes, arg_mut, arg_out_buf, arg_str, ffi_guard, pv_result};

/// Validates one record (binary form) and writes its public fields as JSON:
/// `{"kind", "kindCode", "vaultId", "promptId", "versionId",
/// "keyGeneration", "revision", "size", "storageKey", "kdf"}`. Needs no key
/// and claims no authenticity.
///
/// # Errors
///
/// `PV_RESULT_MALFORMED`, `PV_RESULT_UNSUPPORTED_VERSION`,
/// `PV_RESULT_UNSUPPORTED_SUITE`, `PV_RESULT_WRONG_KIND`,
/// `PV_RESULT_LIMIT_EXCEEDED`, `PV_RESULT_KDF_PARAMS_OUT_OF_BOUNDS` naming
/// what is wrong; `PV_RESULT_BUFFER_TOO_SMALL`; `PV_RESULT_NULL_PARAMETER`.
///
/// # Safety
///
/// `record` must point to `record_len` readable bytes; `buf` to `buf_len`
/// writable bytes; `out_len` to a writable `size_t`.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pv_inspect(
    record: *const u8,
    record_len: usize,
    buf: *mut c_char,
    buf_len: usize,
    out_len: *mut usize,
) -> pv_result {
    ffi_guard!({
        let record = arg_bytes!(record, record_len);
        let buf = arg_out_buf!(buf, buf_len);
        let out_len = arg_mut!(out_len);
        buf.write_text(&to_json(&inspect::inspect(record)?)?, out_len)
    })
}

/// As [`pv_inspect`], for the base64url text form of a record.
///
/// # Errors
///
/// `PV_RESULT_ENCODING` for text that is not canonical base64url, then as
/// [`pv_inspect`].
///
/// # Safety
///
/// `record_text` must be NUL-terminated; `buf` must point to `buf_len`
/// writable bytes; `out_len` to a writable `size_t`.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pv_inspect_text(
    record_text: *const c_char,
    buf: *mut c_char,
    buf_len: usize,
    out_len: *mut usize,
) -> pv_result {
    ffi_guard!({
        let record_text = arg_str!(record_text);
        let buf = arg_out_buf!(buf, buf_len);
        let out_len = arg_mut!(out_len);
        buf.write_text(&to_json(&inspect::inspect_text(record_text)?)?, out_len)
    })
}

/// Checks that `record` belongs to vault `vault_id` and may be stored under
/// `storage_key`, then writes its public fields as in [`pv_inspect`].
///
/// # Errors
///
/// As [`pv_inspect`]; `PV_RESULT_WRONG_VAULT` for another vault's record;
/// `PV_RESULT_INVALID_INPUT` when the storage key does not match;
/// `PV_RESULT_ENCODING` for a bad vault id.
///
/// # Safety
///
/// `record` must point to `record_len` readable bytes; `vault_id` and
/// `storage_key` must be NUL-terminated; `buf` must point to `buf_len`
/// writable bytes; `out_len` to a writable `size_t`.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pv_validate_for_store(
    record: *const u8,
    record_len: usize,
    vault_id: *const c_char,
    storage_key: *const c_char,
    buf: *mut c_char,
    buf_len: usize,
    out_len: *mut usize,
) -> pv_result {
    ffi_guard!({
        let record = arg_bytes!(record, record_len);
        let vault_id = arg_str!(vault_id);
        let storage_key = arg_str!(storage_key);
        let buf = arg_out_buf!(buf, buf_len);
        let out_len = arg_mut!(out_len);
        let vault: VaultId = vault_id.parse().map_err(Fail::from)?;
        let info = inspect::validate_for_store(record, vault, storage_key)?;
        buf.write_text(&to_json(&info)?, out_len)
    })
}
