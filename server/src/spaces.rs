//! Spaces (SPEC §12.12): vaults shared by their members. A space is a row
//! in `vaults` with records like any vault's, reached through the
//! `/v1/spaces/{space}/…` routes by its members' own sessions. Its owner
//! adds and removes members; removing one takes their access here at
//! once, and the client then rotates the space key (SPEC §13) so what is
//! written afterwards does not open under the key the member kept.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use promptvault::VaultId;
use promptvault::protocol::{
    CommitRequest, CreateSpaceRequest, Done, MAX_MEMBERS, MAX_SPACES_PER_ACCOUNT, MemberRequest,
    PullRequest, PullResponse, SpaceInfo, SpaceRequest, SpacesResponse, WaitRequest, WaitResponse,
};
use sqlx::Row as _;

use crate::AppState;
use crate::api::{self, Body, account_ok, retrying, to_u64};
use crate::auth::{Bearer, Session, now};
use crate::commit::{self, Target};
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

/// Parses the `{space}` of a route.
fn space_path(space: &str) -> ApiResult<String> {
    let id: VaultId = space
        .parse()
        .map_err(|_| ApiError::bad_request("a space id is 32 lowercase hex digits"))?;
    Ok(id.to_hex())
}

/// Creates an empty space owned by the session's account.
pub(crate) async fn create(
    State(state): State<AppState>,
    session: Session,
    Body(req): Body<CreateSpaceRequest>,
) -> ApiResult<Json<SpaceInfo>> {
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
/// invitations to the space go with them. The owner cannot leave (it
/// deletes the space instead).
pub(crate) async fn remove_member(
    State(state): State<AppState>,
    session: Session,
    Body(req): Body<MemberRequest>,
) -> ApiResult<Json<Done>> {
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
    sqlx::query("DELETE FROM inbox WHERE space_id = $1 AND recipient = $2")
        .bind(&space)
        .bind(&req.account)
        .execute(&mut *tx)
        .await?;
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

/// `POST /v1/spaces/{space}/pull`: a member's pull.
pub(crate) async fn pull(
    State(state): State<AppState>,
    session: Session,
    Path(space): Path<String>,
    Body(req): Body<PullRequest>,
) -> ApiResult<Json<PullResponse>> {
    let space = space_path(&space)?;
    require_member(&state.db.pool, &space, &session.account).await?;
    api::pull_vault(&state, &space, req).await
}

/// `POST /v1/spaces/{space}/wait`: a member's long-poll.
pub(crate) async fn wait(
    State(state): State<AppState>,
    session: Session,
    Path(space): Path<String>,
    Body(req): Body<WaitRequest>,
) -> ApiResult<Json<WaitResponse>> {
    let space = space_path(&space)?;
    require_member(&state.db.pool, &space, &session.account).await?;
    api::wait_vault(&state, &space, req).await
}

/// `POST /v1/spaces/{space}/commit`: a member's commit. Membership is
/// checked by the statement that takes the space's lock, so a member
/// removed while a commit waits for it is refused.
pub(crate) async fn commit(
    State(state): State<AppState>,
    bearer: Bearer,
    Path(space): Path<String>,
    Body(req): Body<CommitRequest>,
) -> ApiResult<Response> {
    let space = space_path(&space)?;
    commit::commit_to(state, bearer, Target::Space(space), req).await
}

/// Why a commit to a space took no lock: the session is gone (401) or its
/// account is not a member (403).
pub(crate) async fn refusal(state: &AppState, token_hash: &str) -> ApiError {
    let session =
        sqlx::query("SELECT 1 AS one FROM sessions WHERE token_hash = $1 AND expires_at > $2")
            .bind(token_hash)
            .bind(now())
            .fetch_optional(&state.db.pool)
            .await;
    match session {
        Ok(Some(_)) => not_a_member(),
        Ok(None) => ApiError::unauthorized(),
        Err(e) => e.into(),
    }
}
