//! Load and faults (issue 17, items 2 and 3): 20 clients, each with its own
//! vault copy, store and sync state, make 100 commits each through the
//! core's sync engine against the real server binary, mixing edits of
//! three shared prompts with prompts of their own. Mid-load the server is
//! killed with SIGKILL and restarted (SQLite), or PostgreSQL is restarted
//! under it. Every client must converge to the same state with every
//! version any client wrote, none twice.
//!
//! Throughput and latency are printed (BENCHMARKS.md), never asserted.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::print_stdout,
    missing_docs
)]

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use promptvault::sync::{self, Options, SyncError, SyncState};
use promptvault::{
    Credential, KdfParams, MemoryStore, Password, PromptId, Timestamp, Vault, VersionId,
};

const PASSWORD: &str = "load test password, long enough";
const CLIENTS: usize = 20;
const COMMITS: usize = 100;

#[path = "support/client.rs"]
mod client;

use client::{Backend, Http, Server, draft};

/// One client: a device with its own copy of the vault.
struct Client {
    vault: Vault,
    store: MemoryStore,
    state: SyncState,
    http: Http,
}

impl Client {
    fn sync(&mut self) -> sync::SyncReport {
        loop {
            match sync::run(
                &mut self.vault,
                &mut self.store,
                &mut self.state,
                &mut self.http,
                Options::default(),
            ) {
                Ok(r) => return r,
                Err(SyncError::Contention { .. }) => {}
                Err(e) => panic!("sync failed: {e}"),
            }
        }
    }
}

fn history(v: &Vault) -> BTreeMap<PromptId, Vec<VersionId>> {
    v.prompt_ids()
        .into_iter()
        .map(|p| (p, v.history(p).unwrap().into_iter().map(|e| e.id).collect()))
        .collect()
}

fn load(backend: Backend) {
    let Some(mut server) = Server::start(backend) else {
        return;
    };
    let url = server.url();
    let pw = Password::new(PASSWORD).unwrap();
    let kdf = KdfParams::new(KdfParams::MIN_M_COST_KIB, 1, 1).unwrap();
    let nv = Vault::create(&pw, kdf).unwrap();
    let mut vault = nv.vault;
    let mut store = MemoryStore::new();
    store.apply(&nv.changes);
    let mut shared = Vec::new();
    for i in 0..3 {
        let (id, c) = vault
            .create_prompt(
                &draft(&format!("shared {i}"), "v0"),
                &[],
                false,
                Timestamp(1),
            )
            .unwrap();
        store.apply(&c);
        shared.push(id);
    }
    let http = client::register(&url, "load", &store, &pw);
    let key = http.login.clone();
    let agent = http.agent.clone();
    let mut first = Client {
        vault,
        store,
        state: SyncState::new(),
        http,
    };
    first.sync();
    let bundle = first.store.to_bundle().unwrap();
    let state = first.state.clone();

    // Every client starts from that synced copy (as after a download).
    let mut clients: Vec<Client> = (0..CLIENTS)
        .map(|_| {
            let store = MemoryStore::from_bundle(&bundle).unwrap();
            let vault = Vault::open(
                store.header().unwrap(),
                store.record_bytes(),
                Credential::Password(&pw),
            )
            .unwrap();
            Client {
                vault,
                store,
                state: state.clone(),
                http: Http {
                    agent: agent.clone(),
                    url: url.clone(),
                    token: first.http.token.clone(),
                    login: key.clone(),
                    account: "load".into(),
                },
            }
        })
        .collect();

    let done = Arc::new(AtomicUsize::new(0));
    let start = Barrier::new(CLIENTS + 1);
    let t0 = Instant::now();
    let results: Vec<(Client, BTreeSet<VersionId>, Vec<Duration>, u32)> =
        std::thread::scope(|scope| {
            let handles: Vec<_> = clients
                .drain(..)
                .enumerate()
                .map(|(n, mut c)| {
                    let done = done.clone();
                    let shared = shared.clone();
                    let start = &start;
                    scope.spawn(move || {
                        start.wait();
                        let mut written = BTreeSet::new();
                        let mut latencies = Vec::new();
                        let mut own: Option<PromptId> = None;
                        let mut conflicts = 0;
                        for i in 0..COMMITS {
                            let now = Timestamp(1_000 + (n * COMMITS + i) as u64);
                            let body = format!("client {n} commit {i}");
                            let changes = match (i % 4, own) {
                                (0, None) => {
                                    let (id, ch) = c
                                        .vault
                                        .create_prompt(
                                            &draft(&format!("own {n}"), &body),
                                            &[],
                                            false,
                                            now,
                                        )
                                        .unwrap();
                                    own = Some(id);
                                    ch
                                }
                                (0, Some(id)) => {
                                    c.vault
                                        .add_version(id, &draft("own", &body), now)
                                        .unwrap()
                                        .1
                                }
                                _ => {
                                    let id = shared[(n + i) % shared.len()];
                                    c.vault
                                        .add_version(id, &draft("shared", &body), now)
                                        .unwrap()
                                        .1
                                }
                            };
                            for r in &changes.puts {
                                if let Some(v) = r.header().version_id() {
                                    written.insert(v);
                                }
                            }
                            c.store.apply(&changes);
                            let t = Instant::now();
                            let r = c.sync();
                            latencies.push(t.elapsed());
                            conflicts += r.conflicts;
                            done.fetch_add(1, Ordering::Relaxed);
                        }
                        (c, written, latencies, conflicts)
                    })
                })
                .collect();
            start.wait();
            // The fault, a third of the way in.
            while done.load(Ordering::Relaxed) < CLIENTS * COMMITS / 3 {
                std::thread::sleep(Duration::from_millis(5));
            }
            match backend {
                Backend::Sqlite => {
                    server.kill9();
                    std::thread::sleep(Duration::from_millis(300));
                    server.spawn();
                    eprintln!("load: killed the server with SIGKILL and restarted it");
                }
                Backend::Postgres => {
                    let ctl = std::env::var("PV_TEST_POSTGRES_CTL")
                        .expect("PV_TEST_POSTGRES_CTL (scripts/pg.sh) restarts PostgreSQL");
                    let out = Command::new("sh").args(["-c", &ctl]).output().unwrap();
                    assert!(
                        out.status.success(),
                        "{}",
                        String::from_utf8_lossy(&out.stderr)
                    );
                    eprintln!("load: restarted PostgreSQL under the server");
                }
            }
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
    let elapsed = t0.elapsed();

    // Converge: two more rounds for everyone.
    let mut clients: Vec<Client> = Vec::new();
    let mut written = BTreeSet::new();
    let mut latencies = Vec::new();
    let mut conflicts = 0;
    for (c, w, l, k) in results {
        written.extend(w);
        latencies.extend(l);
        conflicts += k;
        clients.push(c);
    }
    for _ in 0..2 {
        for c in &mut clients {
            c.sync();
        }
    }
    let expected = history(&clients[0].vault);
    let all: BTreeSet<VersionId> = expected.values().flatten().copied().collect();
    let total: usize = expected.values().map(Vec::len).sum();
    assert_eq!(total, all.len(), "a version appears twice");
    for v in &written {
        assert!(all.contains(v), "version {v:?} was lost");
    }
    for c in &clients {
        assert_eq!(history(&c.vault), expected);
        assert_eq!(
            c.vault.list(&promptvault::Query::default()).unwrap().len(),
            expected.len()
        );
    }
    latencies.sort();
    let pct = |p: usize| latencies[(latencies.len() * p / 100).min(latencies.len() - 1)];
    println!(
        "load[{backend:?}]: {} clients x {} commits in {:.1} s = {:.0} commits/s; sync latency p50 {:.1} ms, p99 {:.1} ms; {} conflicts retried; {} versions, 0 lost, 0 duplicated",
        CLIENTS,
        COMMITS,
        elapsed.as_secs_f64(),
        (CLIENTS * COMMITS) as f64 / elapsed.as_secs_f64(),
        pct(50).as_secs_f64() * 1e3,
        pct(99).as_secs_f64() * 1e3,
        conflicts,
        all.len()
    );
}

// Minutes in a debug build under coverage: `scripts/test-benches.sh` runs
// both in release with `--ignored`, and prints the figures.
#[test]
#[ignore = "load test: run by scripts/test-benches.sh in release"]
fn twenty_clients_converge_through_a_sigkill_on_sqlite() {
    load(Backend::Sqlite);
}

#[test]
#[ignore = "load test: run by scripts/test-benches.sh in release"]
fn twenty_clients_converge_through_a_postgres_restart() {
    load(Backend::Postgres);
}
