//! `promptvault-server`: the reference sync server. It stores opaque
//! records per vault, checks each with the core's keyless API, and never
//! holds a key: it links the core without its `unlock` feature, so it has
//! no code that could derive one. SPEC.md §12 is the protocol; SECURITY.md
//! says what it learns.

use std::io::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::routing::{get, post};
use clap::Parser;
use tokio::sync::watch;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

mod api;
mod auth;
mod commit;
mod db;
mod error;
mod keys;
mod sharing;
mod spaces;
mod writes;

/// The reference promptvault sync server: stores only ciphertext.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// Address to listen on (plain HTTP: put TLS in front, see SECURITY.md).
    #[arg(long, default_value = "127.0.0.1:8787")]
    listen: SocketAddr,
    /// `sqlite://PATH` or `postgres://...`; default: a SQLite file in the
    /// XDG data directory.
    #[arg(long, env = "PROMPTVAULT_DATABASE")]
    database: Option<String>,
    /// The origin clients sign in login challenges, e.g.
    /// `https://sync.example.org`; default `http://<listen address>`.
    #[arg(long)]
    origin: Option<String>,
    /// Session lifetime in seconds.
    #[arg(long, default_value_t = 3600)]
    session_ttl: i64,
    /// Challenge lifetime in seconds.
    #[arg(long, default_value_t = 60)]
    challenge_ttl: i64,
    /// Failed logins allowed per account per window.
    #[arg(long, default_value_t = 10)]
    max_failed_logins_per_account: i64,
    /// Failed logins allowed per client address per window.
    #[arg(long, default_value_t = 100)]
    max_failed_logins_per_address: i64,
    /// The failed-login window in seconds.
    #[arg(long, default_value_t = 900)]
    failure_window: i64,
    /// Most records a vault may hold.
    #[arg(long, default_value_t = 200_000)]
    quota_records: i64,
    /// Most record bytes a vault may hold.
    #[arg(long, default_value_t = 1 << 30)]
    quota_bytes: i64,
    /// Largest request body in bytes.
    #[arg(long, default_value_t = 64 << 20)]
    max_body: usize,
    /// Most puts and deletes in one commit (or records in a registration).
    #[arg(long, default_value_t = 20_000)]
    max_records_per_commit: usize,
    /// Most record bytes in one pull page.
    #[arg(long, default_value_t = 4 << 20)]
    max_page_bytes: u64,
    /// Tombstones are kept for this many commits; older cursors start over.
    #[arg(long, default_value_t = 10_000)]
    tombstone_retention: i64,
}

/// Settings the handlers read.
#[derive(Debug)]
pub(crate) struct Config {
    pub(crate) origin: String,
    pub(crate) session_ttl_secs: i64,
    pub(crate) challenge_ttl_secs: i64,
    pub(crate) max_failed_logins_per_account: i64,
    pub(crate) max_failed_logins_per_address: i64,
    pub(crate) failure_window_secs: i64,
    pub(crate) quota_records: i64,
    pub(crate) quota_bytes: i64,
    pub(crate) max_record_text: usize,
    pub(crate) max_body: usize,
    pub(crate) max_records_per_commit: usize,
    pub(crate) max_page_bytes: u64,
    pub(crate) max_page_rows: usize,
    pub(crate) tombstone_retention_commits: i64,
    pub(crate) idempotency_retention_secs: i64,
    pub(crate) max_wait_ms: u64,
}

/// Shared by every handler.
#[derive(Clone)]
pub(crate) struct AppState {
    pub(crate) db: db::Db,
    pub(crate) cfg: Arc<Config>,
    /// Keys fake pre-login salts and hashed rate-limit scopes.
    pub(crate) secret: Arc<[u8; 32]>,
    /// Bumped after every accepted commit; wakes long-polls.
    pub(crate) commits: Arc<watch::Sender<u64>>,
    /// Becomes true on shutdown; ends long-polls.
    pub(crate) shutdown: watch::Receiver<bool>,
}

fn router(state: AppState, max_body: usize) -> Router {
    let v1 = Router::new()
        .route("/prelogin", post(api::prelogin))
        .route("/challenge", post(api::challenge))
        .route("/register", post(api::register))
        .route("/login", post(api::login))
        .route("/pull", post(api::pull))
        .route("/commit", post(commit::commit))
        .route("/wait", post(api::wait))
        .route("/account/delete", post(api::delete_account))
        .route("/account/keys", post(keys::rekey))
        .route("/identity/publish", post(sharing::publish_identity))
        .route("/identity/fetch", post(sharing::fetch_identity))
        .route("/inbox", post(sharing::inbox))
        .route("/inbox/send", post(sharing::send_invitation))
        .route("/inbox/delete", post(sharing::delete_invitation))
        .route("/spaces/create", post(spaces::create))
        .route("/spaces/list", post(spaces::list))
        .route("/spaces/delete", post(spaces::delete))
        .route("/spaces/members/add", post(spaces::add_member))
        .route("/spaces/members/remove", post(spaces::remove_member))
        .route("/spaces/session", post(spaces::session));
    Router::new()
        .route("/healthz", get(api::healthz))
        .nest(promptvault::protocol::API_PREFIX, v1)
        .layer(DefaultBodyLimit::max(max_body))
        // Default spans carry method, path and status: never a header,
        // a body or a token.
        .layer(TraceLayer::new_for_http())
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(60),
        ))
        .with_state(state)
}

async fn run(args: Args) -> Result<(), String> {
    let (url, backend) = db::normalise_url(args.database.as_deref())?;
    let db = db::connect(&url, backend)
        .await
        .map_err(|e| format!("cannot open the database: {e}"))?;
    let secret = db.server_secret().await?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", args.listen))?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    let origin = args.origin.unwrap_or_else(|| format!("http://{local}"));
    let max_record_text = 8 * 1024 * 1024 * 4 / 3 + 4096;
    let cfg = Config {
        origin,
        session_ttl_secs: args.session_ttl,
        challenge_ttl_secs: args.challenge_ttl,
        max_failed_logins_per_account: args.max_failed_logins_per_account,
        max_failed_logins_per_address: args.max_failed_logins_per_address,
        failure_window_secs: args.failure_window,
        quota_records: args.quota_records,
        quota_bytes: args.quota_bytes,
        max_record_text,
        max_body: args.max_body,
        max_records_per_commit: args.max_records_per_commit,
        max_page_bytes: args.max_page_bytes,
        max_page_rows: 10_000,
        tombstone_retention_commits: args.tombstone_retention,
        idempotency_retention_secs: 86_400,
        max_wait_ms: 30_000,
    };
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let state = AppState {
        db,
        cfg: Arc::new(cfg),
        secret: Arc::new(secret),
        commits: Arc::new(watch::channel(0).0),
        shutdown: shutdown_rx,
    };
    tracing::info!(%local, ?backend, origin = %state.cfg.origin, "listening");
    // One line on stdout for whoever started us (tests read the port).
    let mut out = std::io::stdout();
    let _ = writeln!(out, "listening on {local}");
    let _ = out.flush();
    let app = router(state, args.max_body);
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        shutdown_signal().await;
        tracing::info!("shutting down");
        let _ = shutdown_tx.send(true);
    })
    .await
    .map_err(|e| e.to_string())
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .init();
    match run(Args::parse()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            std::process::ExitCode::FAILURE
        }
    }
}
