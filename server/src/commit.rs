//! `POST /v1/commit` (SPEC §12.5, §12.6): an atomic commit with per-key
//! compare-and-swap, the keyless checks of every record, quotas, and an
//! idempotency key.

use std::collections::{BTreeSet, HashMap};

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use blake2::Digest as _;
use promptvault::format::text;
use promptvault::protocol::{Change, CommitRequest, CommitResponse, MAX_IDEMPOTENCY_KEY_LEN};
use promptvault::{RecordKind, VaultId};
use sqlx::{Column as _, Row as _};

use crate::db::Backend;

use crate::AppState;
use crate::api::{Body, Checked, check_quota, check_record, retrying, to_i64, to_u64, too_many};
use crate::auth::{Bearer, now};
use crate::error::{ApiError, ApiResult, is_unique_violation};
use crate::writes::Batch;

/// An atomic commit with per-key compare-and-swap and an idempotency key.
///
/// The bearer token is checked by the transaction's first statement (one
/// round trip fewer than a [`crate::auth::Session`] lookup before it), so
/// the records are parsed and inspected before it, as a registration's
/// are; their vault binding is checked once the session's vault is known.
pub(crate) async fn commit(
    State(state): State<AppState>,
    bearer: Bearer,
    Body(req): Body<CommitRequest>,
) -> ApiResult<Response> {
    check_idempotency_key(&req.idempotency_key)?;
    if req.puts.len().saturating_add(req.deletes.len()) > state.cfg.max_records_per_commit {
        return Err(too_many());
    }
    let request_hash = text::encode(&blake2::Blake2b::<blake2::digest::consts::U32>::digest(
        serde_json::to_vec(&req).map_err(|_| ApiError::internal())?,
    ));
    let mut ops = Vec::with_capacity(req.puts.len() + req.deletes.len());
    let mut keys = BTreeSet::new();
    for p in req.puts {
        let c = check_record(&state, p.record)?;
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
    let token_hash = bearer.token_hash;
    let key = req.idempotency_key;
    let outcome = tokio::spawn(async move {
        retrying(|| apply_commit(&task_state, &token_hash, &key, &request_hash, &ops)).await
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
/// the database between `BEGIN` and `COMMIT` (two on SQLite): take the
/// vault row and its counter, read the current rows of the commit's keys
/// ([`lock_and_read`]), then — in one batch — write the rows, the
/// idempotency answer and the counters.
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
    token_hash: &str,
    idempotency_key: &str,
    request_hash: &str,
    ops: &[Op],
) -> ApiResult<CommitResponse> {
    let (_turn, mut tx) = state.db.begin_write().await?;
    let (v, mut current) = lock_and_read(state, &mut tx, token_hash, ops).await?;
    let vault = v.vault_hex.as_str();
    let vault_id: VaultId = vault.parse().map_err(|_| ApiError::internal())?;
    for op in ops {
        if let Op::Put(c, _) = op {
            c.belongs_to(vault_id)?;
        }
    }
    let (seq, floor, purgeable) = (v.seq, v.floor, v.purgeable);
    let (mut count, mut bytes) = (v.record_count, v.byte_count);

    let mut conflicts = Vec::new();
    let mut puts: Vec<&Checked> = Vec::new();
    let mut deletes: Vec<&str> = Vec::new();
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

/// The vault's row as a commit takes it.
struct VaultRow {
    vault_hex: String,
    /// The counter, advanced: this commit's cursor.
    seq: i64,
    floor: i64,
    record_count: i64,
    byte_count: i64,
    /// The newest tombstone older than the retention window.
    purgeable: Option<i64>,
}

/// Advances the vault's counter, which takes the vault's write lock. The
/// newest tombstone older than the retention window comes with it (an
/// index lookup, `records_tombstones`); on PostgreSQL that subquery sees
/// the snapshot from before any wait for the row lock, so it may miss the
/// tombstones of the commit it waited for: they are inside the window, and
/// a later commit purges them.
///
/// The vault is the session's: `$1` is the bearer token's hash, `$3` the
/// time; an unknown or expired token (or a vault erased since) matches no
/// row, which is 401.
const LOCK_VAULT: &str = "UPDATE vaults SET counter = counter + 1 \
     WHERE vault_id = (SELECT vault_id FROM sessions WHERE token_hash = $1 AND expires_at > $3) \
     RETURNING vault_id, counter, floor, record_count, byte_count, \
     (SELECT MAX(r.seq) FROM records r WHERE r.vault_id = vaults.vault_id AND r.body IS NULL \
      AND r.seq <= vaults.counter - $2) AS purgeable";

/// The session's vault in a query that has the token's hash as `$1` and
/// the time as `$3`.
const SESSION_VAULT: &str =
    "(SELECT vault_id FROM sessions WHERE token_hash = $1 AND expires_at > $3)";

/// Keys per query for the current rows.
const KEYS_PER_READ: usize = 1024;

/// The query for the rows of `vault` (an SQL expression) stored under `n`
/// keys, which are parameters from `$first` on.
fn rows_query(vault: &str, n: usize, first: usize) -> String {
    let marks: Vec<String> = (first..first + n).map(|i| format!("${i}")).collect();
    format!(
        "SELECT storage_key, seq, key_gen, revision, size, body FROM records \
         WHERE vault_id = {vault} AND storage_key IN ({})",
        marks.join(", ")
    )
}

/// Takes the vault's row and lock ([`LOCK_VAULT`]), then reads the rows
/// stored under the keys of `ops`. On SQLite, whose `BEGIN IMMEDIATE`
/// already holds the database's write lock, the two go in one call; on
/// PostgreSQL the read runs after the lock as a statement of its own, so
/// its snapshot sees the commit it may have waited for.
async fn lock_and_read(
    state: &AppState,
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    token_hash: &str,
    ops: &[Op],
) -> ApiResult<(VaultRow, HashMap<String, Current>)> {
    let now = now();
    let retention = state.cfg.tombstone_retention_commits;
    let mut chunks = ops.chunks(KEYS_PER_READ);
    let mut current = HashMap::with_capacity(ops.len());
    let mut locked = None;
    if state.db.backend == Backend::Sqlite {
        let first = chunks.next().unwrap_or_default();
        let sql = if first.is_empty() {
            LOCK_VAULT.to_owned()
        } else {
            format!(
                "{LOCK_VAULT};\n{}",
                rows_query(SESSION_VAULT, first.len(), 4)
            )
        };
        let mut q = sqlx::query(&sql).bind(token_hash).bind(retention).bind(now);
        for op in first {
            q = q.bind(op.key());
        }
        for row in q.fetch_all(&mut **tx).await? {
            if row.columns().iter().any(|c| c.name() == "counter") {
                locked = Some(vault_row(&row)?);
            } else {
                let (key, cur) = current_row(&row)?;
                current.insert(key, cur);
            }
        }
    } else {
        let row = sqlx::query(LOCK_VAULT)
            .bind(token_hash)
            .bind(retention)
            .bind(now)
            .fetch_optional(&mut **tx)
            .await?;
        locked = row.as_ref().map(vault_row).transpose()?;
    }
    let locked = locked.ok_or_else(ApiError::unauthorized)?;
    for chunk in chunks {
        let sql = rows_query("$1", chunk.len(), 2);
        let mut q = sqlx::query(&sql).bind(&locked.vault_hex);
        for op in chunk {
            q = q.bind(op.key());
        }
        for row in q.fetch_all(&mut **tx).await? {
            let (key, cur) = current_row(&row)?;
            current.insert(key, cur);
        }
    }
    Ok((locked, current))
}

fn vault_row(row: &sqlx::any::AnyRow) -> ApiResult<VaultRow> {
    Ok(VaultRow {
        vault_hex: row.try_get("vault_id")?,
        seq: row.try_get("counter")?,
        floor: row.try_get("floor")?,
        record_count: row.try_get("record_count")?,
        byte_count: row.try_get("byte_count")?,
        purgeable: row.try_get("purgeable")?,
    })
}

fn current_row(row: &sqlx::any::AnyRow) -> ApiResult<(String, Current)> {
    let body: Option<String> = row.try_get("body")?;
    Ok((
        row.try_get("storage_key")?,
        Current {
            seq: row.try_get("seq")?,
            live: body.is_some(),
            key_gen: row.try_get("key_gen")?,
            revision: row.try_get("revision")?,
            size: row.try_get("size")?,
            body,
        },
    ))
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
