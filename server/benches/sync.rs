//! Sync over loopback against the real server binary (issue 17, item 7),
//! each figure next to its anchor from the same run:
//!
//! 1. the first sync of a 10 000-prompt vault (upload from the device that
//!    has it, then the download on a new device), against the 2 s goal;
//! 2. one edit pushed by one client and seen by a second client waiting in
//!    a long-poll (`/v1/wait`, then pull and merge), against the 50 ms goal;
//! 3. the server's commit throughput ÷ raw sqlx inserts of the same rows,
//!    one transaction per commit, into the same database with the server's
//!    connection settings (SQLite: WAL, `synchronous = FULL`,
//!    `secure_delete`, busy timeout): one edit per commit (its metadata
//!    and version records), the commits built before the clock starts.
//!    Measured twice: four clients at once, each on its own vault, against
//!    four connections inserting at once (throughput: what a server
//!    serving many users sustains); and one client alone, one commit after
//!    another, against one connection (latency-bound: every commit also
//!    pays an HTTP exchange on loopback, whose floor is printed).
//!
//! `cargo bench -p promptvault-server --bench sync` (SQLite); with
//! `PV_TEST_POSTGRES_URL` set, case 3 also runs on PostgreSQL;
//! `PV_BENCH_THROUGHPUT_ONLY=1` runs case 3 alone.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::print_stdout,
    missing_docs
)]

#[path = "../tests/support/client.rs"]
mod client;

use std::collections::HashMap;
use std::str::FromStr as _;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use client::{Backend, Http, Server, draft};
use promptvault::protocol::{CommitRequest, CommitResponse, WaitRequest, WaitResponse};
use promptvault::sync::{self, Options, SyncState};
use promptvault::{Credential, KdfParams, MemoryStore, Password, PromptId, Timestamp, Vault};
use sqlx::any::AnyPoolOptions;
use sqlx::{AnyConnection, Connection as _, Executor as _};

const PASSWORD: &str = "bench password, long enough";

struct Device {
    vault: Vault,
    store: MemoryStore,
    state: SyncState,
    http: Http,
}

impl Device {
    fn sync(&mut self) -> sync::SyncReport {
        sync::run(
            &mut self.vault,
            &mut self.store,
            &mut self.state,
            &mut self.http,
            Options::default(),
        )
        .unwrap()
    }
}

fn new_vault(prompts: usize) -> (Vault, MemoryStore, Vec<PromptId>) {
    let pw = Password::new(PASSWORD).unwrap();
    let kdf = KdfParams::new(KdfParams::MIN_M_COST_KIB, 1, 1).unwrap();
    let nv = Vault::create(&pw, kdf).unwrap();
    let mut vault = nv.vault;
    let mut store = MemoryStore::new();
    store.apply(&nv.changes);
    let mut ids = Vec::with_capacity(prompts);
    for i in 0..prompts {
        let body = format!(
            "prompt {i}: a cinematic wide shot, golden hour, {}",
            "detail ".repeat(20)
        );
        let (id, c) = vault
            .create_prompt(
                &draft(&format!("prompt {i}"), &body),
                &[],
                false,
                Timestamp(1),
            )
            .unwrap();
        store.apply(&c);
        ids.push(id);
    }
    (vault, store, ids)
}

/// A second device: a copy of `from`'s synced store and state.
fn copy(from: &Device) -> Device {
    let pw = Password::new(PASSWORD).unwrap();
    let store = MemoryStore::from_bundle(&from.store.to_bundle().unwrap()).unwrap();
    let vault = Vault::open(
        store.header().unwrap(),
        store.record_bytes(),
        Credential::Password(&pw),
    )
    .unwrap();
    Device {
        vault,
        store,
        state: from.state.clone(),
        http: Http {
            agent: from.http.agent.clone(),
            url: from.http.url.clone(),
            token: from.http.token.clone(),
            login: from.http.login.clone(),
            account: from.http.account.clone(),
        },
    }
}

fn first_sync(server: &Server) {
    let (vault, store, _) = new_vault(10_000);
    let records = store.len();
    let pw = Password::new(PASSWORD).unwrap();
    let http = client::register(&server.url(), "big", &store, &pw);
    let mut a = Device {
        vault,
        store,
        state: SyncState::new(),
        http,
    };
    let t = Instant::now();
    let r = a.sync();
    let up = t.elapsed();
    println!(
        "first sync, 10 000 prompts ({records} records, {} commits): upload {:.2} s ({:.2} of the 2 s goal)",
        r.commits,
        up.as_secs_f64(),
        up.as_secs_f64() / 2.0
    );

    // A new device: pull everything, open the header, merge.
    let t = Instant::now();
    let mut state = SyncState::new();
    let inbox = sync::pull(
        &mut a.http,
        state.begin_download(a.vault.id()).unwrap(),
        Options::default(),
    )
    .unwrap();
    let header = inbox.header().unwrap().clone();
    let mut vault = Vault::open(
        header.as_bytes(),
        Vec::<&[u8]>::new(),
        Credential::Password(&pw),
    )
    .unwrap();
    let mut store = MemoryStore::new();
    store.put_header(header);
    let done = state.integrate(&mut vault, &mut store, &inbox).unwrap();
    let down = t.elapsed();
    assert_eq!(done.prompts_added, 10_000);
    println!(
        "first sync, 10 000 prompts on a new device: download {:.2} s ({:.2} of the 2 s goal)",
        down.as_secs_f64(),
        down.as_secs_f64() / 2.0
    );
}

fn long_poll(server: &Server) {
    let (vault, store, ids) = new_vault(20);
    let pw = Password::new(PASSWORD).unwrap();
    let http = client::register(&server.url(), "poll", &store, &pw);
    let mut a = Device {
        vault,
        store,
        state: SyncState::new(),
        http,
    };
    a.sync();
    let mut b = copy(&a);
    b.sync();
    a.sync();
    let (tx, rx) = std::sync::mpsc::channel::<Instant>();
    let samples = 40;
    let waiter = std::thread::spawn(move || {
        for _ in 0..samples {
            loop {
                let v = b
                    .http
                    .call(
                        "wait",
                        &serde_json::to_value(WaitRequest {
                            after: b.state.cursor(),
                            timeout_ms: 10_000,
                        })
                        .unwrap(),
                    )
                    .unwrap();
                let w: WaitResponse = serde_json::from_value(v).unwrap();
                if w.changed {
                    break;
                }
            }
            b.sync();
            tx.send(Instant::now()).unwrap();
        }
    });
    let mut lat = Vec::new();
    for i in 0..samples {
        std::thread::sleep(Duration::from_millis(20));
        while rx.try_recv().is_ok() {}
        let t = Instant::now();
        let (_, c) = a
            .vault
            .add_version(
                ids[i % ids.len()],
                &draft("edited", &format!("edit {i}")),
                Timestamp(10 + i as u64),
            )
            .unwrap();
        a.store.apply(&c);
        a.sync();
        let seen = rx.recv().unwrap();
        lat.push(seen - t);
    }
    waiter.join().unwrap();
    lat.sort();
    let p50 = lat[lat.len() / 2].as_secs_f64() * 1e3;
    let p99 = lat[lat.len() - 1].as_secs_f64() * 1e3;
    println!(
        "edit pushed by A, seen by long-polling B: p50 {p50:.1} ms ({:.2} of the 50 ms goal), max {p99:.1} ms over {samples}",
        p50 / 50.0
    );
}

/// One client's scripted commits: an account and vault of its own, synced,
/// then `commits` edits built as requests before the clock starts. Alone on
/// its vault, the client knows the cursor each commit will get, so the
/// `seen` of every key is known in advance (the timed run asserts it).
struct Script {
    http: Http,
    /// The commits' JSON bodies, serialised before the clock starts (the
    /// client's serialisation is not the server's throughput).
    bodies: Vec<String>,
    /// The same records as (storage key, text), commit by commit.
    rows: Vec<Vec<(String, String)>>,
    first_cursor: u64,
}

fn script(server: &Server, account: &str, commits: usize) -> Script {
    let (vault, store, ids) = new_vault(10);
    let pw = Password::new(PASSWORD).unwrap();
    let http = client::register(&server.url(), account, &store, &pw);
    let mut a = Device {
        vault,
        store,
        state: SyncState::new(),
        http,
    };
    a.sync();
    let mut seen: HashMap<String, u64> = HashMap::new();
    let first_cursor = a.state.cursor() + 1;
    let mut bodies = Vec::with_capacity(commits);
    let mut rows = Vec::with_capacity(commits);
    for (i, next) in (first_cursor..).take(commits).enumerate() {
        let prompt = ids[i % ids.len()];
        let (_, c) = a
            .vault
            .add_version(
                prompt,
                &draft("t", &format!("edit {i}")),
                Timestamp(10 + i as u64),
            )
            .unwrap();
        a.store.apply(&c);
        // The first edit of each prompt: its metadata's `seq` comes from
        // the engine's state (via a real prepare); later ones are known.
        let req = if i < ids.len() {
            let prepared = a.state.prepare_commit(&a.vault, &a.store).unwrap().unwrap();
            let req = prepared.request.clone();
            a.state.committed(prepared, next);
            req
        } else {
            CommitRequest::from_changeset(client::new_key(), &c, |k| {
                seen.get(k).copied().unwrap_or(0)
            })
        };
        for r in &c.puts {
            seen.insert(r.storage_key(), next);
        }
        rows.push(
            c.puts
                .iter()
                .map(|r| (r.storage_key(), r.to_text()))
                .collect(),
        );
        bodies.push(serde_json::to_string(&req).unwrap());
    }
    Script {
        http: a.http,
        bodies,
        rows,
        first_cursor,
    }
}

/// Sends every client's commits, each client on its own thread, all
/// starting together; the wall time until the last answer.
fn run_scripts(scripts: Vec<Script>) -> Duration {
    let start = Arc::new(Barrier::new(scripts.len() + 1));
    let threads: Vec<_> = scripts
        .into_iter()
        .map(|s| {
            let start = Arc::clone(&start);
            std::thread::spawn(move || {
                let url = format!("{}/v1/commit", s.http.url);
                let auth = format!("Bearer {}", s.http.token);
                start.wait();
                for (i, body) in s.bodies.iter().enumerate() {
                    let mut r = s
                        .http
                        .agent
                        .post(&url)
                        .header("Authorization", &auth)
                        .header("Content-Type", "application/json")
                        .send(body.as_str())
                        .unwrap();
                    let answer: CommitResponse = r.body_mut().read_json().unwrap();
                    assert_eq!(
                        answer,
                        CommitResponse::Accepted {
                            cursor: s.first_cursor + i as u64
                        },
                        "a lone client's commit"
                    );
                }
            })
        })
        .collect();
    start.wait();
    let t = Instant::now();
    for th in threads {
        th.join().unwrap();
    }
    t.elapsed()
}

/// Raw sqlx: each connection inserts its client's rows, one transaction
/// per commit (`BEGIN IMMEDIATE` on SQLite, as the server, so concurrent
/// writers wait instead of failing), with the server's connection
/// settings; the wall time until the last commit.
fn anchor(
    server: &Server,
    backend: Backend,
    table: &str,
    rows: Vec<Vec<Vec<(String, String)>>>,
) -> Duration {
    // One thread drives every connection (SQLite's work runs on its own
    // worker threads): raw sqlx at its cheapest.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let database = server.database.clone();
    let table = table.to_owned();
    rt.block_on(async move {
        sqlx::any::install_default_drivers();
        let opts = sqlx::any::AnyConnectOptions::from_str(&database).unwrap();
        let pool = AnyPoolOptions::new()
            .max_connections(u32::try_from(rows.len()).unwrap())
            .after_connect(move |conn: &mut AnyConnection, _| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        conn.execute("PRAGMA journal_mode = WAL").await?;
                        conn.execute("PRAGMA synchronous = FULL").await?;
                        conn.execute("PRAGMA busy_timeout = 10000").await?;
                        conn.execute("PRAGMA secure_delete = ON").await?;
                    }
                    Ok(())
                })
            })
            .connect_with(opts)
            .await
            .unwrap();
        pool.execute(
            format!(
                "CREATE TABLE {table} (vault_id TEXT NOT NULL, storage_key TEXT NOT NULL, seq BIGINT NOT NULL, body TEXT, PRIMARY KEY (vault_id, storage_key))"
            )
            .as_str(),
        )
        .await
        .unwrap();
        let sql = format!(
            "INSERT INTO {table} (vault_id, storage_key, seq, body) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (vault_id, storage_key) DO UPDATE SET seq = excluded.seq, body = excluded.body"
        );
        let start = Arc::new(tokio::sync::Barrier::new(rows.len() + 1));
        let mut tasks = Vec::new();
        for (client, commits) in rows.into_iter().enumerate() {
            let pool = pool.clone();
            let sql = sql.clone();
            let start = Arc::clone(&start);
            tasks.push(tokio::spawn(async move {
                let vault = format!("anchor-{client}");
                // Its own connection for the whole run: no pool hand-off
                // per commit, which the server pays and the anchor need not.
                let mut conn = pool.acquire().await.unwrap();
                start.wait().await;
                for (seq, commit) in commits.iter().enumerate() {
                    let mut tx = match backend {
                        Backend::Sqlite => conn.begin_with("BEGIN IMMEDIATE").await.unwrap(),
                        Backend::Postgres => conn.begin().await.unwrap(),
                    };
                    for (key, body) in commit {
                        sqlx::query(&sql)
                            .bind(&vault)
                            .bind(key)
                            .bind(seq as i64)
                            .bind(body)
                            .execute(&mut *tx)
                            .await
                            .unwrap();
                    }
                    tx.commit().await.unwrap();
                }
            }));
        }
        start.wait().await;
        let t = Instant::now();
        for task in tasks {
            task.await.unwrap();
        }
        t.elapsed()
    })
}

/// The floor of one HTTP exchange on loopback with the same client: a
/// `GET /healthz`, median of 200.
fn http_floor(server: &Server) -> Duration {
    let agent = ureq::Agent::new_with_defaults();
    let url = format!("{}/healthz", server.url());
    let mut times: Vec<Duration> = (0..220)
        .map(|_| {
            let t = Instant::now();
            agent.get(&url).call().unwrap();
            t.elapsed()
        })
        .skip(20)
        .collect();
    times.sort();
    times[times.len() / 2]
}

/// One round: `clients` fresh clients send `commits` commits each, all at
/// once; then raw sqlx inserts the same rows with as many connections.
/// Returns (server commits/s, raw commits/s).
fn round(
    server: &Server,
    backend: Backend,
    clients: usize,
    commits: usize,
    n: usize,
) -> (f64, f64) {
    let scripts: Vec<Script> = (0..clients)
        .map(|c| script(server, &format!("tput{n}-{c}"), commits))
        .collect();
    let rows: Vec<_> = scripts.iter().map(|s| s.rows.clone()).collect();
    let total = (clients * commits) as f64;
    let served = run_scripts(scripts);
    let raw = anchor(server, backend, &format!("anchor_{n}"), rows);
    (total / served.as_secs_f64(), total / raw.as_secs_f64())
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Seven interleaved rounds (server, then anchor), the median of each
/// figure and of the per-round ratios: the machine is shared and noisy.
fn throughput(server: &Server, backend: Backend) {
    const ROUNDS: usize = 7;
    for (clients, commits) in [(4, 60), (1, 120)] {
        let mut figures = Vec::with_capacity(ROUNDS);
        for n in 0..ROUNDS {
            figures.push(round(server, backend, clients, commits, clients * 100 + n));
        }
        let ratios: Vec<f64> = figures.iter().map(|(s, r)| s / r).collect();
        let (lo, hi) = (
            ratios.iter().copied().fold(f64::INFINITY, f64::min),
            ratios.iter().copied().fold(0.0, f64::max),
        );
        let ours = median(figures.iter().map(|f| f.0).collect());
        let raw = median(figures.iter().map(|f| f.1).collect());
        let what = if clients == 1 {
            "one client, one commit after another (latency-bound)"
        } else {
            "clients at once, each on its own vault (throughput)"
        };
        println!(
            "commit throughput [{backend:?}], {clients} {what}: {ours:.0} commits/s through the server (HTTP on loopback, checks, compare-and-swap, writes) vs {raw:.0}/s raw sqlx inserts of the same rows on {clients} connection(s): ratio {:.2} (median of {ROUNDS} rounds, {lo:.2}–{hi:.2}; goal >= 0.5)",
            median(ratios)
        );
    }
    println!(
        "one HTTP exchange on loopback ({backend:?} server, GET /healthz, median): {:.0} µs",
        http_floor(server).as_secs_f64() * 1e6
    );
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` runs a smoke.
    let smoke = !std::env::args().any(|a| a == "--bench");
    let server = Server::start(Backend::Sqlite).unwrap();
    if smoke {
        long_poll(&server);
        println!("sync bench: smoke run only (pass --bench for the figures)");
        return;
    }
    if std::env::var_os("PV_BENCH_THROUGHPUT_ONLY").is_none() {
        first_sync(&server);
        long_poll(&server);
    }
    throughput(&server, Backend::Sqlite);
    if let Some(pg) = Server::start(Backend::Postgres) {
        throughput(&pg, Backend::Postgres);
    }
}
