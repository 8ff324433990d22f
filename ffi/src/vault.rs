//! The vault handle: create, open, lock (free), credentials, rotation,
//! merge, export and import.

use std::ffi::c_char;

use promptvault::{Credential, KdfParams, Password, RecoveryKey, SeenRevisions, Timestamp, Vault};

use crate::convert::{from_json, give, password, to_json};
use crate::handles::{free_handle, into_handle};
use crate::{
    Fail, OutBuf, PV_CREDENTIAL_PASSWORD, PV_CREDENTIAL_RECOVERY_KEY, PV_RECOVERY_KEY_BUF_LEN,
    arg_bytes, arg_mut, arg_out_buf, arg_ref, arg_str, ffi_guard, pv_bytes, pv_changeset,
    pv_result, pv_store,
};

/// An unlocked vault: the vault key, every item key and the prompt metadata
/// decrypted in memory (versions are decrypted on demand). Freeing it with
/// [`pv_vault_free`] locks it: every key is zeroized.
///
/// Thread safety: may be moved between threads. Functions taking a `const
/// pv_vault *` (queries) may run concurrently on one vault; functions taking
/// `pv_vault *` (mutations) need exclusive access to it.
pub struct pv_vault {
    pub(crate) inner: Vault,
}

/// Argon2id parameters: memory in KiB, passes, lanes. Accepted bounds:
/// 19456 ≤ m_cost_kib ≤ 1048576, 1 ≤ t_cost ≤ 10, 1 ≤ p_cost ≤ 16. The
/// defaults are 65536, 3, 1: `pv_kdf_params p = PV_KDF_DEFAULT;`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct pv_kdf_params {
    /// Memory cost in KiB.
    pub m_cost_kib: u32,
    /// Time cost (passes).
    pub t_cost: u32,
    /// Parallelism (lanes).
    pub p_cost: u32,
}

/// Default Argon2id memory cost in KiB (64 MiB; core's
/// `KdfParams::DEFAULT_M_COST_KIB`). `PV_KDF_DEFAULT` is the whole
/// `pv_kdf_params` initializer.
pub const PV_KDF_DEFAULT_M_COST_KIB: u32 = 65536;
/// Default Argon2id time cost (passes; core's `KdfParams::DEFAULT_T_COST`).
pub const PV_KDF_DEFAULT_T_COST: u32 = 3;
/// Default Argon2id parallelism (lanes; core's `KdfParams::DEFAULT_P_COST`).
pub const PV_KDF_DEFAULT_P_COST: u32 = 1;

// cbindgen needs literals; the core's numbers are the truth.
const _: () = assert!(
    PV_KDF_DEFAULT_M_COST_KIB == KdfParams::DEFAULT_M_COST_KIB
        && PV_KDF_DEFAULT_T_COST == KdfParams::DEFAULT_T_COST
        && PV_KDF_DEFAULT_P_COST == KdfParams::DEFAULT_P_COST
);

/// What a merge did.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct pv_merge_counts {
    /// Prompts that were not in this vault before.
    pub prompts_added: usize,
    /// Versions that were not in this vault before.
    pub versions_added: usize,
    /// Prompts whose metadata changed.
    pub metadata_updated: usize,
    /// Prompts whose diverged metadata was merged into a new revision.
    pub conflicts_resolved: usize,
}

fn kdf(p: &pv_kdf_params) -> Result<KdfParams, Fail> {
    Ok(KdfParams::new(p.m_cost_kib, p.t_cost, p.p_cost)?)
}

/// The secret named by `kind`, parsed (recovery keys are checked before any
/// key derivation).
enum Secret {
    Password(Password),
    RecoveryKey(RecoveryKey),
}

impl Secret {
    fn parse(kind: u32, text: &str) -> Result<Self, Fail> {
        match kind {
            PV_CREDENTIAL_PASSWORD => Ok(Secret::Password(password(text)?)),
            PV_CREDENTIAL_RECOVERY_KEY => Ok(Secret::RecoveryKey(RecoveryKey::parse(text)?)),
            other => Err(Fail::new(
                pv_result::InvalidInput,
                format!(
                    "credential_kind {other} is neither PV_CREDENTIAL_PASSWORD nor PV_CREDENTIAL_RECOVERY_KEY"
                ),
            )),
        }
    }

    fn credential(&self) -> Credential<'_> {
        match self {
            Secret::Password(p) => Credential::Password(p),
            Secret::RecoveryKey(k) => Credential::RecoveryKey(k),
        }
    }
}

/// The records argument `(const uint8_t *const *records, const size_t
/// *record_lens, size_t records_len)` as slices.
///
/// # Safety
///
/// Non-NULL `records` and `lens` point to `count` elements each; each
/// non-NULL `records[i]` points to `lens[i]` readable bytes.
pub(crate) unsafe fn record_list<'a>(
    records: *const *const u8,
    lens: *const usize,
    count: usize,
) -> Result<Vec<&'a [u8]>, Fail> {
    if records.is_null() {
        return Err(Fail::null("records"));
    }
    if lens.is_null() {
        return Err(Fail::null("record_lens"));
    }
    if count > isize::MAX as usize / std::mem::size_of::<*const u8>() {
        return Err(Fail::new(
            pv_result::LimitExceeded,
            "records_len is too large",
        ));
    }
    // SAFETY: both pointers are non-NULL (checked) and the caller guarantees
    // `count` readable, aligned elements behind each (see the contract).
    let (ptrs, lens) = unsafe {
        (
            std::slice::from_raw_parts(records, count),
            std::slice::from_raw_parts(lens, count),
        )
    };
    let mut out = Vec::with_capacity(count);
    for (i, (&p, &len)) in ptrs.iter().zip(lens).enumerate() {
        if p.is_null() {
            return Err(Fail::null(&format!("records[{i}]")));
        }
        if len > isize::MAX as usize {
            return Err(Fail::new(
                pv_result::LimitExceeded,
                format!("record_lens[{i}] is too large"),
            ));
        }
        // SAFETY: not NULL (checked), at most isize::MAX bytes (checked),
        // readable per the caller's contract for `records[i]`.
        out.push(unsafe { std::slice::from_raw_parts(p, len) });
    }
    Ok(out)
}

/// Writes a recovery key into a buffer already checked to be large enough.
fn write_recovery_key(buf: &OutBuf, rk: &RecoveryKey) -> Result<(), Fail> {
    let mut written = 0usize;
    buf.write_text(&rk.to_display_string(), &mut written)
}

/// Creates a vault protected by `password`.
///
/// Outputs the recovery key (show it to the user once; it is stored nowhere),
/// the unlocked vault and the changeset holding the new vault header.
///
/// # Errors
///
/// `PV_RESULT_KDF_PARAMS_OUT_OF_BOUNDS` for `params` outside the bounds;
/// `PV_RESULT_INVALID_INPUT` for an empty password; `PV_RESULT_INVALID_UTF8`;
/// `PV_RESULT_LIMIT_EXCEEDED`; `PV_RESULT_RANDOMNESS`;
/// `PV_RESULT_BUFFER_TOO_SMALL` when `out_recovery_key_len` is below
/// [`crate::PV_RECOVERY_KEY_BUF_LEN`] (checked before any work);
/// `PV_RESULT_NULL_PARAMETER`.
///
/// # Safety
///
/// `password` must be NUL-terminated; `params` must point to a
/// `pv_kdf_params`; `out_recovery_key` to `out_recovery_key_len` writable
/// bytes; `out_vault` and `out_changes` to writable pointers. On success
/// the caller owns `*out_vault` and `*out_changes` (free them).
///
/// # Security
///
/// Runs Argon2id once with `params`; use the defaults (65536, 3, 1) unless
/// you have a reason, and never calibrate them to the device.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pv_vault_create(
    password: *const c_char,
    params: *const pv_kdf_params,
    out_recovery_key: *mut c_char,
    out_recovery_key_len: usize,
    out_vault: *mut *mut pv_vault,
    out_changes: *mut *mut pv_changeset,
) -> pv_result {
    ffi_guard!({
        let password = arg_str!(password);
        let params = arg_ref!(params);
        let rk_buf = arg_out_buf!(out_recovery_key, out_recovery_key_len);
        let out_vault = arg_mut!(out_vault);
        let out_changes = arg_mut!(out_changes);
        rk_buf.require(PV_RECOVERY_KEY_BUF_LEN, "out_recovery_key")?;
        let created = Vault::create(&self::password(password)?, kdf(params)?)?;
        write_recovery_key(&rk_buf, &created.recovery_key)?;
        *out_vault = into_handle(pv_vault {
            inner: created.vault,
        });
        give(out_changes, created.changes);
        Ok(())
    })
}

/// Unlocks a vault from its header and records.
///
/// `credential_kind` is [`PV_CREDENTIAL_PASSWORD`] or
/// [`PV_CREDENTIAL_RECOVERY_KEY`]; `secret` is the password or the recovery
/// key text. `records` is an array of `records_len` pointers, `record_lens`
/// their lengths (when `records_len` is 0 they must still be non-NULL and
/// aligned, e.g. the address of a one-element array).
///
/// # Errors
///
/// `PV_RESULT_AUTHENTICATION` for a wrong secret or any record that fails to
/// open; `PV_RESULT_INVALID_RECOVERY_KEY` for a mistyped recovery key;
/// `PV_RESULT_KDF_PARAMS_OUT_OF_BOUNDS`, `PV_RESULT_MALFORMED`,
/// `PV_RESULT_UNSUPPORTED_VERSION` for a hostile or foreign header (before
/// any key derivation); `PV_RESULT_MISSING_RECORD` for a dropped record;
/// `PV_RESULT_LIMIT_EXCEEDED`; `PV_RESULT_INVALID_INPUT` for an unknown
/// `credential_kind`; `PV_RESULT_INVALID_UTF8`; `PV_RESULT_NULL_PARAMETER`.
///
/// # Safety
///
/// `header` must point to `header_len` readable bytes; `records` and
/// `record_lens` to `records_len` elements, each `records[i]` to
/// `record_lens[i]` readable bytes; `secret` must be NUL-terminated;
/// `out_vault` must point to a writable `pv_vault *`.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pv_vault_open(
    header: *const u8,
    header_len: usize,
    records: *const *const u8,
    record_lens: *const usize,
    records_len: usize,
    credential_kind: u32,
    secret: *const c_char,
    out_vault: *mut *mut pv_vault,
) -> pv_result {
    ffi_guard!({
        let header = arg_bytes!(header, header_len);
        // SAFETY: forwarded from this function's contract.
        let records = unsafe { record_list(records, record_lens, records_len)? };
        let secret = arg_str!(secret);
        let out_vault = arg_mut!(out_vault);
        let secret = Secret::parse(credential_kind, secret)?;
        let inner = Vault::open(header, records, secret.credential())?;
        *out_vault = into_handle(pv_vault { inner });
        Ok(())
    })
}

/// As [`pv_vault_open`], refusing data older than `seen_json` records (the
/// JSON that [`pv_vault_seen_revisions`] wrote after the last open or
/// write: `{"header": n, "prompts": {"<id>": n}}`).
///
/// # Errors
///
/// As [`pv_vault_open`], plus `PV_RESULT_ROLLBACK` for a header or prompt
/// metadata older than `seen_json` says, and `PV_RESULT_ENCODING` for
/// `seen_json` that is not that JSON.
///
/// # Safety
///
/// As [`pv_vault_open`]; `seen_json` must be NUL-terminated.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pv_vault_open_with_seen(
    header: *const u8,
    header_len: usize,
    records: *const *const u8,
    record_lens: *const usize,
    records_len: usize,
    credential_kind: u32,
    secret: *const c_char,
    seen_json: *const c_char,
    out_vault: *mut *mut pv_vault,
) -> pv_result {
    ffi_guard!({
        let header = arg_bytes!(header, header_len);
        // SAFETY: forwarded from this function's contract.
        let records = unsafe { record_list(records, record_lens, records_len)? };
        let secret = arg_str!(secret);
        let seen_json = arg_str!(seen_json);
        let out_vault = arg_mut!(out_vault);
        let seen: SeenRevisions = from_json(seen_json, "seen revisions JSON")?;
        let secret = Secret::parse(credential_kind, secret)?;
        let inner = Vault::open_with_seen(header, records, secret.credential(), &seen)?;
        *out_vault = into_handle(pv_vault { inner });
        Ok(())
    })
}

/// Unlocks the vault held by a store (for example one loaded with
/// [`crate::pv_store_from_bundle`]).
///
/// # Errors
///
/// `PV_RESULT_MISSING_RECORD` when the store has no header; otherwise as
/// [`pv_vault_open`].
///
/// # Safety
///
/// `store` must be a live `pv_store`; `secret` NUL-terminated; `out_vault`
/// must point to a writable `pv_vault *`.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pv_vault_open_store(
    store: *const pv_store,
    credential_kind: u32,
    secret: *const c_char,
    out_vault: *mut *mut pv_vault,
) -> pv_result {
    ffi_guard!({
        let store = arg_ref!(store);
        let secret = arg_str!(secret);
        let out_vault = arg_mut!(out_vault);
        let secret = Secret::parse(credential_kind, secret)?;
        let inner =
            Vault::open_store(&store.inner, secret.credential(), &SeenRevisions::default())?;
        *out_vault = into_handle(pv_vault { inner });
        Ok(())
    })
}

/// Locks and frees a vault: every key it holds is zeroized. NULL does
/// nothing.
///
/// # Safety
///
/// `vault` must be NULL or a `pv_vault` from this library, not used again.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pv_vault_free(vault: *mut pv_vault) {
    let _ = ffi_guard!({
        // SAFETY: the caller hands back a pointer from this library (or NULL).
        unsafe { free_handle(vault) };
        Ok(())
    });
}

/// Writes the vault id (32 hex digits and a NUL) into a buffer of at least
/// [`crate::PV_ID_BUF_LEN`] bytes.
///
/// # Errors
///
/// `PV_RESULT_BUFFER_TOO_SMALL`; `PV_RESULT_NULL_PARAMETER`.
///
/// # Safety
///
/// `vault` must be a live `pv_vault`; `out_id` must point to `out_id_len`
/// writable bytes.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pv_vault_id(
    vault: *const pv_vault,
    out_id: *mut c_char,
    out_id_len: usize,
) -> pv_result {
    ffi_guard!({
        let vault = arg_ref!(vault);
        let buf = arg_out_buf!(out_id, out_id_len);
        buf.require(crate::PV_ID_BUF_LEN, "out_id")?;
        buf.write_text(&vault.inner.id().to_hex(), &mut 0)
    })
}

/// Stores the current key generation (1 for a new vault, +1 per rotation).
///
/// # Errors
///
/// `PV_RESULT_NULL_PARAMETER`.
///
/// # Safety
///
/// `vault` must be a live `pv_vault`; `out_generation` must point to a
/// writable `uint32_t`.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pv_vault_key_generation(
    vault: *const pv_vault,
    out_generation: *mut u32,
) -> pv_result {
    ffi_guard!({
        let vault = arg_ref!(vault);
        let out_generation = arg_mut!(out_generation);
        *out_generation = vault.inner.key_generation();
        Ok(())
    })
}

/// Stores the vault header revision (+1 per header change).
///
/// # Errors
///
/// `PV_RESULT_NULL_PARAMETER`.
///
/// # Safety
///
/// `vault` must be a live `pv_vault`; `out_revision` must point to a
/// writable `uint64_t`.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pv_vault_header_revision(
    vault: *const pv_vault,
    out_revision: *mut u64,
) -> pv_result {
    ffi_guard!({
        let vault = arg_ref!(vault);
        let out_revision = arg_mut!(out_revision);
        *out_revision = vault.inner.header_revision();
        Ok(())
    })
}

/// Gives everything a store should hold for this vault, as a changeset: the
/// current header and every record (item keys and metadata sealed afresh,
/// versions as stored) — for writing a fresh store or repairing one.
///
/// # Errors
///
/// `PV_RESULT_RANDOMNESS`; `PV_RESULT_NULL_PARAMETER`.
///
/// # Safety
///
/// `vault` must be a live `pv_vault`; `out_changes` must point to a writable
/// `pv_changeset *`.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pv_vault_all_records(
    vault: *const pv_vault,
    out_changes: *mut *mut pv_changeset,
) -> pv_result {
    ffi_guard!({
        let vault = arg_ref!(vault);
        let out_changes = arg_mut!(out_changes);
        give(out_changes, vault.inner.snapshot()?);
        Ok(())
    })
}

/// Stores the KDF parameters of the password slot.
///
/// # Errors
///
/// `PV_RESULT_NULL_PARAMETER`.
///
/// # Safety
///
/// `vault` must be a live `pv_vault`; `out_params` must point to a writable
/// `pv_kdf_params`.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pv_vault_kdf_params(
    vault: *const pv_vault,
    out_params: *mut pv_kdf_params,
) -> pv_result {
    ffi_guard!({
        let vault = arg_ref!(vault);
        let out_params = arg_mut!(out_params);
        let p = vault.inner.kdf_params();
        *out_params = pv_kdf_params {
            m_cost_kib: p.m_cost_kib(),
            t_cost: p.t_cost(),
            p_cost: p.p_cost(),
        };
        Ok(())
    })
}

/// Copies the current vault header (binary form) into `buf`.
///
/// # Errors
///
/// `PV_RESULT_NULL_PARAMETER`; `PV_RESULT_BUFFER_TOO_SMALL`.
///
/// # Safety
///
/// `vault` must be a live `pv_vault`; `buf` must point to `buf_len` writable
/// bytes; `out_len` to a writable `size_t`.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pv_vault_header(
    vault: *const pv_vault,
    buf: *mut u8,
    buf_len: usize,
    out_len: *mut usize,
) -> pv_result {
    ffi_guard!({
        let vault = arg_ref!(vault);
        let buf = arg_out_buf!(buf, buf_len);
        let out_len = arg_mut!(out_len);
        buf.write_bytes(vault.inner.header_bytes(), out_len)
    })
}

/// Writes the revisions this vault holds as JSON (`{"header": n,
/// "prompts": {"<id>": n}}`), to persist and pass to
/// [`pv_vault_open_with_seen`] for rollback detection. It is not secret.
///
/// # Errors
///
/// `PV_RESULT_NULL_PARAMETER`; `PV_RESULT_BUFFER_TOO_SMALL`.
///
/// # Safety
///
/// `vault` must be a live `pv_vault`; `buf` must point to `buf_len` writable
/// bytes; `out_len` to a writable `size_t`.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pv_vault_seen_revisions(
    vault: *const pv_vault,
    buf: *mut c_char,
    buf_len: usize,
    out_len: *mut usize,
) -> pv_result {
    ffi_guard!({
        let vault = arg_ref!(vault);
        let buf = arg_out_buf!(buf, buf_len);
        let out_len = arg_mut!(out_len);
        buf.write_text(&to_json(&vault.inner.seen_revisions())?, out_len)
    })
}

/// Opens every stored version, proving the whole vault authentic (open
/// checks keys and metadata; versions open on demand).
///
/// # Errors
///
/// `PV_RESULT_AUTHENTICATION` if any version fails to open;
/// `PV_RESULT_NULL_PARAMETER`.
///
/// # Safety
///
/// `vault` must be a live `pv_vault`.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pv_vault_verify(vault: *const pv_vault) -> pv_result {
    ffi_guard!({
        let vault = arg_ref!(vault);
        Ok(vault.inner.verify()?)
    })
}

/// Checks `password` against the vault password (runs the KDF).
///
/// # Errors
///
/// `PV_RESULT_AUTHENTICATION` if it is not the password;
/// `PV_RESULT_INVALID_INPUT` for an empty one; `PV_RESULT_INVALID_UTF8`;
/// `PV_RESULT_NULL_PARAMETER`.
///
/// # Safety
///
/// `vault` must be a live `pv_vault`; `password` NUL-terminated.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pv_vault_verify_password(
    vault: *const pv_vault,
    password: *const c_char,
) -> pv_result {
    ffi_guard!({
        let vault = arg_ref!(vault);
        let password = arg_str!(password);
        Ok(vault.inner.verify_password(&self::password(password)?)?)
    })
}

/// Changes the password (a new salt and password slot; no content is
/// re-encrypted) and, with `params`, the KDF parameters. Pass the values
/// from [`pv_vault_kdf_params`] to keep them.
///
/// # Errors
///
/// `PV_RESULT_KDF_PARAMS_OUT_OF_BOUNDS`; `PV_RESULT_INVALID_INPUT` for an
/// empty password; `PV_RESULT_INVALID_UTF8`; `PV_RESULT_RANDOMNESS`;
/// `PV_RESULT_NULL_PARAMETER`.
///
/// # Safety
///
/// `vault` must be a live `pv_vault` used by no other thread during the
/// call; `new_password` NUL-terminated; `params` must point to a
/// `pv_kdf_params`; `out_changes` to a writable `pv_changeset *`.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pv_vault_change_password(
    vault: *mut pv_vault,
    new_password: *const c_char,
    params: *const pv_kdf_params,
    out_changes: *mut *mut pv_changeset,
) -> pv_result {
    ffi_guard!({
        let vault = arg_mut!(vault);
        let new_password = arg_str!(new_password);
        let params = arg_ref!(params);
        let out_changes = arg_mut!(out_changes);
        let changes = vault
            .inner
            .change_password(&password(new_password)?, Some(kdf(params)?))?;
        give(out_changes, changes);
        Ok(())
    })
}

/// Replaces the recovery key (a new recovery slot, the same vault key). The
/// old key stops working once the changeset's header is stored.
///
/// # Errors
///
/// `PV_RESULT_BUFFER_TOO_SMALL` when `out_recovery_key_len` is below
/// [`crate::PV_RECOVERY_KEY_BUF_LEN`] (checked first);
/// `PV_RESULT_RANDOMNESS`; `PV_RESULT_NULL_PARAMETER`.
///
/// # Safety
///
/// `vault` must be a live `pv_vault` used by no other thread during the
/// call; `out_recovery_key` must point to `out_recovery_key_len` writable
/// bytes; `out_changes` to a writable `pv_changeset *`.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pv_vault_replace_recovery_key(
    vault: *mut pv_vault,
    out_recovery_key: *mut c_char,
    out_recovery_key_len: usize,
    out_changes: *mut *mut pv_changeset,
) -> pv_result {
    ffi_guard!({
        let vault = arg_mut!(vault);
        let rk_buf = arg_out_buf!(out_recovery_key, out_recovery_key_len);
        let out_changes = arg_mut!(out_changes);
        rk_buf.require(PV_RECOVERY_KEY_BUF_LEN, "out_recovery_key")?;
        let (rk, changes) = vault.inner.replace_recovery_key()?;
        write_recovery_key(&rk_buf, &rk)?;
        give(out_changes, changes);
        Ok(())
    })
}

/// Rotates to a new key generation: new vault key, fresh item keys, every
/// record re-encrypted, a new password slot and a new recovery key. Apply
/// the changeset whole; a store that applied part of it still opens, and
/// [`pv_vault_finish_rotation`] completes it.
///
/// # Errors
///
/// `PV_RESULT_AUTHENTICATION` if `password` is not the vault password;
/// `PV_RESULT_INVALID_INPUT` while an earlier rotation is unfinished;
/// `PV_RESULT_BUFFER_TOO_SMALL` when `out_recovery_key_len` is below
/// [`crate::PV_RECOVERY_KEY_BUF_LEN`] (checked first);
/// `PV_RESULT_NULL_PARAMETER`.
///
/// # Safety
///
/// `vault` must be a live `pv_vault` used by no other thread during the
/// call; `password` NUL-terminated; `out_recovery_key` must point to
/// `out_recovery_key_len` writable bytes; `out_changes` to a writable
/// `pv_changeset *`.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pv_vault_rotate(
    vault: *mut pv_vault,
    password: *const c_char,
    out_recovery_key: *mut c_char,
    out_recovery_key_len: usize,
    out_changes: *mut *mut pv_changeset,
) -> pv_result {
    ffi_guard!({
        let vault = arg_mut!(vault);
        let password = arg_str!(password);
        let rk_buf = arg_out_buf!(out_recovery_key, out_recovery_key_len);
        let out_changes = arg_mut!(out_changes);
        rk_buf.require(PV_RECOVERY_KEY_BUF_LEN, "out_recovery_key")?;
        let (rk, changes) = vault.inner.rotate(&self::password(password)?)?;
        write_recovery_key(&rk_buf, &rk)?;
        give(out_changes, changes);
        Ok(())
    })
}

/// Stores whether records are still sealed under an older key generation
/// (an interrupted rotation).
///
/// # Errors
///
/// `PV_RESULT_NULL_PARAMETER`.
///
/// # Safety
///
/// `vault` must be a live `pv_vault`; `out_pending` must point to a
/// writable `bool`.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pv_vault_rotation_pending(
    vault: *const pv_vault,
    out_pending: *mut bool,
) -> pv_result {
    ffi_guard!({
        let vault = arg_ref!(vault);
        let out_pending = arg_mut!(out_pending);
        *out_pending = vault.inner.rotation_pending();
        Ok(())
    })
}

/// Completes an interrupted rotation (an empty changeset when nothing is
/// pending).
///
/// # Errors
///
/// `PV_RESULT_AUTHENTICATION` if a stale record fails to open;
/// `PV_RESULT_RANDOMNESS`; `PV_RESULT_NULL_PARAMETER`.
///
/// # Safety
///
/// `vault` must be a live `pv_vault` used by no other thread during the
/// call; `out_changes` must point to a writable `pv_changeset *`.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pv_vault_finish_rotation(
    vault: *mut pv_vault,
    out_changes: *mut *mut pv_changeset,
) -> pv_result {
    ffi_guard!({
        let vault = arg_mut!(vault);
        let out_changes = arg_mut!(out_changes);
        give(out_changes, vault.inner.finish_rotation()?);
        Ok(())
    })
}

/// Merges records written by another device (or fetched from a server): new
/// prompts, new versions, newer metadata; no version is ever lost. Prompts
/// that arrive with metadata breaking a model rule are kept as damaged:
/// [`crate::pv_vault_damaged_count`] and [`crate::pv_vault_damaged_at`]
/// list them.
///
/// # Errors
///
/// As [`pv_vault_open`] for the records; on error the vault is unchanged.
///
/// # Safety
///
/// `vault` must be a live `pv_vault` used by no other thread during the
/// call; `records`/`record_lens` as for [`pv_vault_open`]; `out_counts`
/// must point to a writable `pv_merge_counts`; `out_changes` to a writable
/// `pv_changeset *`.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pv_vault_merge(
    vault: *mut pv_vault,
    records: *const *const u8,
    record_lens: *const usize,
    records_len: usize,
    out_counts: *mut pv_merge_counts,
    out_changes: *mut *mut pv_changeset,
) -> pv_result {
    ffi_guard!({
        let vault = arg_mut!(vault);
        // SAFETY: forwarded from this function's contract.
        let records = unsafe { record_list(records, record_lens, records_len)? };
        let out_counts = arg_mut!(out_counts);
        let out_changes = arg_mut!(out_changes);
        let report = vault.inner.merge(records)?;
        *out_counts = pv_merge_counts {
            prompts_added: report.prompts_added,
            versions_added: report.versions_added,
            metadata_updated: report.metadata_updated,
            conflicts_resolved: report.conflicts_resolved,
        };
        give(out_changes, report.changes);
        Ok(())
    })
}

/// Exports every prompt with its full history, tags and flags into one file
/// encrypted under `password` (with its own KDF parameters).
///
/// # Parameters
///
/// - `password`: The export file's password (not the vault's; not empty).
/// - `params`: The export file's KDF parameters.
///
/// # Errors
///
/// `PV_RESULT_KDF_PARAMS_OUT_OF_BOUNDS`; `PV_RESULT_INVALID_INPUT` for an
/// empty password; `PV_RESULT_AUTHENTICATION` if a stored version fails to
/// open; `PV_RESULT_LIMIT_EXCEEDED`; `PV_RESULT_NULL_PARAMETER`.
///
/// # Safety
///
/// `vault` must be a live `pv_vault`; `password` NUL-terminated; `params`
/// must point to a `pv_kdf_params`; `out_file` to a writable `pv_bytes *`
/// (free the result with [`crate::pv_bytes_free`]).
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pv_vault_export(
    vault: *const pv_vault,
    password: *const c_char,
    params: *const pv_kdf_params,
    out_file: *mut *mut pv_bytes,
) -> pv_result {
    ffi_guard!({
        let vault = arg_ref!(vault);
        let password = arg_str!(password);
        let params = arg_ref!(params);
        let out_file = arg_mut!(out_file);
        let file = vault
            .inner
            .export(&self::password(password)?, kdf(params)?)?;
        *out_file = into_handle(pv_bytes { inner: file });
        Ok(())
    })
}

/// Imports an export file. Importing the same file twice adds nothing.
///
/// # Parameters
///
/// - `password`: The export file's password.
///
/// # Errors
///
/// `PV_RESULT_AUTHENTICATION` for a wrong password or a modified file;
/// `PV_RESULT_MALFORMED`, `PV_RESULT_WRONG_KIND` for a file that is not an
/// export; `PV_RESULT_KDF_PARAMS_OUT_OF_BOUNDS` for a hostile header;
/// `PV_RESULT_NULL_PARAMETER`. On error the vault is unchanged.
///
/// # Safety
///
/// `vault` must be a live `pv_vault` used by no other thread during the
/// call; `file` must point to `file_len` readable bytes; `password` must be
/// NUL-terminated; `out_prompts_added`, `out_versions_added` must point to
/// writable `size_t`s and `out_changes` to a writable `pv_changeset *`.
#[must_use]
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn pv_vault_import(
    vault: *mut pv_vault,
    file: *const u8,
    file_len: usize,
    password: *const c_char,
    now_ms: u64,
    out_prompts_added: *mut usize,
    out_versions_added: *mut usize,
    out_changes: *mut *mut pv_changeset,
) -> pv_result {
    ffi_guard!({
        let vault = arg_mut!(vault);
        let file = arg_bytes!(file, file_len);
        let password = arg_str!(password);
        let out_prompts_added = arg_mut!(out_prompts_added);
        let out_versions_added = arg_mut!(out_versions_added);
        let out_changes = arg_mut!(out_changes);
        let report = vault
            .inner
            .import(file, &self::password(password)?, Timestamp(now_ms))?;
        *out_prompts_added = report.prompts_added;
        *out_versions_added = report.versions_added;
        give(out_changes, report.changes);
        Ok(())
    })
}
