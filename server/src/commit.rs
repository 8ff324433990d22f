//! `POST /v1/commit` (SPEC §12.5, §12.6): an atomic commit with per-key
//! compare-and-swap, the keyless checks of every record, quotas, and an
//! idempotency key.

use std::collections::BTreeSet;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use blake2::Digest as _;
use promptvault::format::text;
use promptvault::protocol::{Change, CommitRequest, CommitResponse, MAX_IDEMPOTENCY_KEY_LEN};
use promptvault::{RecordKind, VaultId};
use sqlx::Row as _;

use crate::AppState;
use crate::api::{
    Body, Checked, MAX_TX_RETRIES, check_quota, check_record, to_i64, to_u64, too_many,
};
use crate::auth::{Session, now};
use crate::error::{ApiError, ApiResult, is_unique_violation};
use crate::writes::Batch;

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

/// One attempt at a commit, in one transaction of three round trips to
/// the database between `BEGIN` and `COMMIT`: take the vault row and its
/// counter, read the current rows of the commit's keys, then — in one
/// batch — write the rows, the idempotency answer and the counters.
///
/// The idempotency key is looked up only when the commit would write
/// nothing or conflicts, the two answers a replay of an accepted commit
/// gets (its puts are stored, its deletes done, or a later commit changed
/// its keys). A replay that would write (its records deleted and purged
/// since) fails on the answer's primary key, which undoes the writes; the
/// earlier answer is then read after the rollback. So every replay gets the
/// first answer, as if the key were read first, without that read on the
/// common path.
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
    // The newest tombstone older than the retention window comes with the
    // counter (an index lookup, `records_tombstones`). On PostgreSQL this
    // subquery sees the snapshot from before any wait for the row lock, so
    // it may miss the tombstones of the commit it waited for: they are
    // inside the window, and the next commit purges them if not.
    let v = sqlx::query(
        "UPDATE vaults SET counter = counter + 1 WHERE vault_id = $1 \
         RETURNING counter, floor, record_count, byte_count, \
         (SELECT MAX(seq) FROM records WHERE vault_id = $1 AND body IS NULL AND seq <= counter - $2) AS purgeable",
    )
    .bind(vault)
    .bind(state.cfg.tombstone_retention_commits)
    .fetch_optional(&mut *tx)
    .await?
    // The account was deleted after the session was checked.
    .ok_or_else(ApiError::unauthorized)?;
    let seq: i64 = v.try_get("counter")?;
    let floor: i64 = v.try_get("floor")?;
    let mut count: i64 = v.try_get("record_count")?;
    let mut bytes: i64 = v.try_get("byte_count")?;
    let purgeable: Option<i64> = v.try_get("purgeable")?;

    let mut conflicts = Vec::new();
    let mut puts: Vec<&Checked> = Vec::new();
    let mut deletes: Vec<&str> = Vec::new();
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
        let live = cur.as_ref().filter(|c| c.live);
        if let Some(cur) = live {
            count -= 1;
            bytes -= cur.size;
        }
        match op {
            Op::Put(c, _) => {
                count += 1;
                bytes += i64::try_from(c.info.size).unwrap_or(i64::MAX);
                puts.push(c);
            }
            Op::Delete(key, _) if live.is_some() => deletes.push(key),
            Op::Delete(..) => {}
        }
    }
    if !conflicts.is_empty() || (puts.is_empty() && deletes.is_empty()) {
        let earlier = earlier_answer(&mut *tx, vault, idempotency_key, request_hash).await;
        tx.rollback().await?;
        if let Some(answer) = earlier? {
            return answer;
        }
        if !conflicts.is_empty() {
            return Ok(CommitResponse::Conflict { rows: conflicts });
        }
        // Nothing changes: answer with the cursor as it was.
        return Ok(CommitResponse::Accepted {
            cursor: to_u64(seq.saturating_sub(1)),
        });
    }
    check_quota(state, count, bytes)?;

    // Tombstones older than the retention window are purged, and a cursor
    // below the new floor must start over. A statement of its own, before
    // the batch: a put in this commit may replace one of them, and on
    // PostgreSQL one statement may not change a row twice.
    let floor = match purgeable {
        Some(m) if m > floor => {
            sqlx::query("DELETE FROM records WHERE vault_id = $1 AND body IS NULL AND seq <= $2")
                .bind(vault)
                .bind(m)
                .execute(&mut *tx)
                .await?;
            m
        }
        _ => floor,
    };
    let mut batch = Batch::new(state.db.backend);
    batch.upsert(&mut tx, vault, seq, &puts).await?;
    batch.tombstone(&mut tx, vault, seq, &deletes).await?;
    let (v, k, h, c, t) = (
        batch.text(vault),
        batch.text(idempotency_key),
        batch.text(request_hash),
        batch.int(seq),
        batch.int(now()),
    );
    batch.push(format!(
        "INSERT INTO commits (vault_id, idempotency_key, request_hash, cursor, created_at) \
         VALUES ({v}, {k}, {h}, {c}, {t})"
    ));
    let (f, n, b, v) = (
        batch.int(floor),
        batch.int(count),
        batch.int(bytes),
        batch.text(vault),
    );
    batch.push(format!(
        "UPDATE vaults SET floor = {f}, record_count = {n}, byte_count = {b} WHERE vault_id = {v}"
    ));
    if let Err(e) = batch.run(&mut tx).await {
        if !is_unique_violation(&e) {
            return Err(e.into());
        }
        // The idempotency key has an answer: this is a replay, or the key
        // was reused. The rollback undid every write of this attempt.
        tx.rollback().await?;
        let earlier = earlier_answer(&state.db.pool, vault, idempotency_key, request_hash).await?;
        return earlier.unwrap_or_else(|| Err(ApiError::internal()));
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
    tx.commit().await?;
    tracing::info!(vault = %vault, cursor = seq, rows = ops.len(), "commit");
    Ok(CommitResponse::Accepted {
        cursor: to_u64(seq),
    })
}

/// The answer an earlier commit with this idempotency key got, if there
/// was one: the same answer for the same request, `idempotency_key_reused`
/// for another.
async fn earlier_answer<'c, E: sqlx::Executor<'c, Database = sqlx::Any>>(
    db: E,
    vault: &str,
    idempotency_key: &str,
    request_hash: &str,
) -> ApiResult<Option<ApiResult<CommitResponse>>> {
    let row = sqlx::query(
        "SELECT request_hash, cursor FROM commits WHERE vault_id = $1 AND idempotency_key = $2",
    )
    .bind(vault)
    .bind(idempotency_key)
    .fetch_optional(db)
    .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let hash: String = row.try_get("request_hash")?;
    let cursor: i64 = row.try_get("cursor")?;
    if hash == request_hash {
        return Ok(Some(Ok(CommitResponse::Accepted {
            cursor: to_u64(cursor),
        })));
    }
    Ok(Some(Err(ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "idempotency_key_reused",
        "this idempotency key was used for another request: make a new one",
    ))))
}

/// The rows stored under the keys of `ops`, a few hundred keys per query.
async fn current_rows(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    vault: &str,
    ops: &[Op],
) -> ApiResult<std::collections::HashMap<String, Current>> {
    let mut out = std::collections::HashMap::with_capacity(ops.len());
    for chunk in ops.chunks(1024) {
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

/// The revision a tombstone reports: that of the record it deleted, for
/// the kinds with revisions.
pub(crate) fn tombstone_revision(tombstone: bool, revision: i64) -> Option<u64> {
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
