//! The database: one sqlx `Any` pool over SQLite or PostgreSQL, the
//! embedded migrations, and the transaction that takes the write lock up
//! front.

use std::borrow::Cow;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::str::FromStr as _;
use std::sync::Arc;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::migrate::{Migration, MigrationSource, MigrationType, Migrator};
use sqlx::{AnyPool, Executor as _, Row as _};

/// Which engine a URL names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Clone, Debug)]
pub(crate) struct Db {
    pub(crate) pool: AnyPool,
    pub(crate) backend: Backend,
    /// SQLite: this process's writers take turns here before `BEGIN
    /// IMMEDIATE`, so the next one starts the moment the last commits.
    /// Left to SQLite's busy handler, a waiting writer sleeps and polls
    /// (1, 2, 5, 10… ms), and under a few concurrent commits the database
    /// stands idle between them. Another process's writers still meet the
    /// busy timeout.
    writers: Arc<tokio::sync::Mutex<()>>,
}

/// A writer's turn (SQLite; nothing on PostgreSQL, whose row locks order
/// commits per vault): hold it until the transaction has ended.
pub(crate) type WriteTurn = Option<tokio::sync::OwnedMutexGuard<()>>;

/// The default database: `$XDG_DATA_HOME/promptvault-server/server.db`
/// (or `~/.local/share/...`).
pub(crate) fn default_sqlite_path() -> PathBuf {
    let base = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
        .unwrap_or_else(|| PathBuf::from("."));
    base.join("promptvault-server").join("server.db")
}

/// Turns the `--database` argument into a URL sqlx accepts, creating the
/// SQLite file (and its directory) if needed.
pub(crate) fn normalise_url(arg: Option<&str>) -> Result<(String, Backend), String> {
    let url = match arg {
        None => {
            let path = default_sqlite_path();
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)
                    .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
            }
            format!("sqlite://{}", path.display())
        }
        Some(u) => u.to_owned(),
    };
    if url.starts_with("sqlite:") {
        let url = if url.contains('?') {
            url
        } else {
            format!("{url}?mode=rwc")
        };
        Ok((url, Backend::Sqlite))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok((url, Backend::Postgres))
    } else {
        Err("--database must be sqlite://PATH or postgres://...".to_owned())
    }
}

/// Connects, configures SQLite (WAL, full sync, busy timeout) and runs the
/// embedded migrations.
pub(crate) async fn connect(url: &str, backend: Backend) -> Result<Db, sqlx::Error> {
    sqlx::any::install_default_drivers();
    let options = AnyConnectOptions::from_str(url)?;
    let pool = AnyPoolOptions::new()
        .max_connections(match backend {
            Backend::Sqlite => 4,
            Backend::Postgres => 16,
        })
        // While the database is down a request waits this long for a
        // connection, then answers 503 `unavailable`.
        .acquire_timeout(std::time::Duration::from_secs(10))
        // No ping before each use: sqlx already pings every connection as
        // it goes back to the pool and drops a broken one, and a ping per
        // request is one more round trip (one more hop to SQLite's worker
        // thread) on every request. A connection that died idle (a
        // PostgreSQL restart) fails its first use with 503 `unavailable`,
        // which clients retry, and is replaced.
        .test_before_acquire(false)
        .after_connect(move |conn, _meta| {
            Box::pin(async move {
                if backend == Backend::Sqlite {
                    conn.execute("PRAGMA journal_mode = WAL").await?;
                    conn.execute("PRAGMA synchronous = FULL").await?;
                    conn.execute("PRAGMA busy_timeout = 10000").await?;
                    // Deleted and overwritten content is zeroed, so an
                    // erased account's bytes do not linger in free pages.
                    conn.execute("PRAGMA secure_delete = ON").await?;
                }
                Ok(())
            })
        })
        .connect_with(options)
        .await?;
    Migrator::new(Embedded).await?.run(&pool).await?;
    Ok(Db {
        pool,
        backend,
        writers: Arc::new(tokio::sync::Mutex::new(())),
    })
}

/// The migrations, compiled into the binary (no files needed at run time).
#[derive(Debug)]
struct Embedded;

type Resolved = Result<Vec<Migration>, sqlx::error::BoxDynError>;

impl MigrationSource<'static> for Embedded {
    fn resolve(self) -> Pin<Box<dyn Future<Output = Resolved> + Send + 'static>> {
        Box::pin(async {
            Ok(vec![
                Migration::new(
                    1,
                    Cow::Borrowed("init"),
                    MigrationType::Simple,
                    Cow::Borrowed(include_str!("../migrations/0001_init.sql")),
                    false,
                ),
                Migration::new(
                    2,
                    Cow::Borrowed("tombstone index"),
                    MigrationType::Simple,
                    Cow::Borrowed(include_str!("../migrations/0002_tombstone_index.sql")),
                    false,
                ),
                Migration::new(
                    3,
                    Cow::Borrowed("sharing"),
                    MigrationType::Simple,
                    Cow::Borrowed(include_str!("../migrations/0003_sharing.sql")),
                    false,
                ),
            ])
        })
    }
}

impl Db {
    /// Starts a write transaction. On SQLite it waits for this process's
    /// earlier writers ([`Db::writers`]) and is `BEGIN IMMEDIATE`, so the
    /// write lock is taken at the start and a writer of another process
    /// waits (busy timeout) instead of failing with "database is locked"
    /// when a read lock would have to be upgraded (sqlx issue #451).
    ///
    /// # Errors
    ///
    /// The database's.
    pub(crate) async fn begin_write(
        &self,
    ) -> Result<(WriteTurn, sqlx::Transaction<'static, sqlx::Any>), sqlx::Error> {
        match self.backend {
            Backend::Sqlite => {
                let turn = Arc::clone(&self.writers).lock_owned().await;
                let tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
                Ok((Some(turn), tx))
            }
            Backend::Postgres => Ok((None, self.pool.begin().await?)),
        }
    }

    /// After an erasure: on SQLite, checkpoints the write-ahead log and
    /// truncates it, so the old page images that still held the erased
    /// rows leave the disk (the database file's own pages were zeroed by
    /// `secure_delete`). A reader holding an old snapshot can make the
    /// truncation wait; the next erasure or a restart finishes it. On
    /// PostgreSQL, nothing: dead rows stay in its files until vacuum
    /// reuses the space (SECURITY.md).
    pub(crate) async fn scrub(&self) {
        if self.backend != Backend::Sqlite {
            return;
        }
        match sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .fetch_one(&self.pool)
            .await
        {
            Ok(row) => {
                if row.try_get::<i64, _>(0).unwrap_or(1) != 0 {
                    tracing::warn!(
                        "the WAL could not be truncated after an erasure: readers active"
                    );
                }
            }
            Err(e) => tracing::warn!(error = %e, "the WAL checkpoint after an erasure failed"),
        }
    }

    /// The server secret, made on first start.
    pub(crate) async fn server_secret(&self) -> Result<[u8; 32], String> {
        let read = || async {
            sqlx::query("SELECT secret FROM server_secret WHERE id = 1")
                .fetch_optional(&self.pool)
                .await
                .map_err(|e| e.to_string())
        };
        let row = match read().await? {
            Some(row) => row,
            None => {
                let mut fresh = [0u8; 32];
                getrandom::fill(&mut fresh).map_err(|e| e.to_string())?;
                sqlx::query(
                    "INSERT INTO server_secret (id, secret) VALUES (1, $1) ON CONFLICT (id) DO NOTHING",
                )
                .bind(promptvault::format::text::encode(&fresh))
                .execute(&self.pool)
                .await
                .map_err(|e| e.to_string())?;
                read().await?.ok_or("the server secret was not stored")?
            }
        };
        let text: String = row.try_get("secret").map_err(|e| e.to_string())?;
        promptvault::protocol::decode_fixed::<32>(&text).map_err(|e| e.to_string())
    }
}
