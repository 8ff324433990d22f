//! `promptvault sync` end to end: the real CLI binary on separate devices
//! (vault files with their own state directories) against the real
//! `promptvault-server` binary, on SQLite and on PostgreSQL.
//!
//! The server binary is the one `cargo test --workspace` builds next to
//! the CLI. PostgreSQL comes from `scripts/pg.sh` (`PV_TEST_POSTGRES_URL`);
//! without it the PostgreSQL cases are skipped loudly, unless `CI` or
//! `PV_REQUIRE_POSTGRES` is set, when they fail.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use serde_json::Value;

const PW: &str = "sync story password 42";
const NEW_PW: &str = "a brand new password 43";
const MARKERS: [&str; 5] = [
    "MARKER-alpha-1c9e",
    "MARKER-beta-77d1",
    "MARKER-gamma-04aa",
    "MARKER-edit-a-5b2f",
    "MARKER-edit-b-e3c0",
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Backend {
    Sqlite,
    Postgres,
}

fn bin_dir() -> PathBuf {
    Path::new(env!("CARGO_BIN_EXE_promptvault"))
        .parent()
        .unwrap()
        .to_owned()
}

/// A fresh PostgreSQL database on the test cluster, or `None` to skip.
fn postgres_db() -> Option<String> {
    let Ok(base) = std::env::var("PV_TEST_POSTGRES_URL") else {
        assert!(
            std::env::var_os("CI").is_none() && std::env::var_os("PV_REQUIRE_POSTGRES").is_none(),
            "PV_TEST_POSTGRES_URL is not set: run the tests through scripts/test-core.sh (scripts/pg.sh)"
        );
        eprintln!("SKIPPED: PostgreSQL case (PV_TEST_POSTGRES_URL is not set)");
        return None;
    };
    let name = format!("pvcli_{}_{}", std::process::id(), rand_suffix());
    psql(&base, &format!("CREATE DATABASE {name}"));
    let (head, _) = base.rsplit_once('/').unwrap();
    Some(format!("{head}/{name}"))
}

fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    u64::from(t) * 1000 + N.fetch_add(1, Ordering::Relaxed)
}

fn psql(url: &str, sql: &str) -> String {
    let out = Command::new("psql")
        .args([
            "-X",
            "-q",
            "-A",
            "-t",
            "-v",
            "ON_ERROR_STOP=1",
            url,
            "-c",
            sql,
        ])
        .output()
        .expect("psql (Debian's postgresql-client) must be installed");
    assert!(
        out.status.success(),
        "psql {sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

struct Server {
    child: Option<Child>,
    url: String,
    database: String,
    backend: Backend,
    dir: tempfile::TempDir,
    port: u16,
}

impl Server {
    fn start(backend: Backend) -> Option<Server> {
        let dir = tempfile::tempdir().unwrap();
        let database = match backend {
            Backend::Sqlite => format!("sqlite://{}", dir.path().join("server.db").display()),
            Backend::Postgres => postgres_db()?,
        };
        let mut s = Server {
            child: None,
            url: String::new(),
            database,
            backend,
            dir,
            port: 0,
        };
        s.spawn();
        Some(s)
    }

    fn spawn(&mut self) {
        let exe = bin_dir().join("promptvault-server");
        assert!(
            exe.exists(),
            "{} is missing: build the workspace (cargo test --workspace builds it)",
            exe.display()
        );
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("server.log"))
            .unwrap();
        let mut child = Command::new(exe)
            .args([
                "--listen",
                &format!("127.0.0.1:{}", self.port),
                "--database",
            ])
            .arg(&self.database)
            .env("RUST_LOG", "debug")
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let addr = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap()
            .to_owned();
        self.port = addr.rsplit_once(':').unwrap().1.parse().unwrap();
        self.url = format!("http://{addr}");
        self.child = Some(child);
    }

    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Runs SQL against the server's database (python3's sqlite3 for
    /// SQLite, psql for PostgreSQL); the server should be stopped.
    fn sql(&self, sql: &str) -> String {
        match self.backend {
            Backend::Sqlite => {
                let path = self.database.strip_prefix("sqlite://").unwrap();
                let out = Command::new("python3")
                    .args([
                        "-c",
                        "import sqlite3,sys\nc=sqlite3.connect(sys.argv[1])\nfor r in c.execute(sys.argv[2]).fetchall(): print('|'.join(map(str,r)))\nc.commit()",
                        path,
                        sql,
                    ])
                    .output()
                    .unwrap();
                assert!(
                    out.status.success(),
                    "{}",
                    String::from_utf8_lossy(&out.stderr)
                );
                String::from_utf8_lossy(&out.stdout).into_owned()
            }
            Backend::Postgres => psql(&self.database, sql),
        }
    }

    /// Everything the server stored or logged, as bytes to search.
    fn everything(&self) -> Vec<u8> {
        let mut all = std::fs::read(self.dir.path().join("server.log")).unwrap();
        all.extend(self.stored());
        all
    }

    /// Everything the server's database holds, as bytes to search.
    fn stored(&self) -> Vec<u8> {
        let mut all = Vec::new();
        match self.backend {
            Backend::Sqlite => {
                for entry in std::fs::read_dir(self.dir.path()).unwrap() {
                    let p = entry.unwrap().path();
                    if p.to_string_lossy().contains("server.db") {
                        all.extend(std::fs::read(p).unwrap());
                    }
                }
            }
            Backend::Postgres => {
                for table in ["accounts", "vaults", "records", "sessions", "challenges"] {
                    all.extend(self.sql(&format!("SELECT * FROM {table}")).into_bytes());
                }
            }
        }
        all
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// One device: a vault file and its own state directory.
struct Device {
    vault: PathBuf,
    state: PathBuf,
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

impl Device {
    fn new(root: &Path, name: &str) -> Device {
        Device {
            vault: root.join(format!("{name}.pvlt")),
            state: root.join(format!("{name}-state")),
        }
    }

    fn run(&self, args: &[&str]) -> Output {
        self.run_pw(PW, args)
    }

    fn run_pw(&self, password: &str, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_promptvault"))
            .args(args)
            .env("PROMPTVAULT_VAULT", &self.vault)
            .env("PROMPTVAULT_PASSWORD", password)
            .env("PROMPTVAULT_NEW_PASSWORD", NEW_PW)
            .env("XDG_STATE_HOME", &self.state)
            .env_remove("PROMPTVAULT_RECOVERY_KEY")
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn json(&self, args: &[&str]) -> Value {
        serde_json::from_str(&self.ok(args)).unwrap()
    }

    fn sync(&self, s: &Server) -> Value {
        self.json(&["sync", "--server", &s.url, "--account", "alice", "--json"])
    }

    fn sync_fails(&self, s: &Server) -> Output {
        let out = self.run(&["sync", "--server", &s.url, "--account", "alice"]);
        assert!(!out.status.success());
        out
    }

    fn add(&self, title: &str, body: &str) -> String {
        let out = self.ok(&["add", "--title", title, "--body", body]);
        out.trim().strip_prefix("Added ").unwrap().to_owned()
    }
}

fn all_histories(d: &Device) -> Vec<Value> {
    let list = d.json(&["list", "--json"]);
    list.as_array()
        .unwrap()
        .iter()
        .map(|p| d.json(&["history", p["id"].as_str().unwrap(), "--json"]))
        .collect()
}

fn story(backend: Backend) {
    let Some(s) = Server::start(backend) else {
        return;
    };
    let root = tempfile::tempdir().unwrap();
    let a = Device::new(root.path(), "a");
    let b = Device::new(root.path(), "b");
    a.ok(&["init", "--kdf-memory-mib", "19", "--kdf-time", "1"]);
    let first = a.add("first", MARKERS[0]);
    a.add("second", MARKERS[1]);
    a.add("third", MARKERS[2]);

    let up = a.sync(&s);
    assert_eq!(up["registered"], true);
    assert!(up["pushed"].as_u64().unwrap() >= 9, "{up}");
    let down = b.sync(&s);
    assert_eq!(down["downloaded"], true);
    assert_eq!(down["promptsAdded"], 3);
    assert_eq!(a.ok(&["list", "--json"]), b.ok(&["list", "--json"]));

    // Offline on both: the same prompt edited, and a new prompt each.
    a.ok(&["edit", &first, "--body", MARKERS[3]]);
    b.ok(&["edit", &first, "--body", MARKERS[4]]);
    a.add("from a", "offline on a");
    b.add("from b", "offline on b");

    a.sync(&s);
    let mid = b.sync(&s);
    assert_eq!(mid["promptsAdded"], 1, "{mid}");
    a.sync(&s);

    let list_a = a.json(&["list", "--json"]);
    assert_eq!(list_a, b.json(&["list", "--json"]));
    assert_eq!(list_a.as_array().unwrap().len(), 5);
    let hist_a = all_histories(&a);
    assert_eq!(hist_a, all_histories(&b));
    // No version lost: the shared prompt has the original and both edits.
    let shared = a.json(&["history", &first, "--json"]);
    assert_eq!(shared.as_array().unwrap().len(), 3, "{shared}");
    let bodies: Vec<String> = shared
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            a.json(&[
                "show",
                &first,
                "--version",
                v["id"].as_str().unwrap(),
                "--json",
            ])["version"]["body"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    for m in [MARKERS[0], MARKERS[3], MARKERS[4]] {
        assert!(bodies.iter().any(|b| b == m), "{m} missing from {bodies:?}");
    }

    // A later sync moves nothing.
    let idle = a.sync(&s);
    assert_eq!(
        (idle["pushed"].as_u64(), idle["commits"].as_u64()),
        (Some(0), Some(0))
    );

    // The server holds ciphertext only.
    let all = s.everything();
    for needle in MARKERS.iter().copied().chain([PW, "first", "from a"]) {
        assert!(
            !all.windows(needle.len()).any(|w| w == needle.as_bytes()),
            "{needle:?} found in the {backend:?} server's storage or log"
        );
    }

    // The right to erasure: after `account delete`, no row of the account.
    let vault_id = a.json(&["inspect", "--json"]);
    let vault_hex = vault_id[0]["vaultId"].as_str().map(str::to_owned);
    let out = a.ok(&[
        "account",
        "delete",
        "--server",
        &s.url,
        "--account",
        "alice",
    ]);
    assert!(out.contains("Deleted the account alice"), "{out}");
    let mut s = s;
    s.stop();
    for table in ["accounts", "vaults", "records", "sessions", "commits"] {
        assert_eq!(
            s.sql(&format!("SELECT COUNT(*) FROM {table}")).trim(),
            "0",
            "{table}"
        );
    }
    if let Some(hex) = vault_hex {
        // (Its log keeps operational lines naming the vault: the
        // operator's to rotate, SECURITY.md.)
        let stored = s.stored();
        assert!(
            !stored.windows(hex.len()).any(|w| w == hex.as_bytes()),
            "vault id left"
        );
    }
    s.spawn();
    let gone = b.sync_fails(&s);
    assert_eq!(gone.status.code(), Some(3), "{}", stderr(&gone));
    // The local vaults are untouched.
    assert_eq!(b.json(&["list", "--json"]), list_a);
}

#[test]
fn story_on_sqlite() {
    story(Backend::Sqlite);
}

#[test]
fn story_on_postgres() {
    story(Backend::Postgres);
}

/// A server that hides a prompt, or serves older metadata, is caught
/// (exit 3) and nothing is pushed over it.
fn hostile_server(backend: Backend) {
    let Some(mut s) = Server::start(backend) else {
        return;
    };
    let root = tempfile::tempdir().unwrap();
    let a = Device::new(root.path(), "a");
    a.ok(&["init", "--kdf-memory-mib", "19", "--kdf-time", "1"]);
    let p1 = a.add("one", "body one");
    let p2 = a.add("two", "body two");
    a.sync(&s);
    a.ok(&["edit", &p1, "--body", "body one, edited"]);
    let old_meta = {
        s.stop();
        let r = s.sql(&format!(
            "SELECT body FROM records WHERE storage_key = 'm.{p1}'"
        ));
        s.spawn();
        r.trim().to_owned()
    };
    a.sync(&s);

    // 1. Hide prompt two: a fresh device is told, writes no vault, pushes nothing.
    s.stop();
    let rows_before = s.sql("SELECT storage_key, seq FROM records ORDER BY storage_key");
    s.sql(&format!(
        "DELETE FROM records WHERE storage_key LIKE '%.{p2}%'"
    ));
    let hidden = s.sql("SELECT storage_key, seq FROM records ORDER BY storage_key");
    assert_ne!(rows_before, hidden);
    s.spawn();
    let c = Device::new(root.path(), "c");
    let out = c.sync_fails(&s);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stderr(&out).contains("hiding a prompt"), "{}", stderr(&out));
    assert!(!c.vault.exists());
    s.stop();
    assert_eq!(
        s.sql("SELECT storage_key, seq FROM records ORDER BY storage_key"),
        hidden
    );

    // 2. Serve the older metadata of prompt one as a new row: device a,
    // which saw the newer one, is told and pushes nothing.
    let counter: i64 = s.sql("SELECT counter FROM vaults").trim().parse().unwrap();
    s.sql(&format!(
        "UPDATE records SET body = '{old_meta}', seq = {} WHERE storage_key = 'm.{p1}'",
        counter + 1
    ));
    s.sql(&format!("UPDATE vaults SET counter = {}", counter + 1));
    let served = s.sql("SELECT storage_key, seq FROM records ORDER BY storage_key");
    s.spawn();
    let before = std::fs::read(&a.vault).unwrap();
    let out = a.sync_fails(&s);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stderr(&out).contains("older"), "{}", stderr(&out));
    assert_eq!(std::fs::read(&a.vault).unwrap(), before);
    s.stop();
    assert_eq!(
        s.sql("SELECT storage_key, seq FROM records ORDER BY storage_key"),
        served
    );
}

#[test]
fn hostile_server_on_sqlite() {
    hostile_server(Backend::Sqlite);
}

#[test]
fn hostile_server_on_postgres() {
    hostile_server(Backend::Postgres);
}

/// A password change on one device follows to the server (its login keys
/// follow the pushed header) and to the other device, which then needs the
/// new password; nothing is lost on the way.
fn password_change(backend: Backend) {
    let Some(s) = Server::start(backend) else {
        return;
    };
    let root = tempfile::tempdir().unwrap();
    let a = Device::new(root.path(), "a");
    let b = Device::new(root.path(), "b");
    a.ok(&["init", "--kdf-memory-mib", "19", "--kdf-time", "1"]);
    a.add("kept", MARKERS[0]);
    a.sync(&s);
    b.sync(&s);
    b.add("from b", MARKERS[1]);

    let out = a.run(&["passwd"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let sync = |d: &Device, pw: &str| {
        d.run_pw(
            pw,
            &["sync", "--server", &s.url, "--account", "alice", "--json"],
        )
    };
    let out = sync(&a, NEW_PW);
    assert!(out.status.success(), "{}", stderr(&out));

    // B with the old password: refused by the server, nothing changes.
    let before = std::fs::read(&b.vault).unwrap();
    let old = sync(&b, PW);
    assert_eq!(old.status.code(), Some(3), "{}", stderr(&old));
    assert_eq!(std::fs::read(&b.vault).unwrap(), before);
    // With the new one: B takes the new header and pushes its prompt.
    let out = sync(&b, NEW_PW);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = sync(&a, NEW_PW);
    assert!(out.status.success(), "{}", stderr(&out));
    let list = |d: &Device| {
        let o = d.run_pw(NEW_PW, &["list", "--json"]);
        assert!(o.status.success(), "{}", stderr(&o));
        String::from_utf8(o.stdout).unwrap()
    };
    assert_eq!(list(&a), list(&b));
    assert!(list(&a).contains("from b"));
    // The old password opens neither vault file any more.
    assert_eq!(b.run_pw(PW, &["list"]).status.code(), Some(3));
    // A new device logs in with the new password.
    let c = Device::new(root.path(), "c");
    let out = sync(&c, NEW_PW);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(list(&c), list(&a));
}

#[test]
fn password_change_on_sqlite() {
    password_change(Backend::Sqlite);
}

#[test]
fn password_change_on_postgres() {
    password_change(Backend::Postgres);
}
