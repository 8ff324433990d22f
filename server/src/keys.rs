//! `POST /v1/account/keys`: the login keys follow the vault header (SPEC
//! §12.3). After a password change a client pushes the new header, then
//! sends the password login key derived from the new salt; the server
//! takes the salt and KDF parameters from the header it holds.

use std::net::SocketAddr;

use axum::Json;
use axum::extract::{ConnectInfo, State};
use axum::http::StatusCode;
use promptvault::format::text;
use promptvault::protocol::{
    Action, KeyKind, LoginParams, PUBLIC_KEY_LEN, PreLoginResponse, RekeyRequest,
};
use sqlx::Row as _;

use crate::AppState;
use crate::api::{Body, fixed, recovery_pair, session_account, verify};
use crate::auth::{self, Session};
use crate::error::{ApiError, ApiResult};

/// Replaces the password login key (only when the vault header's salt or
/// KDF parameters changed) and, if given, the recovery login key.
pub(crate) async fn rekey(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    session: Session,
    Body(req): Body<RekeyRequest>,
) -> ApiResult<Json<PreLoginResponse>> {
    session_account(&session, &req.account)?;
    let scopes = auth::scopes(&state, &req.account, &peer.ip().to_string());
    auth::check_rate(&state, &scopes).await?;
    match rekey_inner(&state, &req, &session.vault_id).await {
        Err(e) if !e.is_server_side() => {
            auth::record_failure(&state, &scopes).await?;
            tracing::info!(code = e.code(), "rekey refused");
            Err(e)
        }
        other => other.map(Json),
    }
}

async fn rekey_inner(
    state: &AppState,
    req: &RekeyRequest,
    vault_hex: &str,
) -> ApiResult<PreLoginResponse> {
    let challenge =
        auth::consume_challenge(state, &req.challenge, &req.account, Action::Rekey).await?;
    let password_key = fixed::<PUBLIC_KEY_LEN>("passwordKey", &req.password_key)?;
    verify(
        state,
        &password_key,
        &req.password_signature,
        &challenge,
        Action::Rekey,
        &req.account,
        KeyKind::Password,
    )?;
    let recovery = match recovery_pair(req.recovery_key.as_ref(), req.recovery_signature.as_ref())?
    {
        Some((key, sig)) => {
            verify(
                state,
                &key,
                sig,
                &challenge,
                Action::Rekey,
                &req.account,
                KeyKind::Recovery,
            )?;
            Some(key)
        }
        None => None,
    };

    let (_turn, mut tx) = state.db.begin_write().await?;
    let account = sqlx::query(
        "SELECT password_key, salt, m_cost, t_cost, p_cost FROM accounts WHERE name = $1 AND vault_id = $2",
    )
    .bind(&req.account)
    .bind(vault_hex)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(ApiError::unauthorized)?;
    let header: Option<String> =
        sqlx::query("SELECT body FROM records WHERE vault_id = $1 AND storage_key = 'h'")
            .bind(vault_hex)
            .fetch_optional(&mut *tx)
            .await?
            .map(|r| r.try_get("body"))
            .transpose()?
            .flatten();
    let header = header.ok_or_else(ApiError::internal)?;
    let bytes = text::decode(&header).map_err(|_| ApiError::internal())?;
    let params = LoginParams::from_header(&bytes).map_err(|_| ApiError::internal())?;
    let stored_key: String = account.try_get("password_key")?;
    let stored_salt: String = account.try_get("salt")?;
    let stored_kdf = (
        account.try_get::<i64, _>("m_cost")?,
        account.try_get::<i64, _>("t_cost")?,
        account.try_get::<i64, _>("p_cost")?,
    );
    let new_kdf = (
        i64::from(params.kdf.m_cost_kib()),
        i64::from(params.kdf.t_cost()),
        i64::from(params.kdf.p_cost()),
    );
    let header_changed = stored_salt != text::encode(&params.salt) || stored_kdf != new_kdf;
    let new_key = text::encode(&password_key);
    if new_key != stored_key && !header_changed {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "not_allowed",
            "the password login key follows the vault header: push the header of a password change first",
        ));
    }
    sqlx::query(
        "UPDATE accounts SET password_key = $1, salt = $2, m_cost = $3, t_cost = $4, p_cost = $5 \
         WHERE name = $6",
    )
    .bind(&new_key)
    .bind(text::encode(&params.salt))
    .bind(new_kdf.0)
    .bind(new_kdf.1)
    .bind(new_kdf.2)
    .bind(&req.account)
    .execute(&mut *tx)
    .await?;
    if let Some(k) = recovery {
        sqlx::query("UPDATE accounts SET recovery_key = $1 WHERE name = $2")
            .bind(text::encode(&k))
            .bind(&req.account)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    tracing::info!(
        header_changed,
        recovery = recovery.is_some(),
        "login keys replaced"
    );
    Ok(PreLoginResponse::new(&params))
}
