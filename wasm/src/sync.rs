//! Sync through the app's own `fetch` (SPEC §12.11): `Store` (the records
//! the app persists), `SyncState` (the cursor and what this device saw the
//! server hold, a blob the app persists), `SyncRun` (one sync in progress:
//! core's sans-IO `sync::Machine`), `Download` (the first pull onto a new
//! device) and `LoginKey` (login and registration bodies), plus the
//! builders of the two unauthenticated requests and the reader of the
//! login-side answers. Requests cross as `{method, path, body}` with the
//! body a `Uint8Array` of JSON; answers as `{status, body}`. Every function
//! converts its arguments and calls one core function: what to pull, what
//! to push, conflicts, rollback checks and the HTTP status mapping are all
//! the core's. The driver that moves the requests over `fetch` is
//! `js/sync.js`.

use js_sys::{Reflect, Uint8Array};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;

use promptvault::protocol::{
    ChallengeRequest, ChallengeResponse, LoginKey as CoreLoginKey, LoginParams, LoginRequest,
    PreLoginRequest, PreLoginResponse, RegisterRequest, SessionResponse,
};
use promptvault::sync::{
    self, Answer, Inbox, Machine, Options, Request, Step, SyncError, SyncState as CoreSyncState,
};
use promptvault::{MemoryStore, SealedRecord, VaultId};

use crate::convert::{changeset_from_js, object, record_bytes, record_to_js, to_js};
use crate::error::{IntoJs, from_sync, invalid, js_error};
use crate::types::{
    ChangesetInput, HttpAnswer, LoginAction, RecordInput, SealedRecordView, Session, SyncRequest,
    SyncStep,
};
use crate::vault::Vault;

fn cast<T: JsCast>(value: JsValue) -> T {
    value.unchecked_into()
}

/// Shorthand: map a sync result into a JS result.
trait SyncIntoJs<T> {
    fn js_sync(self) -> Result<T, JsValue>;
}

impl<T> SyncIntoJs<T> for Result<T, SyncError> {
    fn js_sync(self) -> Result<T, JsValue> {
        self.map_err(|e| from_sync(&e))
    }
}

/// A request as JS sees it: `{method, path, body}`.
fn request_to_js(method: &str, path: &str, body: &str) -> Result<SyncRequest, JsValue> {
    object(&[
        ("method", JsValue::from_str(method)),
        ("path", JsValue::from_str(path)),
        ("body", Uint8Array::from(body.as_bytes()).into()),
    ])
    .map(cast)
}

fn json<T: serde::Serialize>(value: &T) -> Result<String, JsValue> {
    serde_json::to_string(value).map_err(|e| invalid(&format!("cannot encode a request: {e}")))
}

/// An HTTP answer `{status, body}` as a status and bytes (`body`: a
/// `Uint8Array` or a string).
fn http_answer(answer: &JsValue) -> Result<(u16, Vec<u8>), JsValue> {
    let field = |name: &str| {
        Reflect::get(answer, &JsValue::from_str(name))
            .map_err(|_| invalid("an answer must be {status, body}"))
    };
    if !answer.is_object() {
        return Err(invalid("an answer must be {status, body}"));
    }
    let status = field("status")?
        .as_f64()
        .filter(|s| s.fract() == 0.0 && (0.0..=65535.0).contains(s))
        .ok_or_else(|| invalid("an answer's status must be a whole number 0–65535"))?;
    let body = field("body")?;
    let bytes = if let Some(text) = body.as_string() {
        text.into_bytes()
    } else if let Some(b) = body.dyn_ref::<Uint8Array>() {
        b.to_vec()
    } else {
        return Err(invalid("an answer's body must be a Uint8Array or a string"));
    };
    // Checked above: integral and within u16.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    Ok((status as u16, bytes))
}

// ---- Store ----------------------------------------------------------------------

/// The records of one vault, as the app persists them (core's
/// `MemoryStore`): the sync engine reads and updates it. Keep it in step
/// with the vault by applying every changeset the vault returns.
#[wasm_bindgen]
#[derive(Debug, Default)]
pub struct Store {
    inner: MemoryStore,
}

#[wasm_bindgen]
impl Store {
    /// An empty store.
    #[wasm_bindgen(constructor)]
    #[must_use]
    pub fn new() -> Store {
        Store::default()
    }

    /// Reads a bundle written by `toBundle` (the header and every record
    /// in one blob).
    ///
    /// # Errors
    ///
    /// `MALFORMED` for bytes that are not a bundle; `LIMIT_EXCEEDED`.
    #[wasm_bindgen(js_name = fromBundle)]
    pub fn from_bundle(bytes: &[u8]) -> Result<Store, JsValue> {
        MemoryStore::from_bundle(bytes)
            .js()
            .map(|inner| Store { inner })
    }

    /// The store as one blob (header first, then every record by key).
    ///
    /// # Errors
    ///
    /// `MISSING_RECORD` when the store holds no header.
    #[wasm_bindgen(js_name = toBundle)]
    pub fn to_bundle(&self) -> Result<Vec<u8>, JsValue> {
        self.inner.to_bundle().js()
    }

    /// Applies a changeset (`{header, puts, deletes}`, as the vault returns
    /// them; records as `Uint8Array`, base64url or `{bytes}`): header,
    /// puts, then deletes. All or nothing: a malformed record changes
    /// nothing.
    ///
    /// # Errors
    ///
    /// `INVALID_INPUT` for something that is not a changeset; `MALFORMED`
    /// for a record that does not parse.
    pub fn apply(&mut self, changes: ChangesetInput) -> Result<(), JsValue> {
        let changes = changeset_from_js(&changes)?;
        self.inner.apply(&changes);
        Ok(())
    }

    /// The stored vault header, or `null`.
    ///
    /// # Errors
    ///
    /// Never in practice (building the result object).
    pub fn header(&self) -> Result<Option<SealedRecordView>, JsValue> {
        self.inner
            .header_record()
            .map(|h| record_to_js(h).map(cast))
            .transpose()
    }

    /// Every record but the header, by storage key.
    ///
    /// # Errors
    ///
    /// Never in practice (building the result objects).
    pub fn records(&self) -> Result<Vec<SealedRecordView>, JsValue> {
        self.inner
            .records()
            .map(|r| record_to_js(r).map(cast))
            .collect()
    }

    /// How many records it holds (the header not counted).
    #[wasm_bindgen(getter)]
    #[must_use]
    pub fn size(&self) -> usize {
        self.inner.len()
    }
}

// ---- SyncState ------------------------------------------------------------------

/// What this device persists between syncs with one server (core's
/// `sync::SyncState`: the cursor and what it last saw the server hold;
/// public data, never shared between devices). Save `toBytes()` whenever a
/// sync step says `persist`, after the store.
#[wasm_bindgen]
#[derive(Debug, Default)]
pub struct SyncState {
    inner: CoreSyncState,
}

#[wasm_bindgen]
impl SyncState {
    /// A state for a vault never synced with this server.
    #[wasm_bindgen(constructor)]
    #[must_use]
    pub fn new() -> SyncState {
        SyncState::default()
    }

    /// Reads a state saved with `toBytes`.
    ///
    /// # Errors
    ///
    /// `ENCODING` for bytes that are not a saved state.
    #[wasm_bindgen(js_name = fromBytes)]
    pub fn from_bytes(bytes: &[u8]) -> Result<SyncState, JsValue> {
        serde_json::from_slice(bytes)
            .map(|inner| SyncState { inner })
            .map_err(|e| {
                js_error(
                    promptvault::ErrorCode::Encoding,
                    &format!("invalid sync state: {e}"),
                )
            })
    }

    /// The state as a blob (JSON text) to persist.
    ///
    /// # Errors
    ///
    /// Never in practice (plain data).
    #[wasm_bindgen(js_name = toBytes)]
    pub fn to_bytes(&self) -> Result<Vec<u8>, JsValue> {
        serde_json::to_vec(&self.inner).map_err(|e| invalid(&format!("sync state: {e}")))
    }

    /// The cursor: every commit up to it has been pulled and merged.
    #[wasm_bindgen(getter)]
    #[must_use]
    pub fn cursor(&self) -> f64 {
        // Cursors stay below 2^53 (SPEC §12: below 2^63, one per commit).
        #[allow(clippy::cast_precision_loss)]
        let c = self.inner.cursor() as f64;
        c
    }

    /// The vault this state belongs to (32 hex digits), once a step ran.
    #[wasm_bindgen(getter, js_name = vaultId)]
    #[must_use]
    pub fn vault_id(&self) -> Option<String> {
        self.inner.vault_id().map(|v| v.to_hex())
    }
}

// ---- Sync -----------------------------------------------------------------------

/// One sync in progress (core's `sync::Machine` and its current step).
/// `new SyncRun(vault, state)` starts it; while `step.done` is false, persist
/// if `step.persist`, wait if `step.backoff`, send `step.request` and hand
/// the answer to `resume`, which returns the next step.
#[wasm_bindgen]
pub struct SyncRun {
    machine: Machine,
    step: Step,
}

impl core::fmt::Debug for SyncRun {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SyncRun")
            .field("machine", &self.machine)
            .finish_non_exhaustive()
    }
}

fn step_to_js(step: &Step) -> Result<SyncStep, JsValue> {
    match step {
        Step::Send {
            request,
            persist,
            backoff,
        } => object(&[
            ("done", JsValue::FALSE),
            (
                "request",
                request_to_js(Request::METHOD, request.path(), &request.body())?.into(),
            ),
            ("persist", JsValue::from_bool(*persist)),
            ("backoff", backoff.map_or(JsValue::NULL, JsValue::from)),
        ]),
        Step::Done { report, persist } => object(&[
            ("done", JsValue::TRUE),
            ("report", to_js(report)?),
            ("persist", JsValue::from_bool(*persist)),
        ]),
    }
    .map(cast)
}

#[wasm_bindgen]
impl SyncRun {
    /// Starts a sync (`sync::Machine::start`, default options): the first
    /// step is a pull after the state's cursor.
    ///
    /// # Errors
    ///
    /// `WRONG_VAULT` for a state of another vault; `INVALID_INPUT` for a
    /// locked vault.
    #[wasm_bindgen(constructor)]
    pub fn new(vault: &Vault, state: &mut SyncState) -> Result<SyncRun, JsValue> {
        let (machine, step) =
            Machine::start(vault.core()?, &mut state.inner, Options::default()).js_sync()?;
        Ok(SyncRun { machine, step })
    }

    /// The current step: `{done: false, request, persist, backoff}` or
    /// `{done: true, report, persist}`.
    ///
    /// # Errors
    ///
    /// Never in practice (building the result object).
    #[wasm_bindgen(getter)]
    pub fn step(&self) -> Result<SyncStep, JsValue> {
        step_to_js(&self.step)
    }

    /// Hands the server's answer `{status, body}` to the current request to
    /// the core (`Answer::from_http`, then `Machine::resume`, which may
    /// change the vault, the store and the state) and returns the next step.
    ///
    /// # Errors
    ///
    /// `SERVER_REFUSED` for the server's typed refusal (`httpStatus` and
    /// `serverCode` say which; after `unauthorized` log in again and call
    /// this again with the new answer); `TRANSPORT` for a 5xx or an answer
    /// outside the protocol (send the request again later, then call this
    /// again); `HEADER_CHANGED`, `CONTENTION`, `SERVER_MISBEHAVED`,
    /// `ROLLBACK` or a vault error: the sync has ended (what earlier steps
    /// did stays done). `NOT_FOUND` when the sync is already done.
    pub fn resume(
        &mut self,
        vault: &mut Vault,
        store: &mut Store,
        state: &mut SyncState,
        answer: HttpAnswer,
    ) -> Result<SyncStep, JsValue> {
        let Step::Send { request, .. } = &self.step else {
            return Err(js_error(
                promptvault::ErrorCode::NotFound,
                "the sync is done: there is no request to answer",
            ));
        };
        let (status, body) = http_answer(&answer)?;
        let answer = Answer::from_http(request, status, &body).js_sync()?;
        self.step = self
            .machine
            .resume(
                vault.core_mut()?,
                &mut store.inner,
                &mut state.inner,
                answer,
            )
            .js_sync()?;
        step_to_js(&self.step)
    }
}

// ---- Download -------------------------------------------------------------------

/// The first pull of a vault onto a device that does not hold it yet
/// (core's `SyncState::begin_download` and its `Inbox`): send `request`
/// and `absorb` the answer while it says more; then unlock the server's
/// `header()` with the password, build a store from the vault
/// (`Store.fromVault`), `finish`, persist, and sync as usual.
#[wasm_bindgen]
#[derive(Debug)]
pub struct Download {
    inbox: Inbox,
}

#[wasm_bindgen]
impl Download {
    /// Starts the download of the vault `vaultId` (a session's `vaultId`)
    /// into `state` (`SyncState::begin_download`).
    ///
    /// # Errors
    ///
    /// `INVALID_INPUT` for an id that is not 32 hex digits; `WRONG_VAULT`
    /// for a state of another vault.
    #[wasm_bindgen(constructor)]
    pub fn new(vault_id: &str, state: &mut SyncState) -> Result<Download, JsValue> {
        let vault: VaultId = vault_id.parse().js()?;
        let inbox = state.inner.begin_download(vault).js_sync()?;
        Ok(Download { inbox })
    }

    /// The next pull request.
    ///
    /// # Errors
    ///
    /// Never in practice (building the result object).
    #[wasm_bindgen(getter)]
    pub fn request(&self) -> Result<SyncRequest, JsValue> {
        let r = Request::Pull(self.inbox.request(None));
        request_to_js(Request::METHOD, r.path(), &r.body())
    }

    /// Hands the server's answer to `request` to the core
    /// (`Answer::from_http`, then `Inbox::absorb`); returns whether another
    /// page is to be pulled.
    ///
    /// # Errors
    ///
    /// As `SyncRun.resume` for the server's answers.
    pub fn absorb(&mut self, answer: HttpAnswer) -> Result<bool, JsValue> {
        let (status, body) = http_answer(&answer)?;
        let request = Request::Pull(self.inbox.request(None));
        let Answer::Pull(page) = Answer::from_http(&request, status, &body).js_sync()? else {
            return Err(invalid("not an answer to a pull"));
        };
        self.inbox.absorb(page).js_sync()
    }

    /// The vault header the server holds (`Inbox::header`): unlock it with
    /// `Vault.unlock(header, [], password)`.
    ///
    /// # Errors
    ///
    /// `MISSING_RECORD` when the pulled pages held no header.
    pub fn header(&self) -> Result<SealedRecordView, JsValue> {
        let header = self.inbox.header().ok_or_else(|| {
            js_error(
                promptvault::ErrorCode::MissingRecord,
                "the server sent no vault header",
            )
        })?;
        record_to_js(header).map(cast)
    }

    /// Merges every pulled page into the vault and its store
    /// (`SyncState::integrate`); then persist the store and the state.
    ///
    /// # Errors
    ///
    /// As `SyncRun.resume` after an answer was read.
    pub fn finish(
        &self,
        vault: &mut Vault,
        store: &mut Store,
        state: &mut SyncState,
    ) -> Result<(), JsValue> {
        state
            .inner
            .integrate(vault.core_mut()?, &mut store.inner, &self.inbox)
            .js_sync()
            .map(|_| ())
    }
}

#[wasm_bindgen]
impl Store {
    /// A store holding everything of `vault` (`Vault::snapshot` applied to
    /// an empty store): for a vault just opened from a server's header.
    ///
    /// # Errors
    ///
    /// `INVALID_INPUT` for a locked vault; `RANDOMNESS`.
    #[wasm_bindgen(js_name = fromVault)]
    pub fn from_vault(vault: &Vault) -> Result<Store, JsValue> {
        let mut inner = MemoryStore::new();
        inner.apply(&vault.core()?.snapshot().js()?);
        Ok(Store { inner })
    }
}

// ---- login ----------------------------------------------------------------------

/// A login signing key (core's `protocol::LoginKey`), derived from the
/// password with one Argon2id run. It never leaves wasm memory; `free()`
/// zeroizes it.
#[wasm_bindgen]
#[derive(Debug)]
pub struct LoginKey {
    inner: CoreLoginKey,
}

#[wasm_bindgen]
impl LoginKey {
    /// Derives the password login key from the server's answer to
    /// `preloginRequest` (`PreLoginResponse::params`, then
    /// `LoginKey::derive_from_password`).
    ///
    /// # Errors
    ///
    /// As `readAnswer` for the answer; `KDF_PARAMS_OUT_OF_BOUNDS` (checked
    /// before any work); `INVALID_INPUT` for an empty password.
    #[wasm_bindgen(js_name = fromPrelogin)]
    pub fn from_prelogin(answer: HttpAnswer, password: &str) -> Result<LoginKey, JsValue> {
        let (status, body) = http_answer(&answer)?;
        let pre: PreLoginResponse = sync::read_answer(status, &body).js_sync()?;
        let params = pre.params().js()?;
        let pw = promptvault::Password::new(password).js()?;
        CoreLoginKey::derive_from_password(&pw, &params)
            .js()
            .map(|inner| LoginKey { inner })
    }

    /// Derives the password login key from a vault header, for registering
    /// the vault (`LoginParams::from_header`, then
    /// `LoginKey::derive_from_password`).
    ///
    /// # Errors
    ///
    /// `MALFORMED` for bytes that are not a vault header; as
    /// `fromPrelogin`.
    #[wasm_bindgen(js_name = fromHeader)]
    pub fn from_header(header: RecordInput, password: &str) -> Result<LoginKey, JsValue> {
        let params = LoginParams::from_header(&record_bytes(&header)?).js()?;
        let pw = promptvault::Password::new(password).js()?;
        CoreLoginKey::derive_from_password(&pw, &params)
            .js()
            .map(|inner| LoginKey { inner })
    }

    /// `POST /v1/login`: the server's answer to a `login` challenge signed
    /// for `origin` (`scheme://host[:port]`, the server as this client
    /// reaches it) and `account` (`LoginKey::login_request`).
    ///
    /// # Errors
    ///
    /// As `readAnswer` for the challenge answer; `INVALID_INPUT` for an
    /// empty or oversized origin or account.
    #[wasm_bindgen(js_name = loginRequest)]
    pub fn login_request(
        &self,
        challenge: HttpAnswer,
        origin: &str,
        account: &str,
    ) -> Result<SyncRequest, JsValue> {
        let (status, body) = http_answer(&challenge)?;
        let c: ChallengeResponse = sync::read_answer(status, &body).js_sync()?;
        let req = self.inner.login_request(&c, origin, account).js()?;
        request_to_js(Request::METHOD, LoginRequest::PATH, &json(&req)?)
    }

    /// `POST /v1/register` for the vault of `header` (its records follow by
    /// sync): a `register` challenge signed for `origin` and `account`
    /// (`LoginKey::register_request`).
    ///
    /// # Errors
    ///
    /// As `loginRequest`; `MALFORMED` for bytes that are not a record,
    /// `INVALID_INPUT` for a record that is not a vault header.
    #[wasm_bindgen(js_name = registerRequest)]
    pub fn register_request(
        &self,
        challenge: HttpAnswer,
        origin: &str,
        account: &str,
        header: RecordInput,
    ) -> Result<SyncRequest, JsValue> {
        let (status, body) = http_answer(&challenge)?;
        let c: ChallengeResponse = sync::read_answer(status, &body).js_sync()?;
        let header = SealedRecord::from_bytes(record_bytes(&header)?).js()?;
        let req = self
            .inner
            .register_request(&c, origin, account, &header)
            .js()?;
        request_to_js(Request::METHOD, RegisterRequest::PATH, &json(&req)?)
    }
}

/// `POST /v1/prelogin` for `account` (its answer goes to
/// `LoginKey.fromPrelogin`).
///
/// # Errors
///
/// Never in practice (building the result object).
#[wasm_bindgen(js_name = preloginRequest)]
pub fn prelogin_request(account: &str) -> Result<SyncRequest, JsValue> {
    let req = PreLoginRequest {
        account: account.to_owned(),
    };
    request_to_js(Request::METHOD, PreLoginRequest::PATH, &json(&req)?)
}

/// `POST /v1/challenge` for `account` and `action` (core's `Action`:
/// `"login"` or `"register"` for `loginRequest` / `registerRequest`;
/// `"delete"`, `"rekey"`).
///
/// # Errors
///
/// `INVALID_INPUT` for another action.
#[wasm_bindgen(js_name = challengeRequest)]
pub fn challenge_request(account: &str, action: LoginAction) -> Result<SyncRequest, JsValue> {
    let action = crate::convert::from_js(
        action.into(),
        "action (\"login\" | \"register\" | \"delete\" | \"rekey\")",
    )?;
    let req = ChallengeRequest {
        account: account.to_owned(),
        action,
    };
    request_to_js(Request::METHOD, ChallengeRequest::PATH, &json(&req)?)
}

/// Reads the server's answer to a login or a registration
/// (`sync::read_answer` for a `SessionResponse`): `{token, expiresIn,
/// vaultId, cursor}`. The token is the session's bearer credential.
///
/// # Errors
///
/// `SERVER_REFUSED` with `httpStatus` and `serverCode` (e.g. 401
/// `authentication_failed`); `TRANSPORT` for a 5xx or a non-protocol
/// answer.
#[wasm_bindgen(js_name = readSession)]
pub fn read_session(answer: HttpAnswer) -> Result<Session, JsValue> {
    let (status, body) = http_answer(&answer)?;
    let session: SessionResponse = sync::read_answer(status, &body).js_sync()?;
    to_js(&session).map(cast)
}
