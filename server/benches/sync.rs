//! Sync over loopback against the real server binary (issue 17, item 7),
//! each figure next to its anchor from the same run:
//!
//! 1. the first sync of a 10 000-prompt vault (upload from the device that
//!    has it, then the download on a new device), against the 2 s goal;
//! 2. one edit pushed by one client and seen by a second client waiting in
//!    a long-poll (`/v1/wait`, then pull and merge), against the 50 ms goal;
//! 3. the server's commit throughput (one edit per commit, built by the
//!    engine; timed from sending the commit to its answer) ÷ raw sqlx
//!    inserts of the same rows, one transaction per commit, into the same
//!    database with the server's settings (SQLite: WAL,
//!    `synchronous = FULL`).
//!
//! `cargo bench -p promptvault-server --bench sync` (SQLite); with
//! `PV_TEST_POSTGRES_URL` set, case 3 also runs on PostgreSQL.
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

use std::str::FromStr as _;
use std::time::{Duration, Instant};

use client::{Backend, Http, Server, draft};
use promptvault::protocol::{CommitResponse, WaitRequest, WaitResponse};
use promptvault::sync::{self, Options, SyncState, Transport as _};
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

fn throughput(server: &Server, backend: Backend) {
    let (vault, store, ids) = new_vault(10);
    let pw = Password::new(PASSWORD).unwrap();
    let http = client::register(&server.url(), "tput", &store, &pw);
    let mut a = Device {
        vault,
        store,
        state: SyncState::new(),
        http,
    };
    a.sync();
    let commits = 300;
    let mut rows: Vec<Vec<(String, String)>> = Vec::with_capacity(commits);
    let mut server_time = Duration::ZERO;
    for i in 0..commits {
        let (_, c) = a
            .vault
            .add_version(
                ids[i % ids.len()],
                &draft("t", &format!("edit {i}")),
                Timestamp(10 + i as u64),
            )
            .unwrap();
        rows.push(
            c.puts
                .iter()
                .map(|r| (r.storage_key(), r.to_text()))
                .collect(),
        );
        a.store.apply(&c);
        // The engine builds the commit; only the server's part is timed:
        // the request over loopback, its checks, the compare-and-swap and
        // the insert, and the answer.
        let prepared = a.state.prepare_commit(&a.vault, &a.store).unwrap().unwrap();
        let t = Instant::now();
        let answer = a.http.commit(&prepared.request).unwrap();
        server_time += t.elapsed();
        let CommitResponse::Accepted { cursor } = answer else {
            panic!("a lone client met a conflict")
        };
        a.state.committed(prepared, cursor);
    }
    // The anchor: the same rows, one transaction per commit, raw sqlx.
    let raw = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            sqlx::any::install_default_drivers();
            let opts = sqlx::any::AnyConnectOptions::from_str(&server.database).unwrap();
            let pool = AnyPoolOptions::new()
                .max_connections(1)
                .after_connect(move |conn: &mut AnyConnection, _| {
                    Box::pin(async move {
                        if backend == Backend::Sqlite {
                            conn.execute("PRAGMA journal_mode = WAL").await?;
                            conn.execute("PRAGMA synchronous = FULL").await?;
                        }
                        Ok(())
                    })
                })
                .connect_with(opts)
                .await
                .unwrap();
            pool.execute(
                "CREATE TABLE anchor (vault_id TEXT NOT NULL, storage_key TEXT NOT NULL, seq BIGINT NOT NULL, body TEXT, PRIMARY KEY (vault_id, storage_key))",
            )
            .await
            .unwrap();
            let mut conn = pool.acquire().await.unwrap();
            let t = Instant::now();
            for (seq, commit) in rows.iter().enumerate() {
                let mut tx = conn.begin().await.unwrap();
                for (key, body) in commit {
                    sqlx::query(
                        "INSERT INTO anchor (vault_id, storage_key, seq, body) VALUES ($1, $2, $3, $4) \
                         ON CONFLICT (vault_id, storage_key) DO UPDATE SET seq = excluded.seq, body = excluded.body",
                    )
                    .bind("anchor")
                    .bind(key)
                    .bind(seq as i64)
                    .bind(body)
                    .execute(&mut *tx)
                    .await
                    .unwrap();
                }
                tx.commit().await.unwrap();
            }
            t.elapsed()
        });
    let server_rate = commits as f64 / server_time.as_secs_f64();
    let raw_rate = commits as f64 / raw.as_secs_f64();
    println!(
        "commit throughput [{backend:?}]: {server_rate:.0} commits/s through the server (HTTP on loopback, checks, compare-and-swap, insert) vs {raw_rate:.0}/s raw sqlx inserts of the same rows: ratio {:.2} (goal >= 0.5)",
        server_rate / raw_rate
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
    if std::env::var_os("PV_TPUT_ONLY").is_none() {
        first_sync(&server);
        long_poll(&server);
    }
    {
        let agent = ureq::Agent::new_with_defaults();
        let url = format!("{}/healthz", server.url());
        for _ in 0..50 {
            agent.get(&url).call().unwrap();
        }
        let t = Instant::now();
        for _ in 0..500 {
            agent.get(&url).call().unwrap();
        }
        println!("healthz: {:?} per call", t.elapsed() / 500);
    }
    throughput(&server, Backend::Sqlite);
    if let Some(pg) = Server::start(Backend::Postgres) {
        throughput(&pg, Backend::Postgres);
    }
}
