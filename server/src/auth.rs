//! Sessions, challenges and the failed-login limiter. Everything is kept
//! in the database, so several API nodes share it.

use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use blake2::digest::consts::U32;
use blake2::digest::{KeyInit, Mac};
use blake2::{Blake2b, Blake2bMac, Digest};
use promptvault::format::text;
use promptvault::protocol::{Action, CHALLENGE_LEN};
use sqlx::Row as _;

use crate::AppState;
use crate::error::{ApiError, ApiResult};

/// Seconds since the Unix epoch, as the database stores time.
pub(crate) fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

pub(crate) fn random_32() -> ApiResult<[u8; 32]> {
    let mut out = [0u8; 32];
    getrandom::fill(&mut out).map_err(|_| ApiError::internal())?;
    Ok(out)
}

/// BLAKE2b-256 of a bearer token: what the sessions table keys on, so a
/// stolen database holds no usable token.
fn token_hash(token: &str) -> String {
    text::encode(&Blake2b::<U32>::digest(token.as_bytes()))
}

/// A keyed BLAKE2b-256 under the server secret.
pub(crate) fn keyed(secret: &[u8; 32], label: &str, input: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    if let Ok(mut mac) = <Blake2bMac<U32> as KeyInit>::new_from_slice(secret) {
        mac.update(label.as_bytes());
        mac.update(&[0]);
        mac.update(input);
        out.copy_from_slice(&mac.finalize().into_bytes());
    }
    out
}

/// An authenticated request's session.
#[derive(Clone, Debug)]
pub(crate) struct Session {
    pub(crate) account: String,
    pub(crate) vault_id: String,
    /// A space session (SPEC §12.12): `vault_id` is a space the account
    /// is a member of, and the session reaches nothing else.
    pub(crate) is_space: bool,
}

impl Session {
    /// Refuses a space session where the account's own session is needed
    /// (account changes, sharing routes).
    ///
    /// # Errors
    ///
    /// `space_session` (403).
    pub(crate) fn own(&self) -> ApiResult<&Self> {
        if self.is_space {
            return Err(ApiError::new(
                axum::http::StatusCode::FORBIDDEN,
                "space_session",
                "a space session reaches only its space: use the account's own session",
            ));
        }
        Ok(self)
    }
}

/// A request's bearer token, as its BLAKE2b-256 (the form the database
/// stores), not yet checked: a handler that checks it inside its own
/// transaction saves a round trip ([`crate::commit`]). A request without
/// one is refused here.
pub(crate) struct Bearer {
    pub(crate) token_hash: String,
}

impl FromRequestParts<AppState> for Bearer {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> ApiResult<Self> {
        let token = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or_else(ApiError::unauthorized)?;
        Ok(Bearer {
            token_hash: token_hash(token),
        })
    }
}

impl FromRequestParts<AppState> for Session {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> ApiResult<Self> {
        let bearer = Bearer::from_request_parts(parts, state).await?;
        let row = sqlx::query(
            "SELECT account, vault_id, is_space FROM sessions WHERE token_hash = $1 AND expires_at > $2",
        )
        .bind(bearer.token_hash)
        .bind(now())
        .fetch_optional(&state.db.pool)
        .await?
        .ok_or_else(ApiError::unauthorized)?;
        Ok(Session {
            account: row.try_get("account")?,
            vault_id: row.try_get("vault_id")?,
            is_space: row.try_get::<i64, _>("is_space")? != 0,
        })
    }
}

/// Makes a session for `account` on its own vault, or (`is_space`) on a
/// space it is a member of; returns the bearer token.
pub(crate) async fn create_session(
    conn: &mut sqlx::AnyConnection,
    state: &AppState,
    account: &str,
    vault_id: &str,
    is_space: bool,
) -> ApiResult<String> {
    let token = text::encode(&random_32()?);
    let t = now();
    sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
        .bind(t)
        .execute(&mut *conn)
        .await?;
    sqlx::query(
        "INSERT INTO sessions (token_hash, account, vault_id, expires_at, is_space) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(token_hash(&token))
    .bind(account)
    .bind(vault_id)
    .bind(t.saturating_add(state.cfg.session_ttl_secs))
    .bind(i64::from(is_space))
    .execute(&mut *conn)
    .await?;
    Ok(token)
}

/// Issues a challenge for `account` and `action`.
pub(crate) async fn issue_challenge(
    state: &AppState,
    account: &str,
    action: Action,
) -> ApiResult<String> {
    let nonce = text::encode(&random_32()?);
    let t = now();
    sqlx::query("DELETE FROM challenges WHERE expires_at <= $1")
        .bind(t)
        .execute(&state.db.pool)
        .await?;
    sqlx::query(
        "INSERT INTO challenges (nonce, account, action, expires_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(&nonce)
    .bind(account)
    .bind(action.name())
    .bind(t.saturating_add(state.cfg.challenge_ttl_secs))
    .execute(&state.db.pool)
    .await?;
    Ok(nonce)
}

/// Consumes a challenge: it must exist, be for this account and action,
/// and not have expired. It is deleted whatever the outcome, so it can
/// never be used twice.
pub(crate) async fn consume_challenge(
    state: &AppState,
    nonce: &str,
    account: &str,
    action: Action,
) -> ApiResult<[u8; CHALLENGE_LEN]> {
    let bytes = promptvault::protocol::decode_fixed::<CHALLENGE_LEN>(nonce)
        .map_err(|_| ApiError::challenge_invalid())?;
    let row = sqlx::query("SELECT account, action, expires_at FROM challenges WHERE nonce = $1")
        .bind(nonce)
        .fetch_optional(&state.db.pool)
        .await?
        .ok_or_else(ApiError::challenge_invalid)?;
    let deleted = sqlx::query("DELETE FROM challenges WHERE nonce = $1")
        .bind(nonce)
        .execute(&state.db.pool)
        .await?;
    if deleted.rows_affected() != 1 {
        // Someone else consumed it between the read and the delete.
        return Err(ApiError::challenge_invalid());
    }
    let for_account: String = row.try_get("account")?;
    let for_action: String = row.try_get("action")?;
    let expires_at: i64 = row.try_get("expires_at")?;
    if for_account != account || for_action != action.name() {
        return Err(ApiError::challenge_invalid());
    }
    if expires_at <= now() {
        return Err(ApiError::challenge_expired());
    }
    Ok(bytes)
}

/// The rate-limit scope of an account's failed logins (its row is erased
/// with the account).
pub(crate) fn account_scope(state: &AppState, account: &str) -> String {
    text::encode(&keyed(
        &state.secret,
        "login-failure scope",
        format!("account:{account}").as_bytes(),
    ))
}

/// The scopes a failed login counts against.
pub(crate) fn scopes(state: &AppState, account: &str, address: &str) -> [(String, i64); 2] {
    let h = |s: String| text::encode(&keyed(&state.secret, "login-failure scope", s.as_bytes()));
    [
        (
            account_scope(state, account),
            state.cfg.max_failed_logins_per_account,
        ),
        (
            h(format!("address:{address}")),
            state.cfg.max_failed_logins_per_address,
        ),
    ]
}

/// Refuses with `rate_limited` while any scope is over its limit.
pub(crate) async fn check_rate(state: &AppState, scopes: &[(String, i64)]) -> ApiResult<()> {
    let t = now();
    let window = state.cfg.failure_window_secs;
    for (scope, limit) in scopes {
        let row = sqlx::query("SELECT window_start, failures FROM login_failures WHERE scope = $1")
            .bind(scope)
            .fetch_optional(&state.db.pool)
            .await?;
        if let Some(row) = row {
            let start: i64 = row.try_get("window_start")?;
            let failures: i64 = row.try_get("failures")?;
            let ends = start.saturating_add(window);
            if ends > t && failures >= *limit {
                return Err(ApiError::rate_limited(
                    u64::try_from(ends.saturating_sub(t)).unwrap_or(1),
                ));
            }
        }
    }
    Ok(())
}

/// Counts one failed login against every scope (fixed windows).
pub(crate) async fn record_failure(state: &AppState, scopes: &[(String, i64)]) -> ApiResult<()> {
    let t = now();
    let expired = t.saturating_sub(state.cfg.failure_window_secs);
    for (scope, _) in scopes {
        sqlx::query(
            "INSERT INTO login_failures (scope, window_start, failures) VALUES ($1, $2, 1) \
             ON CONFLICT (scope) DO UPDATE SET \
               failures = CASE WHEN login_failures.window_start <= $3 THEN 1 ELSE login_failures.failures + 1 END, \
               window_start = CASE WHEN login_failures.window_start <= $3 THEN $2 ELSE login_failures.window_start END",
        )
        .bind(scope)
        .bind(t)
        .bind(expired)
        .execute(&state.db.pool)
        .await?;
    }
    Ok(())
}

/// Forgets an account's failures after a successful login.
pub(crate) async fn clear_failures(state: &AppState, scope: &str) -> ApiResult<()> {
    sqlx::query("DELETE FROM login_failures WHERE scope = $1")
        .bind(scope)
        .execute(&state.db.pool)
        .await?;
    Ok(())
}
