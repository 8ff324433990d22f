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
    missing_docs
)]

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use promptvault::format::text;
use promptvault::protocol::{
    Action, ChallengeResponse, CommitRequest, CommitResponse, KeyKind, LoginKey, LoginParams,
    PullRequest, PullResponse, SessionResponse,
};
use promptvault::sync::{self, Options, SyncError, SyncState, Transport};
use promptvault::{
    Credential, Draft, KdfParams, MemoryStore, Password, PromptId, Timestamp, Vault, VersionId,
};
use serde_json::{Value, json};

const PASSWORD: &str = "load test password, long enough";
const CLIENTS: usize = 20;
const COMMITS: usize = 100;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Backend {
    Sqlite,
    Postgres,
}

struct Server {
    child: Option<Child>,
    database: String,
    port: u16,
    dir: tempfile::TempDir,
}

fn psql(url: &str, sql: &str) {
    let out = Command::new("psql")
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", url, "-c", sql])
        .output()
        .expect("psql");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Server {
    fn start(backend: Backend) -> Option<Server> {
        let dir = tempfile::tempdir().unwrap();
        let database = match backend {
            Backend::Sqlite => format!("sqlite://{}", dir.path().join("server.db").display()),
            Backend::Postgres => {
                let Ok(base) = std::env::var("PV_TEST_POSTGRES_URL") else {
                    assert!(
                        std::env::var_os("CI").is_none()
                            && std::env::var_os("PV_REQUIRE_POSTGRES").is_none(),
                        "PV_TEST_POSTGRES_URL is not set (scripts/pg.sh starts PostgreSQL)"
                    );
                    eprintln!("SKIPPED: PostgreSQL load (PV_TEST_POSTGRES_URL is not set)");
                    return None;
                };
                let name = format!("pvload_{}", std::process::id());
                psql(&base, &format!("CREATE DATABASE {name}"));
                format!("{}/{name}", base.rsplit_once('/').unwrap().0)
            }
        };
        let mut s = Server {
            child: None,
            database,
            port: 0,
            dir,
        };
        s.spawn();
        Some(s)
    }

    fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("server.log"))
            .unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_promptvault-server"))
            .args([
                "--listen",
                &format!("127.0.0.1:{}", self.port),
                "--database",
            ])
            .arg(&self.database)
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let addr = line.trim().strip_prefix("listening on ").unwrap();
        self.port = addr.rsplit_once(':').unwrap().1.parse().unwrap();
        self.child = Some(child);
    }

    /// SIGKILL: no graceful shutdown, no flushing.
    fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            c.kill().unwrap();
            c.wait().unwrap();
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// A blocking HTTP transport that retries while the server is away.
struct Http {
    agent: ureq::Agent,
    url: String,
    token: String,
    login: Arc<LoginKey>,
    account: String,
}

fn post(agent: &ureq::Agent, url: &str, token: Option<&str>, body: &Value) -> (u16, Value) {
    for _ in 0..600 {
        let mut req = agent.post(url);
        if let Some(t) = token {
            req = req.header("Authorization", format!("Bearer {t}"));
        }
        match req.send_json(body) {
            Ok(mut r) => {
                let status = r.status().as_u16();
                if status >= 500 {
                    std::thread::sleep(Duration::from_millis(50));
                    continue;
                }
                let v = r
                    .body_mut()
                    .with_config()
                    .limit(1 << 30)
                    .read_json::<Value>()
                    .unwrap_or(Value::Null);
                return (status, v);
            }
            Err(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    }
    panic!("the server did not come back within 30 s");
}

impl Http {
    fn login(&mut self) {
        let origin = self.url.clone();
        let (_, c) = post(
            &self.agent,
            &format!("{origin}/v1/challenge"),
            None,
            &json!({"account": self.account, "action": "login"}),
        );
        let c: ChallengeResponse = serde_json::from_value(c).unwrap();
        let ch = promptvault::protocol::decode_fixed::<32>(&c.challenge).unwrap();
        let sig = self
            .login
            .sign_challenge(&ch, Action::Login, &origin, &self.account)
            .unwrap();
        let (status, s) = post(
            &self.agent,
            &format!("{origin}/v1/login"),
            None,
            &json!({"account": self.account, "key": KeyKind::Password, "challenge": c.challenge, "signature": text::encode(&sig)}),
        );
        assert_eq!(status, 200, "{s}");
        let s: SessionResponse = serde_json::from_value(s).unwrap();
        self.token = s.token;
    }

    fn call(&mut self, path: &str, body: &Value) -> Result<Value, SyncError> {
        loop {
            let url = format!("{}/v1/{path}", self.url);
            let (status, v) = post(&self.agent, &url, Some(&self.token), body);
            match status {
                200 => return Ok(v),
                409 if v["status"] == "conflict" => return Ok(v),
                401 => self.login(),
                _ => {
                    return Err(SyncError::Refused {
                        status,
                        code: v["error"]["code"].as_str().unwrap_or("").into(),
                        message: v.to_string(),
                    });
                }
            }
        }
    }
}

impl Transport for Http {
    fn pull(&mut self, r: &PullRequest) -> Result<PullResponse, SyncError> {
        let v = self.call("pull", &serde_json::to_value(r).unwrap())?;
        Ok(serde_json::from_value(v).unwrap())
    }
    fn commit(&mut self, r: &CommitRequest) -> Result<CommitResponse, SyncError> {
        let v = self.call("commit", &serde_json::to_value(r).unwrap())?;
        Ok(serde_json::from_value(v).unwrap())
    }
}

fn draft(title: &str, body: &str) -> Draft {
    Draft {
        title: title.into(),
        body: body.into(),
        settings: None,
        note: String::new(),
    }
}

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
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into();
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
    // Register with the password key only, then push with the engine.
    let header = store.header_record().unwrap().clone();
    let params = LoginParams::from_header(header.as_bytes()).unwrap();
    let key = Arc::new(LoginKey::derive_from_password(&pw, &params).unwrap());
    let (_, c) = post(
        &agent,
        &format!("{url}/v1/challenge"),
        None,
        &json!({"account": "load", "action": "register"}),
    );
    let c: ChallengeResponse = serde_json::from_value(c).unwrap();
    let ch = promptvault::protocol::decode_fixed::<32>(&c.challenge).unwrap();
    let sig = key
        .sign_challenge(&ch, Action::Register, &url, "load")
        .unwrap();
    let (status, s) = post(
        &agent,
        &format!("{url}/v1/register"),
        None,
        &json!({"account": "load", "challenge": c.challenge,
                "passwordKey": text::encode(&key.public_key()),
                "passwordSignature": text::encode(&sig),
                "header": header.to_text(), "records": []}),
    );
    assert_eq!(status, 200, "{s}");
    let token = serde_json::from_value::<SessionResponse>(s).unwrap().token;
    let mut first = Client {
        vault,
        store,
        state: SyncState::new(),
        http: Http {
            agent: agent.clone(),
            url: url.clone(),
            token,
            login: key.clone(),
            account: "load".into(),
        },
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
                    let out = Command::new("sh")
                        .args(["-c", &format!("{ctl} restart")])
                        .output()
                        .unwrap();
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
