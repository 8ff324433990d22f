//! Result handles: `pv_bytes` (an export file), `pv_changeset` (the records
//! a mutation asks the store to write and delete) and `pv_store` (core's
//! `MemoryStore`: a whole vault as one bundle).

use std::ffi::c_char;

use promptvault::{Changeset, MemoryStore};

use crate::{Fail, arg_bytes, arg_mut, arg_out_buf, arg_ref, ffi_guard, pv_result};

/// Bytes produced by the library that cannot be produced again (an export
/// file). Copy them out with [`pv_bytes_copy`]; free with [`pv_bytes_free`].
///
/// Thread safety: may be moved between threads and read from several at
/// once; `pv_bytes_free` needs exclusive access.
#[derive(Debug)]
pub struct pv_bytes {
    pub(crate) inner: Vec<u8>,
}

/// The records to write and delete after a vault operation (core's
/// `Changeset`). Apply in this order: the header (if any), every put
/// (replacing the record with the same storage key), then every delete —
/// or hand it to [`pv_store_apply`]. Free with [`pv_changeset_free`].
///
/// Thread safety: may be moved between threads and read from several at
/// once; `pv_changeset_free` needs exclusive access.
#[derive(Debug)]
pub struct pv_changeset {
    pub(crate) inner: Changeset,
}

/// An in-memory record store (core's `MemoryStore`): apply changesets to it
/// and save it as one bundle, or load a bundle and open the vault from it
/// with [`crate::pv_vault_open_store`]. Free with [`pv_store_free`].
///
/// Thread safety: may be moved between threads; functions taking a `const`
/// store may run concurrently; [`pv_store_apply`] and [`pv_store_free`]
/// need exclusive access.
#[derive(Debug)]
pub struct pv_store {
    pub(crate) inner: MemoryStore,
}

/// Moves a value to the heap and hands C the pointer.
pub(crate) fn into_handle<T>(value: T) -> *mut T {
    Box::into_raw(Box::new(value))
}

/// Frees a handle made by [`into_handle`]; NULL does nothing.
///
/// # Safety
///
/// `p` is NULL or came from `into_handle::<T>` and is not used afterwards.
pub(crate) unsafe fn free_handle<T>(p: *mut T) {
    if !p.is_null() {
        // SAFETY: per this function's contract `p` came from
        // `Box::into_raw` for a `T` and ownership returns here exactly once.
        drop(unsafe { Box::from_raw(p) });
    }
}

pub(crate) fn entry<'a, T>(list: &'a [T], index: usize, what: &str) -> Result<&'a T, Fail> {
    list.get(index).ok_or_else(|| {
        Fail::new(
            pv_result::NotFound,
            format!("{what} {index} does not exist (there are {})", list.len()),
        )
    })
}

/// Stores the number of bytes held in `*out_len`.
///
/// # Errors
///
/// `PV_RESULT_NULL_PARAMETER`.
///
/// # Safety
///
/// `bytes` must be a live `pv_bytes`; `out_len` must point to a writable
/// `size_t`.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pv_bytes_len(bytes: *const pv_bytes, out_len: *mut usize) -> pv_result {
    ffi_guard!({
        let bytes = arg_ref!(bytes);
        let out_len = arg_mut!(out_len);
        *out_len = bytes.inner.len();
        Ok(())
    })
}

/// Copies the bytes into `buf`.
///
/// # Errors
///
/// `PV_RESULT_NULL_PARAMETER`; `PV_RESULT_BUFFER_TOO_SMALL` (with the size
/// needed in `*out_len`).
///
/// # Safety
///
/// `bytes` must be a live `pv_bytes`; `buf` must point to `buf_len` writable
/// bytes; `out_len` to a writable `size_t`.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pv_bytes_copy(
    bytes: *const pv_bytes,
    buf: *mut u8,
    buf_len: usize,
    out_len: *mut usize,
) -> pv_result {
    ffi_guard!({
        let bytes = arg_ref!(bytes);
        let buf = arg_out_buf!(buf, buf_len);
        let out_len = arg_mut!(out_len);
        buf.write_bytes(&bytes.inner, out_len)
    })
}

/// Frees a `pv_bytes`. NULL does nothing.
///
/// # Safety
///
/// `bytes` must be NULL or a `pv_bytes` from this library, not used again.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pv_bytes_free(bytes: *mut pv_bytes) {
    let _ = ffi_guard!({
        // SAFETY: the caller hands back a pointer from this library (or NULL).
        unsafe { free_handle(bytes) };
        Ok(())
    });
}

/// Stores whether the changeset carries a new vault header.
///
/// # Errors
///
/// `PV_RESULT_NULL_PARAMETER`.
///
/// # Safety
///
/// `changes` must be a live `pv_changeset`; `out_has_header` must point to
/// a writable `bool`.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pv_changeset_has_header(
    changes: *const pv_changeset,
    out_has_header: *mut bool,
) -> pv_result {
    ffi_guard!({
        let changes = arg_ref!(changes);
        let out_has_header = arg_mut!(out_has_header);
        *out_has_header = changes.inner.header.is_some();
        Ok(())
    })
}

/// Copies the new vault header (binary form) into `buf`.
///
/// # Errors
///
/// `PV_RESULT_NOT_FOUND` when the changeset has no header;
/// `PV_RESULT_NULL_PARAMETER`; `PV_RESULT_BUFFER_TOO_SMALL`.
///
/// # Safety
///
/// `changes` must be a live `pv_changeset`; `buf` must point to `buf_len`
/// writable bytes; `out_len` to a writable `size_t`.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pv_changeset_header(
    changes: *const pv_changeset,
    buf: *mut u8,
    buf_len: usize,
    out_len: *mut usize,
) -> pv_result {
    ffi_guard!({
        let changes = arg_ref!(changes);
        let buf = arg_out_buf!(buf, buf_len);
        let out_len = arg_mut!(out_len);
        let header =
            changes.inner.header.as_ref().ok_or_else(|| {
                Fail::new(pv_result::NotFound, "the changeset has no vault header")
            })?;
        buf.write_bytes(header.as_bytes(), out_len)
    })
}

/// Stores the number of records to write (header not included).
///
/// # Errors
///
/// `PV_RESULT_NULL_PARAMETER`.
///
/// # Safety
///
/// `changes` must be a live `pv_changeset`; `out_count` must point to a
/// writable `size_t`.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pv_changeset_put_count(
    changes: *const pv_changeset,
    out_count: *mut usize,
) -> pv_result {
    ffi_guard!({
        let changes = arg_ref!(changes);
        let out_count = arg_mut!(out_count);
        *out_count = changes.inner.puts.len();
        Ok(())
    })
}

/// Copies record `index` to write (binary form) into `buf`.
///
/// # Errors
///
/// `PV_RESULT_NOT_FOUND` for an index past the end;
/// `PV_RESULT_NULL_PARAMETER`; `PV_RESULT_BUFFER_TOO_SMALL`.
///
/// # Safety
///
/// `changes` must be a live `pv_changeset`; `buf` must point to `buf_len`
/// writable bytes; `out_len` to a writable `size_t`.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pv_changeset_put(
    changes: *const pv_changeset,
    index: usize,
    buf: *mut u8,
    buf_len: usize,
    out_len: *mut usize,
) -> pv_result {
    ffi_guard!({
        let changes = arg_ref!(changes);
        let buf = arg_out_buf!(buf, buf_len);
        let out_len = arg_mut!(out_len);
        let record = entry(&changes.inner.puts, index, "put")?;
        buf.write_bytes(record.as_bytes(), out_len)
    })
}

/// Copies the storage key of record `index` to write (where a store keeps
/// it, e.g. `"v.<prompt>.<version>"`) into `buf` as NUL-terminated text.
///
/// # Errors
///
/// `PV_RESULT_NOT_FOUND` for an index past the end;
/// `PV_RESULT_NULL_PARAMETER`; `PV_RESULT_BUFFER_TOO_SMALL`.
///
/// # Safety
///
/// `changes` must be a live `pv_changeset`; `buf` must point to `buf_len`
/// writable bytes; `out_len` to a writable `size_t`.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pv_changeset_put_storage_key(
    changes: *const pv_changeset,
    index: usize,
    buf: *mut c_char,
    buf_len: usize,
    out_len: *mut usize,
) -> pv_result {
    ffi_guard!({
        let changes = arg_ref!(changes);
        let buf = arg_out_buf!(buf, buf_len);
        let out_len = arg_mut!(out_len);
        let record = entry(&changes.inner.puts, index, "put")?;
        buf.write_text(&record.storage_key(), out_len)
    })
}

/// Stores the number of storage keys to delete.
///
/// # Errors
///
/// `PV_RESULT_NULL_PARAMETER`.
///
/// # Safety
///
/// `changes` must be a live `pv_changeset`; `out_count` must point to a
/// writable `size_t`.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pv_changeset_delete_count(
    changes: *const pv_changeset,
    out_count: *mut usize,
) -> pv_result {
    ffi_guard!({
        let changes = arg_ref!(changes);
        let out_count = arg_mut!(out_count);
        *out_count = changes.inner.deletes.len();
        Ok(())
    })
}

/// Copies storage key `index` to delete into `buf` as NUL-terminated text.
///
/// # Errors
///
/// `PV_RESULT_NOT_FOUND` for an index past the end;
/// `PV_RESULT_NULL_PARAMETER`; `PV_RESULT_BUFFER_TOO_SMALL`.
///
/// # Safety
///
/// `changes` must be a live `pv_changeset`; `buf` must point to `buf_len`
/// writable bytes; `out_len` to a writable `size_t`.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pv_changeset_delete(
    changes: *const pv_changeset,
    index: usize,
    buf: *mut c_char,
    buf_len: usize,
    out_len: *mut usize,
) -> pv_result {
    ffi_guard!({
        let changes = arg_ref!(changes);
        let buf = arg_out_buf!(buf, buf_len);
        let out_len = arg_mut!(out_len);
        let key = entry(&changes.inner.deletes, index, "delete")?;
        buf.write_text(key, out_len)
    })
}

/// Frees a changeset. NULL does nothing.
///
/// # Safety
///
/// `changes` must be NULL or a `pv_changeset` from this library, not used
/// again.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pv_changeset_free(changes: *mut pv_changeset) {
    let _ = ffi_guard!({
        // SAFETY: the caller hands back a pointer from this library (or NULL).
        unsafe { free_handle(changes) };
        Ok(())
    });
}

/// Makes an empty store.
///
/// # Errors
///
/// `PV_RESULT_NULL_PARAMETER`.
///
/// # Safety
///
/// `out_store` must point to a writable `pv_store *`; on success it receives
/// a store to free with [`pv_store_free`].
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pv_store_new(out_store: *mut *mut pv_store) -> pv_result {
    ffi_guard!({
        let out_store = arg_mut!(out_store);
        *out_store = into_handle(pv_store {
            inner: MemoryStore::new(),
        });
        Ok(())
    })
}

/// Parses a bundle (the vault header followed by every record, as
/// [`pv_store_bundle`] writes it) strictly into a store.
///
/// # Errors
///
/// `PV_RESULT_MALFORMED` for a bundle that is not well-formed (records out
/// of order, another vault's record, trailing bytes…);
/// `PV_RESULT_UNSUPPORTED_VERSION`; `PV_RESULT_LIMIT_EXCEEDED`;
/// `PV_RESULT_NULL_PARAMETER`.
///
/// # Safety
///
/// `bundle` must point to `bundle_len` readable bytes; `out_store` to a
/// writable `pv_store *`.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pv_store_from_bundle(
    bundle: *const u8,
    bundle_len: usize,
    out_store: *mut *mut pv_store,
) -> pv_result {
    ffi_guard!({
        let bundle = arg_bytes!(bundle, bundle_len);
        let out_store = arg_mut!(out_store);
        let inner = MemoryStore::from_bundle(bundle)?;
        *out_store = into_handle(pv_store { inner });
        Ok(())
    })
}

/// Applies a changeset: header, puts, deletes.
///
/// # Errors
///
/// `PV_RESULT_NULL_PARAMETER`.
///
/// # Safety
///
/// `store` must be a live `pv_store` not used by another thread during the
/// call; `changes` a live `pv_changeset`.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pv_store_apply(
    store: *mut pv_store,
    changes: *const pv_changeset,
) -> pv_result {
    ffi_guard!({
        let store = arg_mut!(store);
        let changes = arg_ref!(changes);
        store.inner.apply(&changes.inner);
        Ok(())
    })
}

/// Stores the number of records held (header not included).
///
/// # Errors
///
/// `PV_RESULT_NULL_PARAMETER`.
///
/// # Safety
///
/// `store` must be a live `pv_store`; `out_count` must point to a writable
/// `size_t`.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pv_store_record_count(
    store: *const pv_store,
    out_count: *mut usize,
) -> pv_result {
    ffi_guard!({
        let store = arg_ref!(store);
        let out_count = arg_mut!(out_count);
        *out_count = store.inner.len();
        Ok(())
    })
}

/// Copies the stored vault header (binary form) into `buf`.
///
/// # Errors
///
/// `PV_RESULT_MISSING_RECORD` when no header was stored yet;
/// `PV_RESULT_NULL_PARAMETER`; `PV_RESULT_BUFFER_TOO_SMALL`.
///
/// # Safety
///
/// `store` must be a live `pv_store`; `buf` must point to `buf_len` writable
/// bytes; `out_len` to a writable `size_t`.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pv_store_header(
    store: *const pv_store,
    buf: *mut u8,
    buf_len: usize,
    out_len: *mut usize,
) -> pv_result {
    ffi_guard!({
        let store = arg_ref!(store);
        let buf = arg_out_buf!(buf, buf_len);
        let out_len = arg_mut!(out_len);
        let header = store
            .inner
            .header()
            .ok_or(promptvault::Error::MissingRecord {
                what: "vault header",
            })?;
        buf.write_bytes(header, out_len)
    })
}

/// Copies stored record `index` (in storage-key order, header not included)
/// into `buf` — with [`pv_store_header`], what [`crate::pv_vault_open`]
/// takes.
///
/// # Errors
///
/// `PV_RESULT_NOT_FOUND` for an index past the end;
/// `PV_RESULT_NULL_PARAMETER`; `PV_RESULT_BUFFER_TOO_SMALL`.
///
/// # Safety
///
/// `store` must be a live `pv_store`; `buf` must point to `buf_len` writable
/// bytes; `out_len` to a writable `size_t`.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pv_store_record(
    store: *const pv_store,
    index: usize,
    buf: *mut u8,
    buf_len: usize,
    out_len: *mut usize,
) -> pv_result {
    ffi_guard!({
        let store = arg_ref!(store);
        let buf = arg_out_buf!(buf, buf_len);
        let out_len = arg_mut!(out_len);
        let records = store.inner.record_bytes();
        buf.write_bytes(entry(&records, index, "record")?, out_len)
    })
}

/// Copies the whole store as one bundle into `buf` (deterministic: the
/// same records always give the same bytes).
///
/// # Errors
///
/// `PV_RESULT_MISSING_RECORD` when no header was stored yet;
/// `PV_RESULT_NULL_PARAMETER`; `PV_RESULT_BUFFER_TOO_SMALL`.
///
/// # Safety
///
/// `store` must be a live `pv_store`; `buf` must point to `buf_len` writable
/// bytes; `out_len` to a writable `size_t`.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pv_store_bundle(
    store: *const pv_store,
    buf: *mut u8,
    buf_len: usize,
    out_len: *mut usize,
) -> pv_result {
    ffi_guard!({
        let store = arg_ref!(store);
        let buf = arg_out_buf!(buf, buf_len);
        let out_len = arg_mut!(out_len);
        buf.write_bytes(&store.inner.to_bundle()?, out_len)
    })
}

/// Frees a store. NULL does nothing.
///
/// # Safety
///
/// `store` must be NULL or a `pv_store` from this library, not used again.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pv_store_free(store: *mut pv_store) {
    let _ = ffi_guard!({
        // SAFETY: the caller hands back a pointer from this library (or NULL).
        unsafe { free_handle(store) };
        Ok(())
    });
}
