//! Spaces (SPEC §12.12): vaults shared by their members. A space is a row
//! in `vaults` with records like any vault's; a member reaches it with a
//! space session ([`session`]), with which `pull`, `commit` and `wait` work
//! unchanged. Its owner adds and removes members; removing one deletes
//! their space sessions in the same transaction, so their access ends at
//! once, and the client then rotates the space key (SPEC §13) so what is
//! written afterwards does not open under the key the member kept.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use promptvault::VaultId;
use promptvault::protocol::{
    CreateSpaceRequest, Done, MAX_MEMBERS, MAX_SPACES_PER_ACCOUNT, MemberRequest, SessionResponse,
    SpaceInfo, SpaceRequest, SpacesResponse,
};
use sqlx::Row as _;

use crate::AppState;
use crate::api::{Body, account_ok, retrying, to_u64};
use crate::auth::{self, Session, now};
use crate::error::{ApiError, ApiResult};

fn not_a_member() -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "not_a_member",
        "this account is not a member of that space",
    )
}

fn not_the_owner() -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "not_the_owner",
        "only the space's owner changes its members",
    )
}

fn no_such_space() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "no_space", "there is no such space")
}

/// Whether `account` is a member of `space`; 403 if not.
///
/// # Errors
///
/// `not_a_member` (403), or the database's.
pub(crate) async fn require_member<'c, E: sqlx::Executor<'c, Database = sqlx::Any>>(
    db: E,
    space: &str,
    account: &str,
) -> ApiResult<()> {
    sqlx::query("SELECT 1 AS one FROM space_members WHERE space_id = $1 AND account = $2")
        .bind(space)
        .bind(account)
        .fetch_optional(db)
        .await?
        .map(|_| ())
        .ok_or_else(not_a_member)
}

/// The owner of `space`; 404 if there is no such space.
async fn owner_of<'c, E: sqlx::Executor<'c, Database = sqlx::Any>>(
    db: E,
    space: &str,
) -> ApiResult<String> {
    Ok(sqlx::query("SELECT owner FROM spaces WHERE space_id = $1")
        .bind(space)
        .fetch_optional(db)
        .await?
        .ok_or_else(no_such_space)?
        .try_get("owner")?)
}

/// Creates an empty space owned by the session's account.
pub(crate) async fn create(
    State(state): State<AppState>,
    session: Session,
    Body(req): Body<CreateSpaceRequest>,
) -> ApiResult<Json<SpaceInfo>> {
    session.own()?;
    let space = req.space.to_hex();
    let task_state = state.clone();
    let account = session.account.clone();
    let space_for_task = space.clone();
    tokio::spawn(
        async move { retrying(|| create_space(&task_state, &account, &space_for_task)).await },
    )
    .await
    .map_err(|_| ApiError::internal())??;
    tracing::info!(space = %space, "space created");
    Ok(Json(SpaceInfo {
        space: req.space,
        owner: session.account.clone(),
        members: vec![session.account],
        cursor: 0,
    }))
}

async fn create_space(state: &AppState, account: &str, space: &str) -> ApiResult<()> {
    let (_turn, mut tx) = state.db.begin_write().await?;
    let owned: i64 = sqlx::query("SELECT COUNT(*) AS n FROM spaces WHERE owner = $1")
        .bind(account)
        .fetch_one(&mut *tx)
        .await?
        .try_get("n")?;
    if usize::try_from(owned).unwrap_or(usize::MAX) >= MAX_SPACES_PER_ACCOUNT {
        return Err(ApiError::quota(format!(
            "an account owns at most {MAX_SPACES_PER_ACCOUNT} spaces"
        )));
    }
    let taken = sqlx::query("SELECT 1 AS one FROM vaults WHERE vault_id = $1")
        .bind(space)
        .fetch_optional(&mut *tx)
        .await?;
    if taken.is_some() {
        return Err(ApiError::conflict(
            "vault_taken",
            "a vault or space with this id exists: pick another random id",
        ));
    }
    let t = now();
    sqlx::query(
        "INSERT INTO vaults (vault_id, counter, floor, record_count, byte_count) \
         VALUES ($1, 0, 0, 0, 0)",
    )
    .bind(space)
    .execute(&mut *tx)
    .await?;
    sqlx::query("INSERT INTO spaces (space_id, owner, created_at) VALUES ($1, $2, $3)")
        .bind(space)
        .bind(account)
        .bind(t)
        .execute(&mut *tx)
        .await?;
    sqlx::query("INSERT INTO space_members (space_id, account, added_at) VALUES ($1, $2, $3)")
        .bind(space)
        .bind(account)
        .bind(t)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// The spaces the session's account belongs to, with their members.
pub(crate) async fn list(
    State(state): State<AppState>,
    session: Session,
    Body(_): Body<Done>,
) -> ApiResult<Json<SpacesResponse>> {
    session.own()?;
    let rows = sqlx::query(
        "SELECT s.space_id, s.owner, v.counter, m2.account FROM space_members m \
         JOIN spaces s ON s.space_id = m.space_id \
         JOIN vaults v ON v.vault_id = s.space_id \
         JOIN space_members m2 ON m2.space_id = s.space_id \
         WHERE m.account = $1 ORDER BY s.space_id, m2.account",
    )
    .bind(&session.account)
    .fetch_all(&state.db.pool)
    .await?;
    let mut spaces: Vec<SpaceInfo> = Vec::new();
    for row in rows {
        let id: String = row.try_get("space_id")?;
        let space: VaultId = id.parse().map_err(|_| ApiError::internal())?;
        let member: String = row.try_get("account")?;
        match spaces.last_mut() {
            Some(last) if last.space == space => last.members.push(member),
            _ => spaces.push(SpaceInfo {
                space,
                owner: row.try_get("owner")?,
                members: vec![member],
                cursor: to_u64(row.try_get("counter")?),
            }),
        }
    }
    Ok(Json(SpacesResponse { spaces }))
}

/// The owner adds a member (an existing account).
pub(crate) async fn add_member(
    State(state): State<AppState>,
    session: Session,
    Body(req): Body<MemberRequest>,
) -> ApiResult<Json<Done>> {
    session.own()?;
    account_ok(&req.account)?;
    let space = req.space.to_hex();
    let (_turn, mut tx) = state.db.begin_write().await?;
    if owner_of(&mut *tx, &space).await? != session.account {
        return Err(not_the_owner());
    }
    let exists = sqlx::query("SELECT 1 AS one FROM accounts WHERE name = $1")
        .bind(&req.account)
        .fetch_optional(&mut *tx)
        .await?;
    if exists.is_none() {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "no_account",
            "there is no such account",
        ));
    }
    let members: i64 = sqlx::query("SELECT COUNT(*) AS n FROM space_members WHERE space_id = $1")
        .bind(&space)
        .fetch_one(&mut *tx)
        .await?
        .try_get("n")?;
    let already = require_member(&mut *tx, &space, &req.account).await.is_ok();
    if !already {
        if usize::try_from(members).unwrap_or(usize::MAX) >= MAX_MEMBERS {
            return Err(ApiError::quota(format!(
                "a space has at most {MAX_MEMBERS} members"
            )));
        }
        sqlx::query("INSERT INTO space_members (space_id, account, added_at) VALUES ($1, $2, $3)")
            .bind(&space)
            .bind(&req.account)
            .bind(now())
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    tracing::info!(space = %space, "member added");
    Ok(Json(Done {}))
}

/// The owner removes a member, or a member leaves. Their pending
/// invitations to the space and their space sessions go with them, in the
/// same transaction: a pull, commit or wait after it is 401. The owner cannot leave (it
/// deletes the space instead).
pub(crate) async fn remove_member(
    State(state): State<AppState>,
    session: Session,
    Body(req): Body<MemberRequest>,
) -> ApiResult<Json<Done>> {
    session.own()?;
    account_ok(&req.account)?;
    let space = req.space.to_hex();
    let (_turn, mut tx) = state.db.begin_write().await?;
    let owner = owner_of(&mut *tx, &space).await?;
    if owner != session.account && req.account != session.account {
        return Err(not_the_owner());
    }
    if req.account == owner {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "owner_cannot_leave",
            "the owner cannot leave its space: delete the space instead",
        ));
    }
    let gone = sqlx::query("DELETE FROM space_members WHERE space_id = $1 AND account = $2")
        .bind(&space)
        .bind(&req.account)
        .execute(&mut *tx)
        .await?;
    if gone.rows_affected() == 0 {
        return Err(not_a_member());
    }
    for sql in [
        "DELETE FROM inbox WHERE space_id = $1 AND recipient = $2",
        "DELETE FROM sessions WHERE vault_id = $1 AND account = $2",
    ] {
        sqlx::query(sql)
            .bind(&space)
            .bind(&req.account)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    tracing::info!(space = %space, "member removed");
    Ok(Json(Done {}))
}

/// The owner deletes a space: its records, members and invitations.
pub(crate) async fn delete(
    State(state): State<AppState>,
    session: Session,
    Body(req): Body<SpaceRequest>,
) -> ApiResult<Json<Done>> {
    session.own()?;
    let space = req.space.to_hex();
    let (_turn, mut tx) = state.db.begin_write().await?;
    if owner_of(&mut *tx, &space).await? != session.account {
        return Err(not_the_owner());
    }
    erase_space(&mut tx, &space).await?;
    tx.commit().await?;
    // Long-polls of the erased space wake up and find it gone.
    state.commits.send_modify(|n| *n = n.wrapping_add(1));
    tracing::info!(space = %space, "space deleted");
    Ok(Json(Done {}))
}

/// Erases a space inside a transaction: the vault row first (it waits for
/// a commit in flight, and later commits find no vault), then the rest.
pub(crate) async fn erase_space(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    space: &str,
) -> ApiResult<()> {
    for sql in [
        "DELETE FROM vaults WHERE vault_id = $1",
        "DELETE FROM records WHERE vault_id = $1",
        "DELETE FROM commits WHERE vault_id = $1",
        "DELETE FROM space_members WHERE space_id = $1",
        "DELETE FROM sessions WHERE vault_id = $1",
        "DELETE FROM inbox WHERE space_id = $1",
        "DELETE FROM spaces WHERE space_id = $1",
    ] {
        sqlx::query(sql).bind(space).execute(&mut **tx).await?;
    }
    Ok(())
}

/// An account's part in sharing, erased with the account inside its
/// erasure's transaction: the spaces it owns, its memberships, its
/// invitations (sent and received) and its identity bundle.
pub(crate) async fn erase_account_sharing(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    account: &str,
) -> ApiResult<()> {
    let owned = sqlx::query("SELECT space_id FROM spaces WHERE owner = $1")
        .bind(account)
        .fetch_all(&mut **tx)
        .await?;
    for row in owned {
        let space: String = row.try_get("space_id")?;
        erase_space(tx, &space).await?;
    }
    for sql in [
        "DELETE FROM space_members WHERE account = $1",
        "DELETE FROM inbox WHERE recipient = $1 OR sender = $1",
        "DELETE FROM identities WHERE account = $1",
    ] {
        sqlx::query(sql).bind(account).execute(&mut **tx).await?;
    }
    Ok(())
}

/// `POST /v1/spaces/session`: a space session for a member. Its token
/// works with `pull`, `commit` and `wait` exactly as the account's own
/// session does for its vault, and reaches nothing else; it is deleted when
/// the member is removed or the space deleted.
pub(crate) async fn session(
    State(state): State<AppState>,
    session: Session,
    Body(req): Body<SpaceRequest>,
) -> ApiResult<Json<SessionResponse>> {
    session.own()?;
    let space = req.space.to_hex();
    let (_turn, mut tx) = state.db.begin_write().await?;
    require_member(&mut *tx, &space, &session.account).await?;
    let cursor: i64 = sqlx::query("SELECT counter FROM vaults WHERE vault_id = $1")
        .bind(&space)
        .fetch_one(&mut *tx)
        .await?
        .try_get("counter")?;
    let token = auth::create_session(&mut tx, &state, &session.account, &space, true).await?;
    tx.commit().await?;
    Ok(Json(SessionResponse {
        token,
        expires_in: to_u64(state.cfg.session_ttl_secs),
        vault_id: req.space,
        cursor: to_u64(cursor),
    }))
}
