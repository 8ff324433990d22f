//! Sync through the app's own HTTP stack: `pv_sync_state` (what the app
//! persists between syncs), `pv_sync` (one sync in progress: the core's
//! sans-IO `Machine`), `pv_download` (a pull outside a sync: the first
//! one of a vault onto a new device, or the one that fetches the newer
//! header after `PV_RESULT_HEADER_CHANGED`), `pv_login_key` (the bodies of
//! login, registration, rekey and account deletion) and
//! `pv_session_token` (reads a login's answer). The app
//! sends each request and hands back the HTTP status and body; every
//! decision (what to pull, what to push, conflicts, rollback checks, status
//! mapping) is the core's. Nothing here decides anything.

use std::ffi::c_char;

use promptvault::format::text;
use promptvault::protocol::{
    Action, ChallengeResponse, DeleteAccountRequest, KeyKind, LoginKey, LoginParams,
    PreLoginResponse, RekeyRequest, SessionResponse, decode_fixed,
};
use promptvault::sync::{
    Answer, Inbox, Machine, Options, Request, Step, SyncError, SyncState, read_answer,
};
use promptvault::{RecoveryKey, SealedRecord, VaultId};

use crate::convert::{from_json, password, to_json};
use crate::handles::{free_handle, into_handle};
use crate::{
    Fail, arg_bytes, arg_mut, arg_out_buf, arg_ref, arg_str, ffi_guard, pv_result, pv_store,
    pv_vault,
};

impl From<SyncError> for Fail {
    fn from(e: SyncError) -> Self {
        Fail::new(pv_result::from_code(e.code()), e.to_string())
    }
}

/// What a device persists between syncs with one server (core's
/// `SyncState`: cursor and what it last saw the server hold; public data).
/// Save it as JSON with [`pv_sync_state_to_json`] after every step whose
/// `persist` flag is set, together with the store. Free with
/// [`pv_sync_state_free`].
///
/// Thread safety: may be moved between threads; `const` functions may run
/// concurrently; the others need exclusive access.
#[derive(Debug)]
pub struct pv_sync_state {
    pub(crate) inner: SyncState,
}

/// One sync in progress (core's `sync::Machine` and its current step).
/// Free with [`pv_sync_free`].
///
/// Thread safety: may be moved between threads; `const` functions may run
/// concurrently; [`pv_sync_resume`] and [`pv_sync_free`] need exclusive
/// access.
pub struct pv_sync {
    machine: Machine,
    step: Step,
}

impl core::fmt::Debug for pv_sync {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("pv_sync")
            .field("machine", &self.machine)
            .finish_non_exhaustive()
    }
}

/// A pull outside a sync (core's `Inbox`): the first pull of a vault onto
/// a device that does not hold it yet ([`pv_download_start`]), or a pull
/// after the state's cursor that fetches the newer header after
/// `PV_RESULT_HEADER_CHANGED` ([`pv_download_start_pull`]). Free with
/// [`pv_download_free`].
///
/// Thread safety: may be moved between threads; `const` functions may run
/// concurrently; the others need exclusive access.
#[derive(Debug)]
pub struct pv_download {
    inbox: Inbox,
}

/// A login signing key (core's `protocol::LoginKey`), derived from the
/// password or from the recovery key. Free with [`pv_login_key_free`];
/// freeing zeroizes it.
///
/// Thread safety: may be moved between threads and used from several at
/// once; `pv_login_key_free` needs exclusive access.
#[derive(Debug)]
pub struct pv_login_key {
    inner: LoginKey,
}

// ---- pv_sync_state -------------------------------------------------------------

/// A state for a vault never synced with this server (`SyncState::new`).
///
/// # Errors
///
/// `PV_RESULT_NULL_PARAMETER`.
///
/// # Safety
///
/// `out_state` must point to a writable `pv_sync_state *`.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pv_sync_state_new(out_state: *mut *mut pv_sync_state) -> pv_result {
    ffi_guard!({
        let out_state = arg_mut!(out_state);
        *out_state = into_handle(pv_sync_state {
            inner: SyncState::new(),
        });
        Ok(())
    })
}

/// Reads a state saved with [`pv_sync_state_to_json`].
///
/// # Errors
///
/// `PV_RESULT_ENCODING` for text that is not a saved state;
/// `PV_RESULT_NULL_PARAMETER`; `PV_RESULT_INVALID_UTF8`.
///
/// # Safety
///
/// `json` must be NUL-terminated; `out_state` must point to a writable
/// `pv_sync_state *`.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pv_sync_state_from_json(
    json: *const c_char,
    out_state: *mut *mut pv_sync_state,
) -> pv_result {
    ffi_guard!({
        let json = arg_str!(json);
        let out_state = arg_mut!(out_state);
        let inner: SyncState = from_json(json, "sync state")?;
        *out_state = into_handle(pv_sync_state { inner });
        Ok(())
    })
}

/// Writes the state as JSON text (the blob the app persists).
///
/// # Errors
///
/// `PV_RESULT_NULL_PARAMETER`; `PV_RESULT_BUFFER_TOO_SMALL`.
///
/// # Safety
///
/// `state` must be a live `pv_sync_state`; `buf` must point to `buf_len`
/// writable bytes; `out_len` to a writable `size_t`.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pv_sync_state_to_json(
    state: *const pv_sync_state,
    buf: *mut c_char,
    buf_len: usize,
    out_len: *mut usize,
) -> pv_result {
    ffi_guard!({
        let state = arg_ref!(state);
        let buf = arg_out_buf!(buf, buf_len);
        let out_len = arg_mut!(out_len);
        buf.write_text(&to_json(&state.inner)?, out_len)
    })
}

/// Frees a `pv_sync_state`. NULL does nothing.
///
/// # Safety
///
/// `state` must be NULL or a `pv_sync_state` from this library, not used
/// again.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pv_sync_state_free(state: *mut pv_sync_state) {
    let _ = ffi_guard!({
        // SAFETY: the caller hands back a pointer from this library (or NULL).
        unsafe { free_handle(state) };
        Ok(())
    });
}

// ---- pv_sync -----------------------------------------------------------------------

/// Starts a sync (`sync::Machine::start` with the default options): the
/// first step is a request to send.
///
/// # Errors
///
/// `PV_RESULT_WRONG_VAULT` for a state of another vault;
/// `PV_RESULT_NULL_PARAMETER`.
///
/// # Safety
///
/// `vault` and `state` must be live handles; `out_sync` must point to a
/// writable `pv_sync *`.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pv_sync_start(
    vault: *const pv_vault,
    state: *mut pv_sync_state,
    out_sync: *mut *mut pv_sync,
) -> pv_result {
    ffi_guard!({
        let vault = arg_ref!(vault);
        let state = arg_mut!(state);
        let out_sync = arg_mut!(out_sync);
        let (machine, step) = Machine::start(&vault.inner, &mut state.inner, Options::default())?;
        *out_sync = into_handle(pv_sync { machine, step });
        Ok(())
    })
}

fn request(step: &Step) -> Result<&Request, Fail> {
    match step {
        Step::Send { request, .. } => Ok(request),
        Step::Done { .. } => Err(Fail::new(
            pv_result::NotFound,
            "the sync is done: there is no request to send",
        )),
    }
}

/// Stores whether the sync is over (`Step::Done`): then read the report;
/// otherwise send the request.
///
/// # Errors
///
/// `PV_RESULT_NULL_PARAMETER`.
///
/// # Safety
///
/// `sync` must be a live `pv_sync`; `out_done` must point to a writable
/// `bool`.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pv_sync_done(sync: *const pv_sync, out_done: *mut bool) -> pv_result {
    ffi_guard!({
        let sync = arg_ref!(sync);
        let out_done = arg_mut!(out_done);
        *out_done = matches!(sync.step, Step::Done { .. });
        Ok(())
    })
}

/// Writes the HTTP method of the current request (`Request::METHOD`,
/// `"POST"`).
///
/// # Errors
///
/// `PV_RESULT_NOT_FOUND` when the sync is done; `PV_RESULT_NULL_PARAMETER`;
/// `PV_RESULT_BUFFER_TOO_SMALL`.
///
/// # Safety
///
/// `sync` must be a live `pv_sync`; `buf` must point to `buf_len` writable
/// bytes; `out_len` to a writable `size_t`.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pv_sync_request_method(
    sync: *const pv_sync,
    buf: *mut c_char,
    buf_len: usize,
    out_len: *mut usize,
) -> pv_result {
    ffi_guard!({
        let sync = arg_ref!(sync);
        let buf = arg_out_buf!(buf, buf_len);
        let out_len = arg_mut!(out_len);
        request(&sync.step)?;
        buf.write_text(Request::METHOD, out_len)
    })
}

/// Writes the path of the current request under the server's base URL
/// (`Request::path`: `/v1/pull` or `/v1/commit`).
///
/// # Errors
///
/// As [`pv_sync_request_method`].
///
/// # Safety
///
/// As [`pv_sync_request_method`].
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pv_sync_request_path(
    sync: *const pv_sync,
    buf: *mut c_char,
    buf_len: usize,
    out_len: *mut usize,
) -> pv_result {
    ffi_guard!({
        let sync = arg_ref!(sync);
        let buf = arg_out_buf!(buf, buf_len);
        let out_len = arg_mut!(out_len);
        buf.write_text(request(&sync.step)?.path(), out_len)
    })
}

/// Writes the JSON body of the current request (`Request::body`; send it
/// with `Content-Type: application/json` and the session's bearer token).
///
/// # Errors
///
/// As [`pv_sync_request_method`].
///
/// # Safety
///
/// As [`pv_sync_request_method`].
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pv_sync_request_body(
    sync: *const pv_sync,
    buf: *mut c_char,
    buf_len: usize,
    out_len: *mut usize,
) -> pv_result {
    ffi_guard!({
        let sync = arg_ref!(sync);
        let buf = arg_out_buf!(buf, buf_len);
        let out_len = arg_mut!(out_len);
        buf.write_text(&request(&sync.step)?.body(), out_len)
    })
}

/// Stores the current step's `persist` flag: the store and the state
/// changed, so save both (the store's bundle and
/// [`pv_sync_state_to_json`]) before sending the request (or, when done,
/// before reporting success).
///
/// # Errors
///
/// `PV_RESULT_NULL_PARAMETER`.
///
/// # Safety
///
/// `sync` must be a live `pv_sync`; `out_persist` must point to a writable
/// `bool`.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pv_sync_persist(
    sync: *const pv_sync,
    out_persist: *mut bool,
) -> pv_result {
    ffi_guard!({
        let sync = arg_ref!(sync);
        let out_persist = arg_mut!(out_persist);
        *out_persist = match sync.step {
            Step::Send { persist, .. } | Step::Done { persist, .. } => persist,
        };
        Ok(())
    })
}

/// Stores the current step's backoff: 0 for none, else the number of
/// conflicts in a row so far (wait with jitter before sending).
///
/// # Errors
///
/// `PV_RESULT_NULL_PARAMETER`.
///
/// # Safety
///
/// `sync` must be a live `pv_sync`; `out_backoff` must point to a writable
/// `uint32_t`.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pv_sync_backoff(sync: *const pv_sync, out_backoff: *mut u32) -> pv_result {
    ffi_guard!({
        let sync = arg_ref!(sync);
        let out_backoff = arg_mut!(out_backoff);
        *out_backoff = match sync.step {
            Step::Send { backoff, .. } => backoff.unwrap_or(0),
            Step::Done { .. } => 0,
        };
        Ok(())
    })
}

/// Writes the report of a finished sync as JSON (`SyncReport`, camelCase:
/// `pulled`, `promptsAdded`, `pushed`, `commits`, `cursor`, …).
///
/// # Errors
///
/// `PV_RESULT_NOT_FOUND` while the sync is not done;
/// `PV_RESULT_NULL_PARAMETER`; `PV_RESULT_BUFFER_TOO_SMALL`.
///
/// # Safety
///
/// `sync` must be a live `pv_sync`; `buf` must point to `buf_len` writable
/// bytes; `out_len` to a writable `size_t`.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pv_sync_report(
    sync: *const pv_sync,
    buf: *mut c_char,
    buf_len: usize,
    out_len: *mut usize,
) -> pv_result {
    ffi_guard!({
        let sync = arg_ref!(sync);
        let buf = arg_out_buf!(buf, buf_len);
        let out_len = arg_mut!(out_len);
        match &sync.step {
            Step::Done { report, .. } => buf.write_text(&to_json(report)?, out_len),
            Step::Send { .. } => Err(Fail::new(
                pv_result::NotFound,
                "the sync is not done: send the request first",
            )),
        }
    })
}

/// What a finished sync moved (core's `SyncReport`), for callers that do
/// not want to parse the JSON of [`pv_sync_report`]: filled by
/// [`pv_sync_report_counts`].
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct pv_sync_counts {
    /// Rows pulled (all pulls of the run).
    pub pulled: usize,
    /// Prompts new to this device.
    pub prompts_added: usize,
    /// Versions new to this device.
    pub versions_added: usize,
    /// Prompts whose metadata changed here.
    pub metadata_updated: usize,
    /// Diverged metadata merged into a new revision.
    pub conflicts_resolved: usize,
    /// Prompts deleted elsewhere and deleted here.
    pub prompts_deleted: usize,
    /// Records pushed.
    pub pushed: usize,
    /// Deletions pushed.
    pub deleted: usize,
    /// Commits accepted.
    pub commits: u32,
    /// Commits that met a conflict and were retried.
    pub conflicts: u32,
    /// Whether a full pull (cursor 0) was needed.
    pub full_pull: bool,
    /// The server cursor at the end.
    pub cursor: u64,
}

/// Stores the report of a finished sync as numbers (as [`pv_sync_report`],
/// without JSON).
///
/// # Errors
///
/// `PV_RESULT_NOT_FOUND` while the sync is not done;
/// `PV_RESULT_NULL_PARAMETER`.
///
/// # Safety
///
/// `sync` must be a live `pv_sync`; `out_counts` must point to a writable
/// `pv_sync_counts`.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pv_sync_report_counts(
    sync: *const pv_sync,
    out_counts: *mut pv_sync_counts,
) -> pv_result {
    ffi_guard!({
        let sync = arg_ref!(sync);
        let out_counts = arg_mut!(out_counts);
        let Step::Done { report: r, .. } = &sync.step else {
            return Err(Fail::new(
                pv_result::NotFound,
                "the sync is not done: send the request first",
            ));
        };
        *out_counts = pv_sync_counts {
            pulled: r.pulled,
            prompts_added: r.prompts_added,
            versions_added: r.versions_added,
            metadata_updated: r.metadata_updated,
            conflicts_resolved: r.conflicts_resolved,
            prompts_deleted: r.prompts_deleted,
            pushed: r.pushed,
            deleted: r.deleted,
            commits: r.commits,
            conflicts: r.conflicts,
            full_pull: r.full_pull,
            cursor: r.cursor,
        };
        Ok(())
    })
}

/// Hands the server's HTTP answer to the current request to the core
/// (`Answer::from_http`, then `Machine::resume`, which may change the
/// vault, the store and the state) and moves to the next step.
///
/// # Errors
///
/// `PV_RESULT_SERVER_REFUSED` for the server's typed refusal (the message
/// names its status and code; after `unauthorized` log in again and call
/// this again with the new answer); `PV_RESULT_TRANSPORT` for a 5xx or an
/// answer outside the protocol (resend the request later);
/// `PV_RESULT_HEADER_CHANGED`, `PV_RESULT_CONTENTION`,
/// `PV_RESULT_SERVER_MISBEHAVED`, `PV_RESULT_ROLLBACK`, or a vault error:
/// the sync has ended (what earlier steps did stays done).
/// `PV_RESULT_NOT_FOUND` when the sync is already done;
/// `PV_RESULT_NULL_PARAMETER`.
///
/// # Safety
///
/// `sync`, `vault`, `store` and `state` must be live handles — the vault and
/// state given to [`pv_sync_start`] and the store holding that vault;
/// `body` must point to `body_len` readable bytes.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pv_sync_resume(
    sync: *mut pv_sync,
    vault: *mut pv_vault,
    store: *mut pv_store,
    state: *mut pv_sync_state,
    status: u16,
    body: *const u8,
    body_len: usize,
) -> pv_result {
    ffi_guard!({
        let sync = arg_mut!(sync);
        let vault = arg_mut!(vault);
        let store = arg_mut!(store);
        let state = arg_mut!(state);
        let body = arg_bytes!(body, body_len);
        let answer = Answer::from_http(request(&sync.step)?, status, body)?;
        sync.step =
            sync.machine
                .resume(&mut vault.inner, &mut store.inner, &mut state.inner, answer)?;
        Ok(())
    })
}

/// Frees a `pv_sync`. NULL does nothing.
///
/// # Safety
///
/// `sync` must be NULL or a `pv_sync` from this library, not used again.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pv_sync_free(sync: *mut pv_sync) {
    let _ = ffi_guard!({
        // SAFETY: the caller hands back a pointer from this library (or NULL).
        unsafe { free_handle(sync) };
        Ok(())
    });
}

// ---- pv_download ---------------------------------------------------------------------

/// Starts the first pull of the vault of a session onto this device
/// (`SyncState::begin_download`). `session_json` is the server's answer to
/// a login (its `vaultId` names the vault).
///
/// # Errors
///
/// `PV_RESULT_ENCODING` for text that is not a session;
/// `PV_RESULT_WRONG_VAULT` for a state of another vault;
/// `PV_RESULT_NULL_PARAMETER`; `PV_RESULT_INVALID_UTF8`.
///
/// # Safety
///
/// `session_json` must be NUL-terminated; `state` must be a live
/// `pv_sync_state`; `out_download` must point to a writable
/// `pv_download *`.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pv_download_start(
    session_json: *const c_char,
    state: *mut pv_sync_state,
    out_download: *mut *mut pv_download,
) -> pv_result {
    ffi_guard!({
        let session_json = arg_str!(session_json);
        let state = arg_mut!(state);
        let out_download = arg_mut!(out_download);
        let session: promptvault::protocol::SessionResponse = from_json(session_json, "session")?;
        let vault: VaultId = session.vault_id;
        let inbox = state.inner.begin_download(vault)?;
        *out_download = into_handle(pv_download { inbox });
        Ok(())
    })
}

/// Writes the JSON body of the next pull (`POST` to `/v1/pull`, with the
/// session's bearer token).
///
/// # Errors
///
/// `PV_RESULT_NULL_PARAMETER`; `PV_RESULT_BUFFER_TOO_SMALL`.
///
/// # Safety
///
/// `download` must be a live `pv_download`; `buf` must point to `buf_len`
/// writable bytes; `out_len` to a writable `size_t`.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pv_download_request_body(
    download: *const pv_download,
    buf: *mut c_char,
    buf_len: usize,
    out_len: *mut usize,
) -> pv_result {
    ffi_guard!({
        let download = arg_ref!(download);
        let buf = arg_out_buf!(buf, buf_len);
        let out_len = arg_mut!(out_len);
        buf.write_text(&Request::Pull(download.inbox.request(None)).body(), out_len)
    })
}

/// Hands the server's HTTP answer to the pull to the core
/// (`Answer::from_http`, then `Inbox::absorb`); `*out_more` says whether
/// another page is to be pulled.
///
/// # Errors
///
/// As [`pv_sync_resume`]'s server errors; `PV_RESULT_NULL_PARAMETER`.
///
/// # Safety
///
/// `download` must be a live `pv_download`; `body` must point to
/// `body_len` readable bytes; `out_more` to a writable `bool`.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pv_download_absorb(
    download: *mut pv_download,
    status: u16,
    body: *const u8,
    body_len: usize,
    out_more: *mut bool,
) -> pv_result {
    ffi_guard!({
        let download = arg_mut!(download);
        let body = arg_bytes!(body, body_len);
        let out_more = arg_mut!(out_more);
        let request = Request::Pull(download.inbox.request(None));
        let Answer::Pull(page) = Answer::from_http(&request, status, body)? else {
            return Err(Fail::new(
                pv_result::InvalidInput,
                "not an answer to a pull",
            ));
        };
        *out_more = download.inbox.absorb(page)?;
        Ok(())
    })
}

/// Copies the vault header the server holds (binary form, `Inbox::header`):
/// open the vault with it (`pv_vault_open` with no records), and seed a new
/// store with [`pv_store_put_header`].
///
/// # Errors
///
/// `PV_RESULT_MISSING_RECORD` when the pulled pages held no header;
/// `PV_RESULT_NULL_PARAMETER`; `PV_RESULT_BUFFER_TOO_SMALL`.
///
/// # Safety
///
/// `download` must be a live `pv_download`; `buf` must point to `buf_len`
/// writable bytes; `out_len` to a writable `size_t`.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pv_download_header(
    download: *const pv_download,
    buf: *mut u8,
    buf_len: usize,
    out_len: *mut usize,
) -> pv_result {
    ffi_guard!({
        let download = arg_ref!(download);
        let buf = arg_out_buf!(buf, buf_len);
        let out_len = arg_mut!(out_len);
        let header = download.inbox.header().ok_or_else(|| {
            Fail::new(pv_result::MissingRecord, "the server sent no vault header")
        })?;
        buf.write_bytes(header.as_bytes(), out_len)
    })
}

/// Merges every pulled page into the vault and its store
/// (`SyncState::integrate`); afterwards persist the store and the state and
/// sync as usual.
///
/// # Errors
///
/// As [`pv_sync_resume`]'s errors after an answer was read.
///
/// # Safety
///
/// `download`, `vault`, `store` and `state` must be live handles: the state
/// given to [`pv_download_start`], the vault opened from
/// [`pv_download_header`] and its store.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pv_download_finish(
    download: *const pv_download,
    vault: *mut pv_vault,
    store: *mut pv_store,
    state: *mut pv_sync_state,
) -> pv_result {
    ffi_guard!({
        let download = arg_ref!(download);
        let vault = arg_mut!(vault);
        let store = arg_mut!(store);
        let state = arg_mut!(state);
        state
            .inner
            .integrate(&mut vault.inner, &mut store.inner, &download.inbox)?;
        Ok(())
    })
}

/// Starts a pull of what the server holds after the state's cursor
/// (`SyncState::begin_pull`), outside a sync: after
/// `PV_RESULT_HEADER_CHANGED`, pull with [`pv_download_request_body`] and
/// [`pv_download_absorb`], then read the header with
/// [`pv_download_newer_header`].
///
/// # Errors
///
/// `PV_RESULT_WRONG_VAULT` for a state of another vault;
/// `PV_RESULT_NULL_PARAMETER`.
///
/// # Safety
///
/// `vault` and `state` must be live handles; `out_download` must point to
/// a writable `pv_download *`.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pv_download_start_pull(
    vault: *const pv_vault,
    state: *mut pv_sync_state,
    out_download: *mut *mut pv_download,
) -> pv_result {
    ffi_guard!({
        let vault = arg_ref!(vault);
        let state = arg_mut!(state);
        let out_download = arg_mut!(out_download);
        let inbox = state.inner.begin_pull(&vault.inner)?;
        *out_download = into_handle(pv_download { inbox });
        Ok(())
    })
}

/// Copies the pulled vault header (binary form) when it is newer than
/// `vault`'s (`Inbox::newer_header`): the password or keys changed on
/// another device. Open the vault anew with it and the store's records
/// (`pv_vault_open` with the new password), put it into the store with
/// [`pv_store_put_header`], persist the store, and sync again.
///
/// # Errors
///
/// `PV_RESULT_NOT_FOUND` when the pulled pages held no newer header;
/// `PV_RESULT_NULL_PARAMETER`; `PV_RESULT_BUFFER_TOO_SMALL`.
///
/// # Safety
///
/// `download` and `vault` must be live handles; `buf` must point to
/// `buf_len` writable bytes; `out_len` to a writable `size_t`.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pv_download_newer_header(
    download: *const pv_download,
    vault: *const pv_vault,
    buf: *mut u8,
    buf_len: usize,
    out_len: *mut usize,
) -> pv_result {
    ffi_guard!({
        let download = arg_ref!(download);
        let vault = arg_ref!(vault);
        let buf = arg_out_buf!(buf, buf_len);
        let out_len = arg_mut!(out_len);
        let header = download.inbox.newer_header(&vault.inner).ok_or_else(|| {
            Fail::new(
                pv_result::NotFound,
                "the server holds no newer vault header than this vault's",
            )
        })?;
        buf.write_bytes(header.as_bytes(), out_len)
    })
}

/// Puts the header `vault` was opened with into `store`
/// (`MemoryStore::put_header` with `Vault::header_record`), leaving every
/// other record as it is: after reopening a vault with the newer header of
/// [`pv_download_newer_header`]. (Not `pv_vault_all_records`: it seals
/// item keys afresh, and the server keeps those write-once.)
///
/// # Errors
///
/// `PV_RESULT_NULL_PARAMETER`.
///
/// # Safety
///
/// `store` must be a live `pv_store` not used by another thread during the
/// call; `vault` a live `pv_vault`.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pv_store_put_header(
    store: *mut pv_store,
    vault: *const pv_vault,
) -> pv_result {
    ffi_guard!({
        let store = arg_mut!(store);
        let vault = arg_ref!(vault);
        store.inner.put_header(vault.inner.header_record());
        Ok(())
    })
}

/// Frees a `pv_download`. NULL does nothing.
///
/// # Safety
///
/// `download` must be NULL or a `pv_download` from this library, not used
/// again.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pv_download_free(download: *mut pv_download) {
    let _ = ffi_guard!({
        // SAFETY: the caller hands back a pointer from this library (or NULL).
        unsafe { free_handle(download) };
        Ok(())
    });
}

// ---- login -------------------------------------------------------------------------

/// Derives the password login key from the server's pre-login answer
/// (`PreLoginResponse::params`, then `LoginKey::derive_from_password`: one
/// Argon2id run).
///
/// # Errors
///
/// `PV_RESULT_ENCODING` for text that is not a pre-login answer;
/// `PV_RESULT_KDF_PARAMS_OUT_OF_BOUNDS`; `PV_RESULT_INVALID_INPUT` for an
/// empty password; `PV_RESULT_NULL_PARAMETER`; `PV_RESULT_INVALID_UTF8`.
///
/// # Safety
///
/// `prelogin_json` and `password` must be NUL-terminated; `out_key` must
/// point to a writable `pv_login_key *`.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pv_login_key_from_prelogin(
    prelogin_json: *const c_char,
    password_text: *const c_char,
    out_key: *mut *mut pv_login_key,
) -> pv_result {
    ffi_guard!({
        let prelogin_json = arg_str!(prelogin_json);
        let password_text = arg_str!(password_text);
        let out_key = arg_mut!(out_key);
        let pre: PreLoginResponse = from_json(prelogin_json, "pre-login answer")?;
        let inner = LoginKey::derive_from_password(&password(password_text)?, &pre.params()?)?;
        *out_key = into_handle(pv_login_key { inner });
        Ok(())
    })
}

/// Derives the password login key from a vault header (binary form), for
/// registering the vault (`LoginParams::from_header`, then
/// `LoginKey::derive_from_password`).
///
/// # Errors
///
/// As [`pv_login_key_from_prelogin`]; `PV_RESULT_MALFORMED` for bytes
/// that are not a vault header.
///
/// # Safety
///
/// `header` must point to `header_len` readable bytes; `password` must be
/// NUL-terminated; `out_key` must point to a writable `pv_login_key *`.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pv_login_key_from_header(
    header: *const u8,
    header_len: usize,
    password_text: *const c_char,
    out_key: *mut *mut pv_login_key,
) -> pv_result {
    ffi_guard!({
        let header = arg_bytes!(header, header_len);
        let password_text = arg_str!(password_text);
        let out_key = arg_mut!(out_key);
        let params = LoginParams::from_header(header)?;
        let inner = LoginKey::derive_from_password(&password(password_text)?, &params)?;
        *out_key = into_handle(pv_login_key { inner });
        Ok(())
    })
}

/// Derives the recovery login key from the vault's recovery key (text
/// form; `LoginKey::derive_from_recovery_key`, no KDF). It logs in with
/// [`pv_login_request`] once the account holds its public key (a rekey
/// with [`pv_rekey_request`] registers it), and signs an account deletion.
///
/// # Errors
///
/// `PV_RESULT_INVALID_RECOVERY_KEY` for text that is not a recovery key;
/// `PV_RESULT_NULL_PARAMETER`; `PV_RESULT_INVALID_UTF8`.
///
/// # Safety
///
/// `recovery_key` must be NUL-terminated; `out_key` must point to a
/// writable `pv_login_key *`.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pv_login_key_from_recovery_key(
    recovery_key: *const c_char,
    out_key: *mut *mut pv_login_key,
) -> pv_result {
    ffi_guard!({
        let recovery_key = arg_str!(recovery_key);
        let out_key = arg_mut!(out_key);
        let inner = LoginKey::derive_from_recovery_key(&RecoveryKey::parse(recovery_key)?)?;
        *out_key = into_handle(pv_login_key { inner });
        Ok(())
    })
}

/// The challenge bytes of the server's answer to `POST /v1/challenge`.
fn challenge(json: &str) -> Result<(String, [u8; 32]), Fail> {
    let c: ChallengeResponse = from_json(json, "challenge answer")?;
    let bytes = decode_fixed::<32>(&c.challenge)?;
    Ok((c.challenge, bytes))
}

/// Writes the JSON body of `POST /v1/login`: the challenge of
/// `challenge_json` (the server's answer to a challenge for `"login"`)
/// signed for `origin` (`scheme://host[:port]`, as the app reaches the
/// server) and `account` (`LoginKey::login_request`), as
/// a password or a recovery login after the key's kind. Read the server's
/// answer with [`pv_session_token`].
///
/// # Errors
///
/// `PV_RESULT_ENCODING` for text that is not a challenge answer;
/// `PV_RESULT_INVALID_INPUT` for an empty or oversized origin or account;
/// `PV_RESULT_NULL_PARAMETER`; `PV_RESULT_INVALID_UTF8`;
/// `PV_RESULT_BUFFER_TOO_SMALL`.
///
/// # Safety
///
/// `key` must be a live `pv_login_key`; the texts NUL-terminated; `buf` must
/// point to `buf_len` writable bytes; `out_len` to a writable `size_t`.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pv_login_request(
    key: *const pv_login_key,
    challenge_json: *const c_char,
    origin: *const c_char,
    account: *const c_char,
    buf: *mut c_char,
    buf_len: usize,
    out_len: *mut usize,
) -> pv_result {
    ffi_guard!({
        let key = arg_ref!(key);
        let challenge_json = arg_str!(challenge_json);
        let origin = arg_str!(origin);
        let account = arg_str!(account);
        let buf = arg_out_buf!(buf, buf_len);
        let out_len = arg_mut!(out_len);
        let challenge: ChallengeResponse = from_json(challenge_json, "challenge answer")?;
        let request = key.inner.login_request(&challenge, origin, account)?;
        buf.write_text(&to_json(&request)?, out_len)
    })
}

/// Writes the JSON body of `POST /v1/register` for the vault of `header`
/// (binary form; its records follow by sync): the challenge of
/// `challenge_json` (asked for `"register"`) signed by `key` for `origin`
/// and `account` (`LoginKey::register_request`).
///
/// # Errors
///
/// As [`pv_login_request`]; `PV_RESULT_MALFORMED` for bytes that are not
/// a record; `PV_RESULT_INVALID_INPUT` when `key` is not a password login
/// key.
///
/// # Safety
///
/// As [`pv_login_request`]; `header` must point to `header_len` readable
/// bytes.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pv_register_request(
    key: *const pv_login_key,
    challenge_json: *const c_char,
    origin: *const c_char,
    account: *const c_char,
    header: *const u8,
    header_len: usize,
    buf: *mut c_char,
    buf_len: usize,
    out_len: *mut usize,
) -> pv_result {
    ffi_guard!({
        let key = password_key(arg_ref!(key))?;
        let challenge_json = arg_str!(challenge_json);
        let origin = arg_str!(origin);
        let account = arg_str!(account);
        let header = arg_bytes!(header, header_len);
        let buf = arg_out_buf!(buf, buf_len);
        let out_len = arg_mut!(out_len);
        let header = SealedRecord::from_bytes(header.to_vec())?;
        let challenge: ChallengeResponse = from_json(challenge_json, "challenge answer")?;
        let request = key.register_request(&challenge, origin, account, &header)?;
        buf.write_text(&to_json(&request)?, out_len)
    })
}

/// The password login key, for the request bodies that must be signed by
/// it.
fn password_key(key: &pv_login_key) -> Result<&LoginKey, Fail> {
    if key.inner.kind() == KeyKind::Password {
        Ok(&key.inner)
    } else {
        Err(Fail::new(
            pv_result::InvalidInput,
            "`key` must be a password login key",
        ))
    }
}

/// Writes the JSON body of `POST /v1/account/keys` (with the session's
/// bearer token), which makes the account's login keys follow the vault
/// header the server holds (`LoginKey::sign_challenge`, `RekeyRequest`):
/// after this device pushed a password change, `key` is the password login
/// key of the new header ([`pv_login_key_from_header`] with the new
/// password); `recovery` (NULL for none) registers a recovery login key
/// (after a new recovery key, or one never registered). Both sign the
/// challenge of `challenge_json` (asked for `"rekey"`) for `origin` and
/// `account`. The answer is the new pre-login.
///
/// # Errors
///
/// As [`pv_login_request`]; `PV_RESULT_INVALID_INPUT` when `key` is not a
/// password login key or `recovery` not a recovery one.
///
/// # Safety
///
/// As [`pv_login_request`]; `recovery` must be NULL or a live
/// `pv_login_key`.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pv_rekey_request(
    key: *const pv_login_key,
    recovery: *const pv_login_key,
    challenge_json: *const c_char,
    origin: *const c_char,
    account: *const c_char,
    buf: *mut c_char,
    buf_len: usize,
    out_len: *mut usize,
) -> pv_result {
    ffi_guard!({
        let key = password_key(arg_ref!(key))?;
        // SAFETY: the contract above: NULL or a live `pv_login_key`.
        let recovery = unsafe { recovery.as_ref() };
        let challenge_json = arg_str!(challenge_json);
        let origin = arg_str!(origin);
        let account = arg_str!(account);
        let buf = arg_out_buf!(buf, buf_len);
        let out_len = arg_mut!(out_len);
        let (text_form, bytes) = challenge(challenge_json)?;
        let signature = key.sign_challenge(&bytes, Action::Rekey, origin, account)?;
        let (recovery_key, recovery_signature) = match recovery {
            Some(r) if r.inner.kind() == KeyKind::Recovery => {
                let s = r
                    .inner
                    .sign_challenge(&bytes, Action::Rekey, origin, account)?;
                (
                    Some(text::encode(&r.inner.public_key())),
                    Some(text::encode(&s)),
                )
            }
            Some(_) => {
                return Err(Fail::new(
                    pv_result::InvalidInput,
                    "`recovery` must be a recovery login key",
                ));
            }
            None => (None, None),
        };
        let request = RekeyRequest {
            account: account.to_owned(),
            challenge: text_form,
            password_key: text::encode(&key.public_key()),
            password_signature: text::encode(&signature),
            recovery_key,
            recovery_signature,
        };
        buf.write_text(&to_json(&request)?, out_len)
    })
}

/// Writes the JSON body of `POST /v1/account/delete` (with the session's
/// bearer token), which erases the account, its vault and every row the
/// server holds for it: the challenge of `challenge_json` (asked for
/// `"delete"`) signed by `key` — the password or the recovery login key —
/// for `origin` and `account` (`LoginKey::sign_challenge`,
/// `DeleteAccountRequest`). A stolen session alone cannot erase an
/// account.
///
/// # Errors
///
/// As [`pv_login_request`].
///
/// # Safety
///
/// As [`pv_login_request`].
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pv_delete_account_request(
    key: *const pv_login_key,
    challenge_json: *const c_char,
    origin: *const c_char,
    account: *const c_char,
    buf: *mut c_char,
    buf_len: usize,
    out_len: *mut usize,
) -> pv_result {
    ffi_guard!({
        let key = arg_ref!(key);
        let challenge_json = arg_str!(challenge_json);
        let origin = arg_str!(origin);
        let account = arg_str!(account);
        let buf = arg_out_buf!(buf, buf_len);
        let out_len = arg_mut!(out_len);
        let (text_form, bytes) = challenge(challenge_json)?;
        let signature = key
            .inner
            .sign_challenge(&bytes, Action::Delete, origin, account)?;
        let request = DeleteAccountRequest {
            account: account.to_owned(),
            key: key.inner.kind(),
            challenge: text_form,
            signature: text::encode(&signature),
        };
        buf.write_text(&to_json(&request)?, out_len)
    })
}

/// Reads the server's HTTP answer to a login or a registration
/// (`sync::read_answer`) and writes the session's bearer token (send it as
/// `Authorization: Bearer <token>`; keep the answer's text for
/// [`pv_download_start`]).
///
/// # Errors
///
/// `PV_RESULT_SERVER_REFUSED` for the server's typed refusal (the message
/// names its status and code: a wrong password or recovery key is a 401
/// `authentication_failed`, too many failures a 429);
/// `PV_RESULT_TRANSPORT` for a 5xx or an answer outside the protocol;
/// `PV_RESULT_NULL_PARAMETER`; `PV_RESULT_BUFFER_TOO_SMALL`.
///
/// # Security
///
/// The token is a secret for as long as it lives: keep it out of logs.
///
/// # Safety
///
/// `body` must point to `body_len` readable bytes; `buf` to `buf_len`
/// writable bytes; `out_len` to a writable `size_t`.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pv_session_token(
    status: u16,
    body: *const u8,
    body_len: usize,
    buf: *mut c_char,
    buf_len: usize,
    out_len: *mut usize,
) -> pv_result {
    ffi_guard!({
        let body = arg_bytes!(body, body_len);
        let buf = arg_out_buf!(buf, buf_len);
        let out_len = arg_mut!(out_len);
        let session: SessionResponse = read_answer(status, body)?;
        buf.write_text(&session.token, out_len)
    })
}

/// Frees a `pv_login_key` (zeroizing it). NULL does nothing.
///
/// # Safety
///
/// `key` must be NULL or a `pv_login_key` from this library, not used
/// again.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pv_login_key_free(key: *mut pv_login_key) {
    let _ = ffi_guard!({
        // SAFETY: the caller hands back a pointer from this library (or NULL).
        unsafe { free_handle(key) };
        Ok(())
    });
}
