//! The HTTP endpoints (SPEC §12): JSON in, JSON out.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, FromRequest, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use blake2::Digest as _;
use promptvault::format::text;
use promptvault::inspect::{self, RecordInfo};
use promptvault::protocol::{
    Action, ChallengeRequest, ChallengeResponse, Change, CommitRequest, CommitResponse,
    DeleteAccountRequest, DeleteAccountResponse, KeyKind, LoginParams, LoginRequest,
    MAX_IDEMPOTENCY_KEY_LEN, PUBLIC_KEY_LEN, PreLoginRequest, PreLoginResponse, PullRequest,
    PullResponse, RegisterRequest, SIGNATURE_LEN, SessionResponse, WaitRequest, WaitResponse,
    check_account, decode_fixed, verify_login,
};
use promptvault::{KdfParams, RecordKind, SALT_LEN, VaultId};
use serde::de::DeserializeOwned;
use sqlx::Row as _;

use crate::AppState;
use crate::auth::{self, Session, now};
use crate::error::{ApiError, ApiResult};

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

fn to_i64(n: u64) -> ApiResult<i64> {
    i64::try_from(n).map_err(|_| ApiError::bad_request("a number is out of range"))
}

fn to_u64(n: i64) -> u64 {
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
struct Checked {
    info: RecordInfo,
    text: String,
}

fn check_record(state: &AppState, text_form: String, vault: VaultId) -> ApiResult<Checked> {
    if text_form.len() > state.cfg.max_record_text {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "record_too_large",
            "a record is over the server's size limit",
        ));
    }
    let bytes = text::decode(&text_form).map_err(|e| ApiError::record("a record", &e))?;
    let info = inspect::inspect(&bytes).map_err(|e| ApiError::record("a record", &e))?;
    let info = inspect::validate_for_store(&bytes, vault, &info.storage_key)
        .map_err(|e| ApiError::record("a record", &e))?;
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
    let mut rows = vec![check_record(&state, req.header, vault)?];
    let mut keys = BTreeSet::from(["h".to_owned()]);
    for r in req.records {
        let c = check_record(&state, r, vault)?;
        if !keys.insert(c.info.storage_key.clone()) {
            return Err(ApiError::bad_request("a storage key appears twice"));
        }
        rows.push(c);
    }
    let (count, bytes) = totals(&rows);
    check_quota(&state, count, bytes)?;

    let vault_hex = vault.to_hex();
    let mut tx = state.db.begin_write().await?;
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
    upsert_all(&mut tx, &vault_hex, 1, &all).await?;
    let token = auth::create_session(&mut tx, &state, &req.account, &vault_hex).await?;
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
    let mut tx = state.db.begin_write().await?;
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
    let token = auth::create_session(&mut tx, state, &req.account, &vault_hex).await?;
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

fn too_many() -> ApiError {
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

fn check_quota(state: &AppState, count: i64, bytes: i64) -> ApiResult<()> {
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

/// Rows per multi-row statement (8 parameters each: far below SQLite's
/// and PostgreSQL's parameter limits).
const ROWS_PER_STATEMENT: usize = 256;

/// Writes `rows` at `seq`, replacing what their keys held, a few hundred
/// per statement: one round trip to the database instead of one a row.
async fn upsert_all(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    vault: &str,
    seq: i64,
    rows: &[&Checked],
) -> ApiResult<()> {
    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
        let values: Vec<String> = (0..chunk.len())
            .map(|i| {
                let b = i * 8;
                format!(
                    "(${}, ${}, ${}, ${}, ${}, ${}, ${}, ${})",
                    b + 1,
                    b + 2,
                    b + 3,
                    b + 4,
                    b + 5,
                    b + 6,
                    b + 7,
                    b + 8
                )
            })
            .collect();
        let sql = format!(
            "INSERT INTO records (vault_id, storage_key, seq, kind, key_gen, revision, size, body) \
             VALUES {} \
             ON CONFLICT (vault_id, storage_key) DO UPDATE SET seq = excluded.seq, kind = excluded.kind, \
             key_gen = excluded.key_gen, revision = excluded.revision, size = excluded.size, body = excluded.body",
            values.join(", ")
        );
        let mut q = sqlx::query(&sql);
        for row in chunk {
            q = q
                .bind(vault)
                .bind(&row.info.storage_key)
                .bind(seq)
                .bind(i64::from(row.info.kind_code))
                .bind(i64::from(row.info.key_generation))
                .bind(to_i64(row.info.revision)?)
                .bind(i64::try_from(row.info.size).map_err(|_| ApiError::internal())?)
                .bind(&row.text);
        }
        q.execute(&mut **tx).await?;
    }
    Ok(())
}

/// The rows stored under the keys of `ops`, a few hundred keys per query.
async fn current_rows(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    vault: &str,
    ops: &[Op],
) -> ApiResult<std::collections::HashMap<String, Current>> {
    let mut out = std::collections::HashMap::with_capacity(ops.len());
    for chunk in ops.chunks(ROWS_PER_STATEMENT * 4) {
        let marks: Vec<String> = (0..chunk.len()).map(|i| format!("${}", i + 2)).collect();
        let sql = format!(
            "SELECT storage_key, seq, key_gen, revision, size, body FROM records \
             WHERE vault_id = $1 AND storage_key IN ({})",
            marks.join(", ")
        );
        let mut q = sqlx::query(&sql).bind(vault);
        for op in chunk {
            q = q.bind(op.key());
        }
        for r in q.fetch_all(&mut **tx).await? {
            let body: Option<String> = r.try_get("body")?;
            out.insert(
                r.try_get("storage_key")?,
                Current {
                    seq: r.try_get("seq")?,
                    live: body.is_some(),
                    key_gen: r.try_get("key_gen")?,
                    revision: r.try_get("revision")?,
                    size: r.try_get("size")?,
                    body,
                },
            );
        }
    }
    Ok(out)
}

/// The row currently stored under a key.
struct Current {
    seq: i64,
    live: bool,
    key_gen: i64,
    revision: i64,
    size: i64,
    body: Option<String>,
}

fn check_idempotency_key(k: &str) -> ApiResult<()> {
    if k.len() < 16
        || k.len() > MAX_IDEMPOTENCY_KEY_LEN
        || !k
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(ApiError::bad_request(
            "idempotencyKey must be 16 to 64 base64url characters",
        ));
    }
    Ok(())
}

enum Op {
    Put(Checked, u64),
    Delete(String, u64),
}

impl Op {
    fn key(&self) -> &str {
        match self {
            Op::Put(c, _) => &c.info.storage_key,
            Op::Delete(k, _) => k,
        }
    }
    fn seen(&self) -> u64 {
        match self {
            Op::Put(_, s) | Op::Delete(_, s) => *s,
        }
    }
}

/// An atomic commit with per-key compare-and-swap and an idempotency key.
pub(crate) async fn commit(
    State(state): State<AppState>,
    session: Session,
    Body(req): Body<CommitRequest>,
) -> ApiResult<Response> {
    check_idempotency_key(&req.idempotency_key)?;
    if req.puts.len().saturating_add(req.deletes.len()) > state.cfg.max_records_per_commit {
        return Err(too_many());
    }
    let request_hash = text::encode(&blake2::Blake2b::<blake2::digest::consts::U32>::digest(
        serde_json::to_vec(&req).map_err(|_| ApiError::internal())?,
    ));
    let vault: VaultId = session.vault_id.parse().map_err(|_| ApiError::internal())?;
    let mut ops = Vec::with_capacity(req.puts.len() + req.deletes.len());
    let mut keys = BTreeSet::new();
    for p in req.puts {
        let c = check_record(&state, p.record, vault)?;
        ops.push(Op::Put(c, p.seen));
    }
    for d in req.deletes {
        if d.key == "h" || d.key == "c" {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "not_allowed",
                "the vault header and the checkpoint cannot be deleted",
            ));
        }
        if d.key.is_empty() || d.key.len() > 128 || !d.key.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(ApiError::bad_request(
                "a delete names an invalid storage key",
            ));
        }
        ops.push(Op::Delete(d.key, d.seen));
    }
    for op in &ops {
        if !keys.insert(op.key().to_owned()) {
            return Err(ApiError::bad_request(
                "a storage key appears twice in one commit",
            ));
        }
    }
    // The transaction runs in its own task: a client that hangs up cannot
    // cancel it half-way.
    let task_state = state.clone();
    let vault_hex = session.vault_id.clone();
    let key = req.idempotency_key;
    let outcome = tokio::spawn(async move {
        let mut attempt = 0;
        loop {
            match apply_commit(&task_state, &vault_hex, &key, &request_hash, &ops).await {
                Err(e) if e.is_transient() && attempt < MAX_TX_RETRIES => {
                    attempt += 1;
                    tokio::time::sleep(Duration::from_millis(5 << attempt)).await;
                }
                other => return other,
            }
        }
    })
    .await
    .map_err(|_| ApiError::internal())??;
    match outcome {
        CommitResponse::Accepted { cursor } => {
            state.commits.send_replace(cursor);
            Ok(Json(CommitResponse::Accepted { cursor }).into_response())
        }
        conflict @ CommitResponse::Conflict { .. } => {
            Ok((StatusCode::CONFLICT, Json(conflict)).into_response())
        }
    }
}

/// How often a transaction that hit a serialization failure, a deadlock
/// or a busy database is run again before the client gets `unavailable`.
const MAX_TX_RETRIES: u32 = 5;

/// One attempt at a commit, in one transaction.
///
/// On PostgreSQL it runs at READ COMMITTED and is correct there because
/// its first statement takes the vault row's lock and holds it to the end:
/// every other commit of the vault has either committed before it (and
/// each later statement, with a fresh snapshot, sees its rows) or waits
/// for it. So the compare-and-swap reads the latest rows, and cursor
/// values follow commit order. On SQLite the whole transaction holds the
/// database's write lock from `BEGIN IMMEDIATE`.
async fn apply_commit(
    state: &AppState,
    vault: &str,
    idempotency_key: &str,
    request_hash: &str,
    ops: &[Op],
) -> ApiResult<CommitResponse> {
    let mut tx = state.db.begin_write().await?;
    let v = sqlx::query(
        "UPDATE vaults SET counter = counter + 1 WHERE vault_id = $1 \
         RETURNING counter, floor, record_count, byte_count",
    )
    .bind(vault)
    .fetch_optional(&mut *tx)
    .await?
    // The account was deleted after the session was checked.
    .ok_or_else(ApiError::unauthorized)?;
    let seq: i64 = v.try_get("counter")?;
    let floor: i64 = v.try_get("floor")?;
    let mut count: i64 = v.try_get("record_count")?;
    let mut bytes: i64 = v.try_get("byte_count")?;

    let earlier = sqlx::query(
        "SELECT request_hash, cursor FROM commits WHERE vault_id = $1 AND idempotency_key = $2",
    )
    .bind(vault)
    .bind(idempotency_key)
    .fetch_optional(&mut *tx)
    .await?;
    if let Some(row) = earlier {
        let hash: String = row.try_get("request_hash")?;
        let cursor: i64 = row.try_get("cursor")?;
        tx.rollback().await?;
        if hash == request_hash {
            return Ok(CommitResponse::Accepted {
                cursor: to_u64(cursor),
            });
        }
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "idempotency_key_reused",
            "this idempotency key was used for another request: make a new one",
        ));
    }

    let mut conflicts = Vec::new();
    let mut writes: Vec<&Op> = Vec::new();
    let mut current = current_rows(&mut tx, vault, ops).await?;
    for op in ops {
        let cur = current.remove(op.key());
        if let (Op::Put(c, _), Some(cur)) = (op, &cur)
            && cur.body.as_deref() == Some(c.text.as_str())
        {
            continue; // already stored: nothing to do
        }
        let seen = to_i64(op.seen())?;
        let matches = match &cur {
            Some(cur) => cur.seq == seen,
            None => seen == 0 || seen <= floor,
        };
        if !matches {
            conflicts.push(Change {
                key: op.key().to_owned(),
                seq: cur.as_ref().map_or(0, |c| to_u64(c.seq)),
                revision: cur
                    .as_ref()
                    .and_then(|c| tombstone_revision(!c.live, c.revision)),
                record: cur.and_then(|c| c.body),
            });
            continue;
        }
        // The client saw the current row: now the rules that hold whatever
        // it wants (hostile writes are refused, not reported as conflicts).
        if let (Op::Put(c, _), Some(cur)) = (op, &cur) {
            if cur.live {
                check_replace(c, cur)?;
            } else {
                check_over_tombstone(c, cur)?;
            }
        }
        match op {
            Op::Put(c, _) => {
                if let Some(cur) = &cur
                    && cur.live
                {
                    count -= 1;
                    bytes -= cur.size;
                }
                count += 1;
                bytes += i64::try_from(c.info.size).unwrap_or(i64::MAX);
                writes.push(op);
            }
            Op::Delete(..) => {
                if let Some(cur) = &cur
                    && cur.live
                {
                    count -= 1;
                    bytes -= cur.size;
                    writes.push(op);
                }
            }
        }
    }
    if !conflicts.is_empty() {
        tx.rollback().await?;
        return Ok(CommitResponse::Conflict { rows: conflicts });
    }
    if writes.is_empty() {
        // Nothing changes: answer with the cursor as it was.
        tx.rollback().await?;
        return Ok(CommitResponse::Accepted {
            cursor: to_u64(seq.saturating_sub(1)),
        });
    }
    check_quota(state, count, bytes)?;
    let puts: Vec<&Checked> = writes
        .iter()
        .filter_map(|op| match op {
            Op::Put(c, _) => Some(c),
            Op::Delete(..) => None,
        })
        .collect();
    upsert_all(&mut tx, vault, seq, &puts).await?;
    for op in writes {
        match op {
            Op::Put(..) => {}
            Op::Delete(key, _) => {
                sqlx::query(
                    "UPDATE records SET seq = $1, size = 0, body = NULL WHERE vault_id = $2 AND storage_key = $3",
                )
                .bind(seq)
                .bind(vault)
                .bind(key)
                .execute(&mut *tx)
                .await?;
            }
        }
    }
    // Purge tombstones older than the retention window; a cursor below the
    // new floor must start over.
    let mut new_floor = floor;
    let purge_below = seq.saturating_sub(state.cfg.tombstone_retention_commits);
    if purge_below > floor {
        let max = sqlx::query(
            "SELECT MAX(seq) AS m FROM records WHERE vault_id = $1 AND body IS NULL AND seq <= $2",
        )
        .bind(vault)
        .bind(purge_below)
        .fetch_one(&mut *tx)
        .await?;
        if let Some(m) = max.try_get::<Option<i64>, _>("m")? {
            sqlx::query("DELETE FROM records WHERE vault_id = $1 AND body IS NULL AND seq <= $2")
                .bind(vault)
                .bind(m)
                .execute(&mut *tx)
                .await?;
            new_floor = m;
        }
    }
    // Idempotency answers older than the retention are forgotten every
    // 64th commit, not on every one: the sweep scans the vault's answers,
    // and a few more hours of them cost nothing.
    if seq % 64 == 0 {
        sqlx::query("DELETE FROM commits WHERE vault_id = $1 AND created_at < $2")
            .bind(vault)
            .bind(now().saturating_sub(state.cfg.idempotency_retention_secs))
            .execute(&mut *tx)
            .await?;
    }
    sqlx::query(
        "INSERT INTO commits (vault_id, idempotency_key, request_hash, cursor, created_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(vault)
    .bind(idempotency_key)
    .bind(request_hash)
    .bind(seq)
    .bind(now())
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "UPDATE vaults SET floor = $1, record_count = $2, byte_count = $3 WHERE vault_id = $4",
    )
    .bind(new_floor)
    .bind(count)
    .bind(bytes)
    .bind(vault)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    tracing::info!(vault = %vault, cursor = seq, rows = ops.len(), "commit");
    Ok(CommitResponse::Accepted {
        cursor: to_u64(seq),
    })
}

/// The revision a tombstone reports: that of the record it deleted, for
/// the kinds with revisions.
fn tombstone_revision(tombstone: bool, revision: i64) -> Option<u64> {
    (tombstone && revision > 0).then(|| to_u64(revision))
}

/// Putting a record where one was deleted: revisions under a key never go
/// down, not even across a deletion (a prompt brought back must not look
/// older than what a device saw before it was deleted).
fn check_over_tombstone(new: &Checked, cur: &Current) -> ApiResult<()> {
    if cur.revision > 0 && to_i64(new.info.revision)? <= cur.revision {
        return Err(ApiError::conflict(
            "revision_not_increased",
            "a record put over a deleted one must have a higher revision than it had",
        ));
    }
    Ok(())
}

/// Replacing a live record: versions, index segments and item keys are
/// write-once (a version or segment may only be re-sealed at a newer key
/// generation, by a rotation); the header and metadata revisions must go
/// up.
fn check_replace(new: &Checked, cur: &Current) -> ApiResult<()> {
    let kind = new.info.kind_code;
    let new_gen = i64::from(new.info.key_generation);
    if kind == RecordKind::PromptVersion as u8
        || kind == RecordKind::PromptIndex as u8
        || kind == RecordKind::ItemKey as u8
    {
        if kind == RecordKind::ItemKey as u8 || new_gen <= cur.key_gen {
            return Err(ApiError::conflict(
                "immutable_record",
                "a version or item key is write-once: it cannot be rewritten with other bytes",
            ));
        }
    } else if to_i64(new.info.revision)? <= cur.revision {
        return Err(ApiError::conflict(
            "revision_not_increased",
            "a header or metadata record must have a higher revision than the stored one",
        ));
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
        let mut attempt = 0;
        loop {
            match erase_account(&task_state, &account, &vault_hex).await {
                Err(e) if e.is_transient() && attempt < MAX_TX_RETRIES => {
                    attempt += 1;
                    tokio::time::sleep(Duration::from_millis(5 << attempt)).await;
                }
                other => return other.map(|n| (n, vault_hex)),
            }
        }
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
    let mut tx = state.db.begin_write().await?;
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
