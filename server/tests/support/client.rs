//! A client of the real server binary for the load test and the sync
//! bench: the server process, and a blocking HTTP transport for the core's
//! sync engine that retries while the server is away.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs,
    unreachable_pub
)]

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use promptvault::format::text;
use promptvault::protocol::{
    Action, ChallengeResponse, CommitRequest, CommitResponse, KeyKind, LoginKey, LoginParams,
    PullRequest, PullResponse, SessionResponse,
};
use promptvault::sync::{SyncError, Transport};
use promptvault::{Draft, MemoryStore, Password};
use serde_json::{Value, json};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub struct Server {
    child: Option<Child>,
    pub database: String,
    port: u16,
    pub dir: tempfile::TempDir,
}

pub fn psql(url: &str, sql: &str) {
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
    pub fn start(backend: Backend) -> Option<Server> {
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
                let name = format!("pvtest_{}_{}", std::process::id(), unique());
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

    pub fn spawn(&mut self) {
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
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            c.kill().unwrap();
            c.wait().unwrap();
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// A blocking HTTP transport that retries while the server is away.
pub struct Http {
    pub agent: ureq::Agent,
    pub url: String,
    pub token: String,
    pub login: Arc<LoginKey>,
    pub account: String,
}

pub fn post(agent: &ureq::Agent, url: &str, token: Option<&str>, body: &Value) -> (u16, Value) {
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
    pub fn login(&mut self) {
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

    pub fn call(&mut self, path: &str, body: &Value) -> Result<Value, SyncError> {
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
    fn conflicted(&mut self, attempt: u32) {
        std::thread::sleep(jitter(attempt));
    }

    fn pull(&mut self, r: &PullRequest) -> Result<PullResponse, SyncError> {
        let v = self.call("pull", &serde_json::to_value(r).unwrap())?;
        Ok(serde_json::from_value(v).unwrap())
    }
    fn commit(&mut self, r: &CommitRequest) -> Result<CommitResponse, SyncError> {
        let v = self.call("commit", &serde_json::to_value(r).unwrap())?;
        Ok(serde_json::from_value(v).unwrap())
    }
}

/// Registers `store`'s vault as `account` with the password login key
/// only; returns a transport logged in as that account.
pub fn register(url: &str, account: &str, store: &MemoryStore, pw: &Password) -> Http {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into();
    let header = store.header_record().unwrap().clone();
    let params = LoginParams::from_header(header.as_bytes()).unwrap();
    let key = Arc::new(LoginKey::derive_from_password(pw, &params).unwrap());
    let (_, c) = post(
        &agent,
        &format!("{url}/v1/challenge"),
        None,
        &json!({"account": account, "action": "register"}),
    );
    let c: ChallengeResponse = serde_json::from_value(c).unwrap();
    let ch = promptvault::protocol::decode_fixed::<32>(&c.challenge).unwrap();
    let sig = key
        .sign_challenge(&ch, Action::Register, url, account)
        .unwrap();
    let (status, s) = post(
        &agent,
        &format!("{url}/v1/register"),
        None,
        &json!({"account": account, "challenge": c.challenge,
                "passwordKey": text::encode(&key.public_key()),
                "passwordSignature": text::encode(&sig),
                "header": header.to_text(), "records": []}),
    );
    assert_eq!(status, 200, "{s}");
    Http {
        agent,
        url: url.to_owned(),
        token: serde_json::from_value::<SessionResponse>(s).unwrap().token,
        login: key,
        account: account.to_owned(),
    }
}

/// A fresh draft.
/// A fresh idempotency key.
pub fn new_key() -> String {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).unwrap();
    text::encode(&b)
}

pub fn draft(title: &str, body: &str) -> Draft {
    Draft {
        title: title.into(),
        body: body.into(),
        settings: None,
        note: String::new(),
    }
}

fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

/// A random pause that grows with the attempt (2 ms .. 2^attempt ms, at
/// most 64 ms), so racing clients stop colliding in lockstep.
pub fn jitter(attempt: u32) -> Duration {
    let mut b = [0u8; 2];
    getrandom::fill(&mut b).unwrap();
    let cap = 1u64 << attempt.clamp(1, 6);
    Duration::from_millis(1 + u64::from(u16::from_le_bytes(b)) % cap)
}
