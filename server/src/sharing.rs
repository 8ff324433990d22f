//! Identity bundles and the invitation inbox (SPEC §12.12). The server
//! checks both keylessly — a bundle's self-signature and account, a
//! delivery's structure, space and signature between the published
//! bundles — and authenticates who publishes and who sends. It cannot know
//! who made a bundle: clients pin fingerprints and verify against those.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use promptvault::protocol::{
    Done, FetchIdentityRequest, IdentityResponse, InboxResponse, Invitation, InvitationId,
    MAX_INBOX, PublishIdentityRequest, SendInvitationRequest,
};
use promptvault::share::{KeyDelivery, PublicBundle};
use sqlx::Row as _;

use crate::AppState;
use crate::api::{Body, account_ok, to_u64};
use crate::auth::{Session, now, random_32};
use crate::error::{ApiError, ApiResult};
use crate::spaces::require_member;

fn unprocessable(code: &'static str, message: String) -> ApiError {
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
}

/// The published bundle of `account`, parsed (it was checked when it was
/// published); `None` if it published none.
async fn published(state: &AppState, account: &str) -> ApiResult<Option<PublicBundle>> {
    let row = sqlx::query("SELECT bundle FROM identities WHERE account = $1")
        .bind(account)
        .fetch_optional(&state.db.pool)
        .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let text: String = row.try_get("bundle")?;
    PublicBundle::from_text(&text)
        .map(Some)
        .map_err(|_| ApiError::internal())
}

/// Publishes (or replaces) the session account's identity bundle.
pub(crate) async fn publish_identity(
    State(state): State<AppState>,
    session: Session,
    Body(req): Body<PublishIdentityRequest>,
) -> ApiResult<Json<IdentityResponse>> {
    session.own()?;
    // Keyless checks: it parses, its self-signature verifies, and it names
    // this account. Who made it is for the fingerprint to tell.
    let bundle = PublicBundle::from_text(&req.bundle)
        .map_err(|e| unprocessable("bad_bundle", format!("not a valid identity bundle: {e}")))?;
    if bundle.account() != session.account {
        return Err(unprocessable(
            "bundle_account",
            "the bundle names another account than this session's".into(),
        ));
    }
    let (_turn, mut tx) = state.db.begin_write().await?;
    sqlx::query("DELETE FROM identities WHERE account = $1")
        .bind(&session.account)
        .execute(&mut *tx)
        .await?;
    sqlx::query("INSERT INTO identities (account, bundle, updated_at) VALUES ($1, $2, $3)")
        .bind(&session.account)
        .bind(&req.bundle)
        .bind(now())
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    tracing::info!("identity published");
    Ok(Json(IdentityResponse {
        account: session.account,
        bundle: req.bundle,
    }))
}

/// Another account's published bundle. Needs a session: an anonymous
/// caller learns nothing about which accounts exist.
pub(crate) async fn fetch_identity(
    State(state): State<AppState>,
    session: Session,
    Body(req): Body<FetchIdentityRequest>,
) -> ApiResult<Json<IdentityResponse>> {
    session.own()?;
    account_ok(&req.account)?;
    let row = sqlx::query("SELECT bundle FROM identities WHERE account = $1")
        .bind(&req.account)
        .fetch_optional(&state.db.pool)
        .await?
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "no_identity",
                "that account has published no identity",
            )
        })?;
    Ok(Json(IdentityResponse {
        account: req.account,
        bundle: row.try_get("bundle")?,
    }))
}

/// Leaves an invitation for a member of a space the sender belongs to.
pub(crate) async fn send_invitation(
    State(state): State<AppState>,
    session: Session,
    Body(req): Body<SendInvitationRequest>,
) -> ApiResult<Json<InvitationId>> {
    session.own()?;
    account_ok(&req.to)?;
    let delivery = KeyDelivery::from_text(&req.delivery)
        .map_err(|e| unprocessable("bad_delivery", format!("not a key delivery: {e}")))?;
    if delivery.space_id() != req.space {
        return Err(unprocessable(
            "wrong_vault",
            "the delivery is for another space".into(),
        ));
    }
    let space = req.space.to_hex();
    require_member(&state.db.pool, &space, &session.account).await?;
    let recipient_not_member = || {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "not_a_member",
            "the recipient is not a member of this space: add them first",
        )
    };
    require_member(&state.db.pool, &space, &req.to)
        .await
        .map_err(|_| recipient_not_member())?;
    // Keylessly: addressed from the sender's published identity to the
    // recipient's, and signed by the sender. Clients check it again against
    // the bundles they pinned; this keeps forged invitations out of inboxes.
    let (Some(sender), Some(recipient)) = (
        published(&state, &session.account).await?,
        published(&state, &req.to).await?,
    ) else {
        return Err(unprocessable(
            "no_identity",
            "the sender and the recipient must both have published an identity".into(),
        ));
    };
    delivery.verify(&sender, &recipient).map_err(|e| {
        unprocessable(
            "bad_delivery",
            format!("the delivery does not verify between the published identities: {e}"),
        )
    })?;
    let id: String = random_32()?[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let (_turn, mut tx) = state.db.begin_write().await?;
    // Again inside the transaction: a removal may have raced with us.
    require_member(&mut *tx, &space, &req.to)
        .await
        .map_err(|_| recipient_not_member())?;
    let pending: i64 = sqlx::query("SELECT COUNT(*) AS n FROM inbox WHERE recipient = $1")
        .bind(&req.to)
        .fetch_one(&mut *tx)
        .await?
        .try_get("n")?;
    if usize::try_from(pending).unwrap_or(usize::MAX) >= MAX_INBOX {
        return Err(ApiError::quota(format!(
            "the recipient's inbox holds {MAX_INBOX} invitations already"
        )));
    }
    sqlx::query(
        "INSERT INTO inbox (id, recipient, sender, space_id, body, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&id)
    .bind(&req.to)
    .bind(&session.account)
    .bind(&space)
    .bind(&req.delivery)
    .bind(now())
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    tracing::info!(space = %space, "invitation sent");
    Ok(Json(InvitationId { id }))
}

/// The session account's invitations, oldest first.
pub(crate) async fn inbox(
    State(state): State<AppState>,
    session: Session,
    Body(_): Body<Done>,
) -> ApiResult<Json<InboxResponse>> {
    session.own()?;
    let rows = sqlx::query(
        "SELECT id, sender, space_id, body, created_at FROM inbox WHERE recipient = $1 \
         ORDER BY created_at, id",
    )
    .bind(&session.account)
    .fetch_all(&state.db.pool)
    .await?;
    let mut invitations = Vec::with_capacity(rows.len());
    for row in rows {
        let space: String = row.try_get("space_id")?;
        invitations.push(Invitation {
            id: row.try_get("id")?,
            from: row.try_get("sender")?,
            space: space.parse().map_err(|_| ApiError::internal())?,
            delivery: row.try_get("body")?,
            created_at: to_u64(row.try_get("created_at")?),
        });
    }
    Ok(Json(InboxResponse { invitations }))
}

/// Deletes one of the session account's invitations (after accepting or
/// declining it).
pub(crate) async fn delete_invitation(
    State(state): State<AppState>,
    session: Session,
    Body(req): Body<InvitationId>,
) -> ApiResult<Json<Done>> {
    session.own()?;
    let gone = sqlx::query("DELETE FROM inbox WHERE id = $1 AND recipient = $2")
        .bind(&req.id)
        .bind(&session.account)
        .execute(&state.db.pool)
        .await?;
    if gone.rows_affected() == 0 {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "no_invitation",
            "no such invitation in this inbox",
        ));
    }
    Ok(Json(Done {}))
}
