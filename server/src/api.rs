//! The HTTP endpoints (SPEC §12): JSON in, JSON out.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, FromRequest, Request, State};
use axum::http::StatusCode;
use promptvault::format::text;
use promptvault::inspect::{self, RecordInfo};
use promptvault::protocol::{
    Action, ChallengeRequest, ChallengeResponse, Change, DeleteAccountRequest,
    DeleteAccountResponse, KeyKind, LoginParams, LoginRequest, PUBLIC_KEY_LEN, PreLoginRequest,
    PreLoginResponse, PullRequest, PullResponse, RegisterRequest, SIGNATURE_LEN, SessionResponse,
    WaitRequest, WaitResponse, check_account, decode_fixed, verify_login,
};
use promptvault::{KdfParams, RecordKind, SALT_LEN, VaultId};
use serde::de::DeserializeOwned;
use sqlx::Row as _;

use crate::AppState;
use crate::auth::{self, Session, now};
use crate::commit::tombstone_revision;
use crate::error::{ApiError, ApiResult};
use crate::writes::Batch;

/// JSON body extractor whose rejections are typed errors.
pub(crate) struct Body<T>(pub(crate) T);

impl<T: DeserializeOwned> FromRequest<AppState> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> ApiResult<Self> {
        // Refuse a declared oversize before reading a byte of it; a body
        // without a length is cut at the same limit while it is read.
        let declared = req
            .headers()
            .get(axum::http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > state.cfg.max_body as u64) {
            return Err(payload_too_large());
        }
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(Body(v)),
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => Err(payload_too_large()),
            Err(JsonRejection::MissingJsonContentType(_)) => {
                Err(ApiError::bad_request("send Content-Type: application/json"))
            }
            Err(e) => Err(ApiError::bad_request(format!(
                "the body is not the expected JSON: {}",
                e.body_text()
            ))),
        }
    }
}

use axum::Json;

fn payload_too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        "the request body is over the server's limit",
    )
}

pub(crate) async fn healthz(State(state): State<AppState>) -> ApiResult<&'static str> {
    sqlx::query("SELECT 1").execute(&state.db.pool).await?;
    Ok("ok")
}

pub(crate) fn account_ok(account: &str) -> ApiResult<()> {
    check_account(account).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_account",
            format!("invalid account name: {e}"),
        )
    })
}

pub(crate) fn fixed<const N: usize>(what: &str, s: &str) -> ApiResult<[u8; N]> {
    decode_fixed::<N>(s)
        .map_err(|_| ApiError::bad_request(format!("{what} is not {N} bytes of base64url")))
}

pub(crate) fn to_i64(n: u64) -> ApiResult<i64> {
    i64::try_from(n).map_err(|_| ApiError::bad_request("a number is out of range"))
}

pub(crate) fn to_u64(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

/// Pre-login: the account's real salt and KDF parameters, or a
/// deterministic fake (keyed by the server secret) for an unknown one.
pub(crate) async fn prelogin(
    State(state): State<AppState>,
    Body(req): Body<PreLoginRequest>,
) -> ApiResult<Json<PreLoginResponse>> {
    account_ok(&req.account)?;
    let row = sqlx::query("SELECT salt, m_cost, t_cost, p_cost FROM accounts WHERE name = $1")
        .bind(&req.account)
        .fetch_optional(&state.db.pool)
        .await?;
    let params = match row {
        Some(row) => {
            let salt: String = row.try_get("salt")?;
            let m: i64 = row.try_get("m_cost")?;
            let t: i64 = row.try_get("t_cost")?;
            let p: i64 = row.try_get("p_cost")?;
            let u = |n: i64| u32::try_from(n).map_err(|_| ApiError::internal());
            LoginParams {
                salt: decode_fixed::<SALT_LEN>(&salt).map_err(|_| ApiError::internal())?,
                kdf: KdfParams::new(u(m)?, u(t)?, u(p)?).map_err(|_| ApiError::internal())?,
            }
        }
        None => {
            let full = auth::keyed(&state.secret, "prelogin salt", req.account.as_bytes());
            let mut salt = [0u8; SALT_LEN];
            salt.copy_from_slice(full.get(..SALT_LEN).ok_or_else(ApiError::internal)?);
            LoginParams {
                salt,
                kdf: KdfParams::DEFAULT,
            }
        }
    };
    Ok(Json(PreLoginResponse::new(&params)))
}

/// A fresh challenge, for any well-formed account name (known or not).
pub(crate) async fn challenge(
    State(state): State<AppState>,
    Body(req): Body<ChallengeRequest>,
) -> ApiResult<Json<ChallengeResponse>> {
    account_ok(&req.account)?;
    let challenge = auth::issue_challenge(&state, &req.account, req.action).await?;
    Ok(Json(ChallengeResponse {
        challenge,
        origin: state.cfg.origin.clone(),
        expires_in: to_u64(state.cfg.challenge_ttl_secs),
    }))
}

pub(crate) fn verify(
    state: &AppState,
    key: &[u8; PUBLIC_KEY_LEN],
    signature: &str,
    challenge: &[u8; 32],
    action: Action,
    account: &str,
    kind: KeyKind,
) -> ApiResult<()> {
    let sig =
        decode_fixed::<SIGNATURE_LEN>(signature).map_err(|_| ApiError::authentication_failed())?;
    verify_login(
        key,
        &sig,
        challenge,
        action,
        &state.cfg.origin,
        account,
        kind,
    )
    .map_err(|_| ApiError::authentication_failed())
}

/// A record of a commit or a registration, checked keylessly.
pub(crate) struct Checked {
    pub(crate) info: RecordInfo,
    pub(crate) text: String,
}

pub(crate) fn check_record(state: &AppState, text_form: String) -> ApiResult<Checked> {
    if text_form.len() > state.cfg.max_record_text {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "record_too_large",
            "a record is over the server's size limit",
        ));
    }
    let bytes = text::decode(&text_form).map_err(|e| ApiError::record("a record", &e))?;
    let info = inspect::inspect(&bytes).map_err(|e| ApiError::record("a record", &e))?;
    if info.kind_code == RecordKind::ExportHeader as u8
        || info.kind_code == RecordKind::ExportPayload as u8
    {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "not_allowed",
            "export records are not stored in a vault",
        ));
    }
    Ok(Checked {
        info,
        text: text_form,
    })
}

impl Checked {
    /// Refuses a record of another vault than `vault` (`wrong_vault`).
    pub(crate) fn belongs_to(&self, vault: VaultId) -> ApiResult<()> {
        if self.info.vault_id == vault {
            Ok(())
        } else {
            Err(ApiError::record(
                "a record",
                &promptvault::Error::WrongVault,
            ))
        }
    }
}

/// Registration: a new account, its two login keys and its vault.
pub(crate) async fn register(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Body(req): Body<RegisterRequest>,
) -> ApiResult<Json<SessionResponse>> {
    account_ok(&req.account)?;
    let scopes = auth::scopes(&state, &req.account, &peer.ip().to_string());
    auth::check_rate(&state, &scopes).await?;
    let challenge =
        match auth::consume_challenge(&state, &req.challenge, &req.account, Action::Register).await
        {
            Ok(c) => c,
            Err(e) => {
                auth::record_failure(&state, &scopes).await?;
                return Err(e);
            }
        };
    let password_key = fixed::<PUBLIC_KEY_LEN>("passwordKey", &req.password_key)?;
    let recovery = recovery_pair(req.recovery_key.as_ref(), req.recovery_signature.as_ref())?;
    let signed = verify(
        &state,
        &password_key,
        &req.password_signature,
        &challenge,
        Action::Register,
        &req.account,
        KeyKind::Password,
    )
    .and_then(|()| {
        recovery.as_ref().map_or(Ok(()), |(key, sig)| {
            verify(
                &state,
                key,
                sig,
                &challenge,
                Action::Register,
                &req.account,
                KeyKind::Recovery,
            )
        })
    });
    if let Err(e) = signed {
        auth::record_failure(&state, &scopes).await?;
        return Err(e);
    }

    let header_bytes = text::decode(&req.header).map_err(|e| ApiError::record("the header", &e))?;
    let header_info =
        inspect::inspect(&header_bytes).map_err(|e| ApiError::record("the header", &e))?;
    if header_info.kind_code != RecordKind::VaultHeader as u8 {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "not_allowed",
            "`header` must be a vault-header record",
        ));
    }
    let params =
        LoginParams::from_header(&header_bytes).map_err(|e| ApiError::record("the header", &e))?;
    let vault = header_info.vault_id;
    if req.records.len() > state.cfg.max_records_per_commit {
        return Err(too_many());
    }
    let header = check_record(&state, req.header)?;
    header.belongs_to(vault)?;
    let mut rows = vec![header];
    let mut keys = BTreeSet::from(["h".to_owned()]);
    for r in req.records {
        let c = check_record(&state, r)?;
        c.belongs_to(vault)?;
        if !keys.insert(c.info.storage_key.clone()) {
            return Err(ApiError::bad_request("a storage key appears twice"));
        }
        rows.push(c);
    }
    let (count, bytes) = totals(&rows);
    check_quota(&state, count, bytes)?;

    let vault_hex = vault.to_hex();
    let (_turn, mut tx) = state.db.begin_write().await?;
    let taken = sqlx::query("SELECT name FROM accounts WHERE name = $1")
        .bind(&req.account)
        .fetch_optional(&mut *tx)
        .await?;
    if taken.is_some() {
        return Err(ApiError::conflict(
            "account_exists",
            "this account name is taken: log in instead",
        ));
    }
    let vault_taken = sqlx::query("SELECT vault_id FROM vaults WHERE vault_id = $1")
        .bind(&vault_hex)
        .fetch_optional(&mut *tx)
        .await?;
    if vault_taken.is_some() {
        return Err(ApiError::conflict(
            "vault_exists",
            "this vault is already registered to an account",
        ));
    }
    sqlx::query(
        "INSERT INTO accounts (name, vault_id, password_key, recovery_key, salt, m_cost, t_cost, p_cost, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(&req.account)
    .bind(&vault_hex)
    .bind(text::encode(&password_key))
    // No recovery login key registered: stored empty, and a recovery
    // login then fails like a wrong key.
    .bind(recovery.as_ref().map_or_else(String::new, |(k, _)| text::encode(k)))
    .bind(text::encode(&params.salt))
    .bind(i64::from(params.kdf.m_cost_kib()))
    .bind(i64::from(params.kdf.t_cost()))
    .bind(i64::from(params.kdf.p_cost()))
    .bind(now())
    .execute(&mut *tx)
    .await
    .map_err(|e| taken_or(e, "account_exists"))?;
    sqlx::query(
        "INSERT INTO vaults (vault_id, counter, floor, record_count, byte_count) VALUES ($1, 1, 0, $2, $3)",
    )
    .bind(&vault_hex)
    .bind(count)
    .bind(bytes)
    .execute(&mut *tx)
    .await
    .map_err(|e| taken_or(e, "vault_exists"))?;
    let all: Vec<&Checked> = rows.iter().collect();
    let mut batch = Batch::new(state.db.backend);
    batch.upsert(&mut tx, &vault_hex, 1, &all).await?;
    batch.run(&mut tx).await?;
    let token = auth::create_session(&mut tx, &state, &req.account, &vault_hex, false).await?;
    tx.commit().await?;
    tracing::info!(vault = %vault_hex, records = rows.len(), "registered");
    Ok(Json(SessionResponse {
        token,
        expires_in: to_u64(state.cfg.session_ttl_secs),
        vault_id: vault,
        cursor: 1,
    }))
}

/// A unique violation while registering: a concurrent registration (on
/// PostgreSQL, which does not serialise the two) took the name or vault.
fn taken_or(e: sqlx::Error, code: &'static str) -> ApiError {
    if crate::error::is_unique_violation(&e) {
        // On `accounts` the name or the vault id (both unique) is taken.
        ApiError::conflict(code, "this account name or vault is already registered")
    } else {
        e.into()
    }
}

/// Login: a signed challenge for [`Action::Login`] opens a session.
pub(crate) async fn login(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Body(req): Body<LoginRequest>,
) -> ApiResult<Json<SessionResponse>> {
    account_ok(&req.account)?;
    let scopes = auth::scopes(&state, &req.account, &peer.ip().to_string());
    auth::check_rate(&state, &scopes).await?;
    let outcome = login_inner(&state, &req).await;
    match outcome {
        Ok(ok) => {
            if let Some((scope, _)) = scopes.first() {
                auth::clear_failures(&state, scope).await?;
            }
            Ok(Json(ok))
        }
        Err(e) => {
            if !e.is_server_side() {
                auth::record_failure(&state, &scopes).await?;
                tracing::info!(code = e.code(), "login refused");
            }
            Err(e)
        }
    }
}

async fn login_inner(state: &AppState, req: &LoginRequest) -> ApiResult<SessionResponse> {
    let challenge =
        auth::consume_challenge(state, &req.challenge, &req.account, Action::Login).await?;
    let row = sqlx::query(
        "SELECT a.vault_id, a.password_key, a.recovery_key, v.counter FROM accounts a \
         JOIN vaults v ON v.vault_id = a.vault_id WHERE a.name = $1",
    )
    .bind(&req.account)
    .fetch_optional(&state.db.pool)
    .await?
    .ok_or_else(ApiError::authentication_failed)?;
    let key = stored_key(&row, req.key)?;
    verify(
        state,
        &key,
        &req.signature,
        &challenge,
        Action::Login,
        &req.account,
        req.key,
    )?;
    let vault_hex: String = row.try_get("vault_id")?;
    let counter: i64 = row.try_get("counter")?;
    let vault_id: VaultId = vault_hex.parse().map_err(|_| ApiError::internal())?;
    // The session is made only while the account (with this vault) still
    // exists: the update locks its row (PostgreSQL) or runs under the write
    // lock (SQLite), so an account deletion either sees this session and
    // erases it, or comes first and the login fails.
    let (_turn, mut tx) = state.db.begin_write().await?;
    let exists = sqlx::query(
        "UPDATE accounts SET created_at = created_at WHERE name = $1 AND vault_id = $2",
    )
    .bind(&req.account)
    .bind(&vault_hex)
    .execute(&mut *tx)
    .await?;
    if exists.rows_affected() != 1 {
        return Err(ApiError::authentication_failed());
    }
    let token = auth::create_session(&mut tx, state, &req.account, &vault_hex, false).await?;
    tx.commit().await?;
    Ok(SessionResponse {
        token,
        expires_in: to_u64(state.cfg.session_ttl_secs),
        vault_id,
        cursor: to_u64(counter),
    })
}

/// A page of changes after a cursor, never splitting a commit.
pub(crate) async fn pull(
    State(state): State<AppState>,
    session: Session,
    Body(req): Body<PullRequest>,
) -> ApiResult<Json<PullResponse>> {
    let after = to_i64(req.after)?;
    let cap = req.max_bytes.map_or(state.cfg.max_page_bytes, |b| {
        b.min(state.cfg.max_page_bytes)
    });
    let vault = sqlx::query("SELECT counter, floor FROM vaults WHERE vault_id = $1")
        .bind(&session.vault_id)
        .fetch_optional(&state.db.pool)
        .await?
        .ok_or_else(ApiError::unauthorized)?;
    let counter: i64 = vault.try_get("counter")?;
    let floor: i64 = vault.try_get("floor")?;
    if after > counter {
        return Err(ApiError::conflict(
            "cursor_ahead",
            "the cursor is ahead of this vault: the server lost commits or this is another server",
        ));
    }
    // A pull from 0 is a full snapshot and is always answered.
    if after > 0 && after < floor {
        return Ok(Json(PullResponse::StartOver {
            oldest: to_u64(floor),
        }));
    }
    let mut changes: Vec<Change> = Vec::new();
    let mut bytes: u64 = 0;
    let mut last_seq = after;
    // Keyset pagination over (seq, key); the first query starts strictly
    // after the client's cursor.
    let mut last_key: Option<String> = None;
    let mut more = false;
    'pages: loop {
        let query = match &last_key {
            None => sqlx::query(
                "SELECT storage_key, seq, revision, body FROM records WHERE vault_id = $1 AND seq > $2 \
                 ORDER BY seq, storage_key LIMIT 256",
            )
            .bind(&session.vault_id)
            .bind(last_seq),
            Some(key) => sqlx::query(
                "SELECT storage_key, seq, revision, body FROM records WHERE vault_id = $1 \
                 AND (seq > $2 OR (seq = $2 AND storage_key > $3)) \
                 ORDER BY seq, storage_key LIMIT 256",
            )
            .bind(&session.vault_id)
            .bind(last_seq)
            .bind(key.clone()),
        };
        let rows = query.fetch_all(&state.db.pool).await?;
        if rows.is_empty() {
            break;
        }
        for row in rows {
            let seq: i64 = row.try_get("seq")?;
            let key: String = row.try_get("storage_key")?;
            let body: Option<String> = row.try_get("body")?;
            let size = body.as_ref().map_or(0, String::len) as u64 + key.len() as u64 + 16;
            let new_commit = seq != last_seq;
            if new_commit
                && !changes.is_empty()
                && (bytes.saturating_add(size) > cap || changes.len() >= state.cfg.max_page_rows)
            {
                more = true;
                break 'pages;
            }
            bytes = bytes.saturating_add(size);
            last_seq = seq;
            last_key = Some(key.clone());
            let revision: i64 = row.try_get("revision")?;
            changes.push(Change {
                key,
                seq: to_u64(seq),
                revision: tombstone_revision(body.is_none(), revision),
                record: body,
            });
        }
    }
    // `last_seq` is a whole commit: pages only end between commits.
    Ok(Json(PullResponse::Changes {
        changes,
        cursor: to_u64(last_seq),
        more,
    }))
}

/// How often a transaction that hit a serialization failure, a deadlock
/// or a busy database is run again before the client gets `unavailable`.
const MAX_TX_RETRIES: u32 = 5;

/// Runs a transaction, and again after a transient failure (serialization
/// failure, deadlock, busy database) up to [`MAX_TX_RETRIES`] times, with
/// pauses of 10, 20, 40… ms.
///
/// # Errors
///
/// The last attempt's.
pub(crate) async fn retrying<T, F>(mut attempt: impl FnMut() -> F) -> ApiResult<T>
where
    F: Future<Output = ApiResult<T>>,
{
    let mut tries = 0;
    loop {
        match attempt().await {
            Err(e) if e.is_transient() && tries < MAX_TX_RETRIES => {
                tries += 1;
                tokio::time::sleep(Duration::from_millis(5 << tries)).await;
            }
            other => return other,
        }
    }
}

pub(crate) fn too_many() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "too_many_records",
        "too many records in one request: split it into several commits",
    )
}

fn totals(rows: &[Checked]) -> (i64, i64) {
    let count = i64::try_from(rows.len()).unwrap_or(i64::MAX);
    let bytes = rows
        .iter()
        .map(|r| i64::try_from(r.info.size).unwrap_or(i64::MAX))
        .fold(0i64, i64::saturating_add);
    (count, bytes)
}

pub(crate) fn check_quota(state: &AppState, count: i64, bytes: i64) -> ApiResult<()> {
    if count > state.cfg.quota_records {
        return Err(ApiError::quota(format!(
            "the vault would hold {count} records; this server allows {}",
            state.cfg.quota_records
        )));
    }
    if bytes > state.cfg.quota_bytes {
        return Err(ApiError::quota(format!(
            "the vault would hold {bytes} bytes; this server allows {}",
            state.cfg.quota_bytes
        )));
    }
    Ok(())
}

/// Long-poll: answers when the vault's cursor passes `after`, or at the
/// timeout. Rechecks the database every second, so it also sees commits
/// made through another server node.
pub(crate) async fn wait(
    State(state): State<AppState>,
    session: Session,
    Body(req): Body<WaitRequest>,
) -> ApiResult<Json<WaitResponse>> {
    let after = to_i64(req.after)?;
    let deadline = tokio::time::Instant::now()
        + Duration::from_millis(req.timeout_ms.min(state.cfg.max_wait_ms));
    let mut commits = state.commits.subscribe();
    let mut shutdown = state.shutdown.clone();
    loop {
        let counter: i64 = sqlx::query("SELECT counter FROM vaults WHERE vault_id = $1")
            .bind(&session.vault_id)
            .fetch_optional(&state.db.pool)
            .await?
            .ok_or_else(ApiError::unauthorized)?
            .try_get("counter")?;
        if counter > after || tokio::time::Instant::now() >= deadline || *shutdown.borrow() {
            return Ok(Json(WaitResponse {
                cursor: to_u64(counter),
                changed: counter > after,
            }));
        }
        let tick = (tokio::time::Instant::now() + Duration::from_secs(1)).min(deadline);
        tokio::select! {
            _ = commits.changed() => {}
            _ = shutdown.changed() => {}
            () = tokio::time::sleep_until(tick) => {}
        }
    }
}

/// Account deletion (the right to erasure): a session for the account plus
/// a fresh challenge for [`Action::Delete`] signed by its password or
/// recovery login key. Erases, in one transaction, the account, its vault,
/// every record and tombstone, its idempotency entries, sessions,
/// challenges and failed-login counter. A failed signature counts as a
/// failed login.
pub(crate) async fn delete_account(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    session: Session,
    Body(req): Body<DeleteAccountRequest>,
) -> ApiResult<Json<DeleteAccountResponse>> {
    session_account(&session, &req.account)?;
    let scopes = auth::scopes(&state, &req.account, &peer.ip().to_string());
    auth::check_rate(&state, &scopes).await?;
    if let Err(e) = reauthenticate(&state, &req, &session.vault_id).await {
        if !e.is_server_side() {
            auth::record_failure(&state, &scopes).await?;
            tracing::info!(code = e.code(), "account deletion refused");
        }
        return Err(e);
    }
    let task_state = state.clone();
    let account = req.account;
    let vault_hex = session.vault_id;
    let records = tokio::spawn(async move {
        retrying(|| erase_account(&task_state, &account, &vault_hex))
            .await
            .map(|n| (n, vault_hex))
    })
    .await
    .map_err(|_| ApiError::internal())??;
    let (records, vault_hex) = records;
    // Long-polls of the erased vault wake up and find it gone.
    state.commits.send_modify(|n| *n = n.wrapping_add(1));
    state.db.scrub().await;
    tracing::info!(vault = %vault_hex, records, "account deleted");
    Ok(Json(DeleteAccountResponse {
        vault_id: vault_hex.parse().map_err(|_| ApiError::internal())?,
        records,
    }))
}

/// An optional recovery login key and its signature, which come together.
pub(crate) fn recovery_pair<'a>(
    key: Option<&String>,
    signature: Option<&'a String>,
) -> ApiResult<Option<([u8; PUBLIC_KEY_LEN], &'a String)>> {
    match (key, signature) {
        (Some(k), Some(s)) => Ok(Some((fixed::<PUBLIC_KEY_LEN>("recoveryKey", k)?, s))),
        (None, None) => Ok(None),
        _ => Err(ApiError::bad_request(
            "recoveryKey and recoverySignature come together",
        )),
    }
}

/// The request names the session's own account (a well-formed name).
pub(crate) fn session_account(session: &Session, account: &str) -> ApiResult<()> {
    account_ok(account)?;
    session.own()?;
    if session.account != account {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "wrong_account",
            "this session belongs to another account",
        ));
    }
    Ok(())
}

/// A stored login public key. An account registered without a recovery
/// login key has it empty: a recovery login then fails like a wrong key.
pub(crate) fn stored_key(
    row: &sqlx::any::AnyRow,
    kind: KeyKind,
) -> ApiResult<[u8; PUBLIC_KEY_LEN]> {
    let column = match kind {
        KeyKind::Password => "password_key",
        KeyKind::Recovery => "recovery_key",
    };
    let key_text: String = row.try_get(column)?;
    if key_text.is_empty() {
        return Err(ApiError::authentication_failed());
    }
    decode_fixed::<PUBLIC_KEY_LEN>(&key_text).map_err(|_| ApiError::internal())
}

/// Consumes the challenge and checks the signature against the account's
/// stored login key.
async fn reauthenticate(
    state: &AppState,
    req: &DeleteAccountRequest,
    vault_hex: &str,
) -> ApiResult<()> {
    let challenge =
        auth::consume_challenge(state, &req.challenge, &req.account, Action::Delete).await?;
    let row = sqlx::query(
        "SELECT password_key, recovery_key FROM accounts WHERE name = $1 AND vault_id = $2",
    )
    .bind(&req.account)
    .bind(vault_hex)
    .fetch_optional(&state.db.pool)
    .await?
    .ok_or_else(ApiError::authentication_failed)?;
    let key = stored_key(&row, req.key)?;
    verify(
        state,
        &key,
        &req.signature,
        &challenge,
        Action::Delete,
        &req.account,
        req.key,
    )
}

/// The erasure, in one transaction. The account row goes first (so a
/// concurrent login, which locks it, either finished and its session is
/// erased below, or finds no account), then the vault row, which waits for
/// a commit in flight and makes every later commit find no vault; each
/// later statement then sees every row committed before. Returns the
/// number of record rows erased.
async fn erase_account(state: &AppState, account: &str, vault: &str) -> ApiResult<u64> {
    let (_turn, mut tx) = state.db.begin_write().await?;
    let gone = sqlx::query("DELETE FROM accounts WHERE name = $1 AND vault_id = $2")
        .bind(account)
        .bind(vault)
        .execute(&mut *tx)
        .await?;
    if gone.rows_affected() != 1 {
        // Deleted by a concurrent request already.
        return Err(ApiError::unauthorized());
    }
    sqlx::query("DELETE FROM vaults WHERE vault_id = $1")
        .bind(vault)
        .execute(&mut *tx)
        .await?;
    let records = sqlx::query("DELETE FROM records WHERE vault_id = $1")
        .bind(vault)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    sqlx::query("DELETE FROM commits WHERE vault_id = $1")
        .bind(vault)
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM sessions WHERE account = $1 OR vault_id = $2")
        .bind(account)
        .bind(vault)
        .execute(&mut *tx)
        .await?;
    crate::spaces::erase_account_sharing(&mut tx, account).await?;
    sqlx::query("DELETE FROM challenges WHERE account = $1")
        .bind(account)
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM login_failures WHERE scope = $1")
        .bind(auth::account_scope(state, account))
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(records)
}
