//! Sharing end to end (issue 15's story): the real CLI binary for alice and
//! bob (each a vault file with its own state directory) against the real
//! `promptvault-server` binary on loopback, with SQLite.
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

const PW: &str = "sharing story password 15";
const MARKER: &str = "MARKER-shared-9f3a-body";
const TITLE: &str = "MARKER-shared-title-41c2";
const EDIT: &str = "MARKER-after-revoke-7e55";
/// Exit codes of the CLI (its `--help` lists them).
const EXIT_FINGERPRINT: i32 = 8;
const EXIT_NOT_A_MEMBER: i32 = 9;

struct Server {
    child: Child,
    url: String,
    dir: tempfile::TempDir,
}

impl Server {
    fn start() -> Server {
        let dir = tempfile::tempdir().unwrap();
        let exe = Path::new(env!("CARGO_BIN_EXE_promptvault"))
            .parent()
            .unwrap()
            .join("promptvault-server");
        assert!(
            exe.exists(),
            "{} is missing: build the workspace (cargo test --workspace builds it)",
            exe.display()
        );
        let log = std::fs::File::create(dir.path().join("server.log")).unwrap();
        let mut child = Command::new(exe)
            .args(["--listen", "127.0.0.1:0", "--database"])
            .arg(format!(
                "sqlite://{}",
                dir.path().join("server.db").display()
            ))
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let addr = line.trim().strip_prefix("listening on ").unwrap();
        Server {
            url: format!("http://{addr}"),
            child,
            dir,
        }
    }

    /// Rows of a SQL query on the server's SQLite database (python3's
    /// sqlite3), one line each.
    fn sql(&self, sql: &str) -> String {
        let out = Command::new("python3")
            .args([
                "-c",
                "import sqlite3,sys\nc=sqlite3.connect(sys.argv[1], timeout=30)\nfor r in c.execute(sys.argv[2]).fetchall(): print('|'.join(map(str,r)))\nc.commit()",
            ])
            .arg(self.dir.path().join("server.db"))
            .arg(sql)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Every byte of the server's database files and log.
    fn everything(&self) -> Vec<u8> {
        let mut all = Vec::new();
        for entry in std::fs::read_dir(self.dir.path()).unwrap() {
            all.extend(std::fs::read(entry.unwrap().path()).unwrap());
        }
        all
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One person's device: a vault file, a state directory, an account.
struct Device {
    vault: PathBuf,
    state: PathBuf,
    account: &'static str,
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

impl Device {
    fn new(root: &Path, account: &'static str) -> Device {
        Device {
            vault: root.join(format!("{account}.pvlt")),
            state: root.join(format!("{account}-state")),
            account,
        }
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_promptvault"))
            .args(args)
            .env("PROMPTVAULT_VAULT", &self.vault)
            .env("PROMPTVAULT_PASSWORD", PW)
            .env("XDG_STATE_HOME", &self.state)
            .env_remove("PROMPTVAULT_RECOVERY_KEY")
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "{} {args:?}: {}",
            self.account,
            stderr(&out)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn json(&self, args: &[&str]) -> Value {
        serde_json::from_str(&self.ok(args)).unwrap()
    }

    fn sync_args<'a>(&'a self, s: &'a Server) -> [&'a str; 6] {
        [
            "sync",
            "--server",
            &s.url,
            "--account",
            self.account,
            "--json",
        ]
    }

    fn sync(&self, s: &Server) -> Value {
        self.json(&self.sync_args(s))
    }

    /// Every file under the device's directories (vault, side files,
    /// state), as bytes to search.
    fn files(&self) -> Vec<u8> {
        fn walk(p: &Path, all: &mut Vec<u8>) {
            if p.is_dir() {
                for e in std::fs::read_dir(p).unwrap() {
                    walk(&e.unwrap().path(), all);
                }
            } else if let Ok(b) = std::fs::read(p) {
                all.extend(b);
            }
        }
        let mut all = Vec::new();
        walk(self.vault.parent().unwrap(), &mut all);
        all
    }
}

fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

/// One character of a fingerprint changed to another of its alphabet.
fn one_wrong(fp: &str) -> String {
    let mut chars: Vec<char> = fp.chars().collect();
    let i = chars
        .iter()
        .position(|c| c.is_ascii_alphanumeric())
        .unwrap();
    chars[i] = if chars[i] == 'X' { 'Y' } else { 'X' };
    chars.into_iter().collect()
}

#[test]
fn alice_shares_a_prompt_with_bob_then_revokes_him() {
    let s = Server::start();
    let root = tempfile::tempdir().unwrap();
    let alice = Device::new(root.path(), "alice");
    let bob = Device::new(root.path(), "bob");
    for d in [&alice, &bob] {
        d.ok(&["init", "--kdf-memory-mib", "19", "--kdf-time", "1"]);
    }
    let added = alice.ok(&["add", "--title", TITLE, "--body", MARKER]);
    let id = added.trim().strip_prefix("Added ").unwrap().to_owned();
    alice.ok(&["add", "--title", "kept private", "--body", "not shared"]);
    // Sharing needs an identity: made at the first sync.
    let out = bob.run(&["identity"]);
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    for d in [&alice, &bob] {
        assert_eq!(d.sync(&s)["registered"], true);
    }

    // bob prints his fingerprint.
    let me = bob.json(&["identity", "--json"]);
    assert_eq!(me["account"], "bob");
    let fp = me["fingerprint"].as_str().unwrap().to_owned();
    assert_eq!(fp.len(), 32 + 7, "{fp}");
    // The same on a second run (it is kept, not made again).
    assert_eq!(
        bob.json(&["identity", "--json"])["fingerprint"],
        fp.as_str()
    );

    // One wrong character: refused before anything is sent.
    let wrong = one_wrong(&fp);
    let out = alice.run(&["share", &id, "--with", "bob", "--fingerprint", &wrong]);
    assert_eq!(
        out.status.code(),
        Some(EXIT_FINGERPRINT),
        "{}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("does not match"), "{}", stderr(&out));
    assert_eq!(s.sql("SELECT COUNT(*) FROM spaces").trim(), "0");
    assert_eq!(s.sql("SELECT COUNT(*) FROM inbox").trim(), "0");
    let listed = alice.json(&["list", "--json"]);
    assert_eq!(listed.as_array().unwrap().len(), 2);
    assert!(
        listed
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["shared"].is_null())
    );
    // No local space was made either.
    let side = alice.vault.with_extension("pvlt.shared");
    let stores = std::fs::read_dir(&side)
        .map(|d| {
            d.filter(|e| {
                e.as_ref()
                    .unwrap()
                    .path()
                    .extension()
                    .is_some_and(|x| x == "pvlt")
            })
            .count()
        })
        .unwrap_or(0);
    assert_eq!(stores, 0);
    // A fingerprint for another account than bob's is refused the same way.
    let alices = alice.json(&["identity", "--json"])["fingerprint"]
        .as_str()
        .unwrap()
        .to_owned();
    let out = alice.run(&["share", &id, "--with", "bob", "--fingerprint", &alices]);
    assert_eq!(out.status.code(), Some(EXIT_FINGERPRINT));

    // The right one.
    let out = alice.ok(&["share", &id, "--with", "bob", "--fingerprint", &fp]);
    assert!(out.contains("Shared prompt"), "{out}");
    assert_eq!(s.sql("SELECT COUNT(*) FROM spaces").trim(), "1");
    let listed = alice.json(&["list", "--json"]);
    let shared: Vec<&Value> = listed
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| !p["shared"].is_null())
        .collect();
    assert_eq!(shared.len(), 1, "{listed}");
    assert_eq!(shared[0]["id"], id.as_str());
    assert_eq!(shared[0]["shared"]["with"], serde_json::json!(["bob"]));
    assert_eq!(listed.as_array().unwrap().len(), 2, "moved, not copied");
    let text = alice.ok(&["list"]);
    assert!(text.contains("shared with bob"), "{text}");
    alice.sync(&s);

    // bob: the invitation, accept, sync, show.
    let inbox = bob.json(&["inbox", "--json"]);
    let invitations = inbox.as_array().unwrap();
    assert_eq!(invitations.len(), 1, "{inbox}");
    assert_eq!(invitations[0]["from"], "alice");
    let inv = invitations[0]["id"].as_str().unwrap().to_owned();
    let out = bob.ok(&["accept", &inv]);
    assert!(out.contains("Accepted"), "{out}");
    assert_eq!(bob.json(&["inbox", "--json"]), serde_json::json!([]));
    let synced = bob.sync(&s);
    assert_eq!(synced["spaces"].as_array().unwrap().len(), 1, "{synced}");
    let shown = bob.json(&["show", &id, "--json"]);
    assert_eq!(shown["version"]["body"], MARKER, "{shown}");
    assert_eq!(shown["prompt"]["id"], id.as_str(), "{shown}");
    let bobs = bob.json(&["list", "--json"]);
    assert_eq!(bobs.as_array().unwrap().len(), 1, "{bobs}");
    assert_eq!(bobs[0]["shared"]["owner"], "alice");
    assert_eq!(bobs[0]["shared"]["with"], serde_json::json!(["alice"]));

    // alice revokes bob, edits, syncs.
    let out = alice.ok(&["revoke", &id, "--from", "bob"]);
    assert!(out.contains("rotated"), "{out}");
    alice.ok(&["edit", &id, "--body", EDIT]);
    assert_eq!(
        alice.json(&["show", &id, "--json"])["version"]["body"],
        EDIT
    );
    alice.sync(&s);

    // bob syncs: a typed refusal for the space, his own vault still syncs.
    let out = bob.run(&bob.sync_args(&s));
    assert_eq!(
        out.status.code(),
        Some(EXIT_NOT_A_MEMBER),
        "{}",
        stderr(&out)
    );
    let err = stderr(&out);
    assert!(
        err.contains("no longer a member of the space shared by alice"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(report["spaces"][0]["error"].is_string(), "{report}");
    // What he synced before stays readable; the new version is not there.
    let shown = bob.json(&["show", &id, "--json"]);
    assert_eq!(shown["version"]["body"], MARKER);
    assert!(!contains(&bob.files(), EDIT));
    let text = bob.ok(&["list"]);
    assert!(text.contains("you were removed"), "{text}");

    // The server holds no plaintext of the shared prompt, and neither do
    // the files on either device (vaults, side files, state).
    let all = s.everything();
    for needle in [MARKER, TITLE, EDIT, PW] {
        assert!(!contains(&all, needle), "{needle} found on the server");
        assert!(
            !contains(&alice.files(), needle),
            "{needle} in alice's files"
        );
    }

    // A damaged side file is reported as such, not as a missing identity.
    let file = alice
        .vault
        .with_extension("pvlt.shared")
        .join("sharing.json");
    let text = std::fs::read_to_string(&file).unwrap();
    let mut json: Value = serde_json::from_str(&text).unwrap();
    json["identity"] = serde_json::json!(["UFZMVAEJAQAB"]);
    std::fs::write(&file, serde_json::to_vec(&json).unwrap()).unwrap();
    let out = alice.run(&["identity"]);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert!(stderr(&out).contains("damaged"), "{}", stderr(&out));
}

#[test]
fn members_edit_both_ways_and_a_remaining_member_follows_the_rotation() {
    let s = Server::start();
    let root = tempfile::tempdir().unwrap();
    let alice = Device::new(root.path(), "alice");
    let bob = Device::new(root.path(), "bob");
    let carol = Device::new(root.path(), "carol");
    for d in [&alice, &bob, &carol] {
        d.ok(&["init", "--kdf-memory-mib", "19", "--kdf-time", "1"]);
        d.sync(&s);
    }
    let added = alice.ok(&["add", "--title", TITLE, "--body", MARKER]);
    let id = added.trim().strip_prefix("Added ").unwrap().to_owned();
    for d in [&bob, &carol] {
        let fp = d.json(&["identity", "--json"])["fingerprint"]
            .as_str()
            .unwrap()
            .to_owned();
        // The second share adds a member to the same space.
        alice.ok(&["share", &id, "--with", d.account, "--fingerprint", &fp]);
        let inbox = d.json(&["inbox", "--json"]);
        d.ok(&["accept", inbox[0]["id"].as_str().unwrap()]);
    }
    assert_eq!(s.sql("SELECT COUNT(*) FROM spaces").trim(), "1");

    // A vault key rotation on alice's side keeps her identity and keys.
    let fp_before = alice.json(&["identity", "--json"])["fingerprint"].clone();
    alice.ok(&["rotate"]);
    assert_eq!(
        alice.json(&["identity", "--json"])["fingerprint"],
        fp_before
    );

    // bob edits the shared prompt; alice and carol get the version.
    bob.ok(&["edit", &id, "--body", "bob was here"]);
    bob.sync(&s);
    alice.sync(&s);
    carol.sync(&s);
    for d in [&alice, &carol] {
        let h = d.json(&["history", &id, "--json"]);
        assert_eq!(h.as_array().unwrap().len(), 2, "{h}");
        assert_eq!(
            d.json(&["show", &id, "--json"])["version"]["body"],
            "bob was here"
        );
    }

    // bob is removed: carol, who stays, picks up the new key and goes on.
    let out = alice.ok(&["revoke", &id, "--from", "bob"]);
    assert!(out.contains("New key sent to: carol"), "{out}");
    alice.ok(&["edit", &id, "--body", EDIT]);
    alice.sync(&s);
    let synced = carol.sync(&s);
    assert!(synced["spaces"][0]["error"].is_null(), "{synced}");
    // Downloaded again under the new key: the prompt, with every version.
    assert_eq!(synced["spaces"][0]["promptsAdded"], 1, "{synced}");
    assert_eq!(synced["spaces"][0]["versionsAdded"], 3, "{synced}");
    assert_eq!(
        carol.json(&["show", &id, "--json"])["version"]["body"],
        EDIT
    );
    carol.ok(&["edit", &id, "--body", "carol after the rotation"]);
    carol.sync(&s);
    alice.sync(&s);
    assert_eq!(
        alice.json(&["show", &id, "--json"])["version"]["body"],
        "carol after the rotation"
    );
    let listed = alice.json(&["list", "--json"]);
    assert_eq!(listed[0]["shared"]["with"], serde_json::json!(["carol"]));
    // bob: refused, his copy as it was.
    let out = bob.run(&["sync"]);
    assert_eq!(
        out.status.code(),
        Some(EXIT_NOT_A_MEMBER),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        bob.json(&["show", &id, "--json"])["version"]["body"],
        "bob was here"
    );
    // bob cannot share what alice owns.
    let fp = carol.json(&["identity", "--json"])["fingerprint"]
        .as_str()
        .unwrap()
        .to_owned();
    let out = bob.run(&["share", &id, "--with", "carol", "--fingerprint", &fp]);
    assert_eq!(out.status.code(), Some(6), "{}", stderr(&out));
    assert!(!contains(&s.everything(), EDIT));
}

/// A valid bundle for `account` that is not theirs: what a server that
/// swaps identities would hand out.
fn impostor(account: &str) -> String {
    promptvault::share::Identity::generate(account, promptvault::Timestamp(1_700_000_000_000))
        .unwrap()
        .bundle()
        .to_text()
}

#[test]
fn a_server_that_swaps_identities_is_caught_by_fingerprint_and_pin() {
    let s = Server::start();
    let root = tempfile::tempdir().unwrap();
    let alice = Device::new(root.path(), "alice");
    let bob = Device::new(root.path(), "bob");
    for d in [&alice, &bob] {
        d.ok(&["init", "--kdf-memory-mib", "19", "--kdf-time", "1"]);
        d.sync(&s);
    }
    let first = alice.ok(&["add", "--title", "one", "--body", MARKER]);
    let first = first.trim().strip_prefix("Added ").unwrap().to_owned();
    let second = alice.ok(&["add", "--title", "two", "--body", "second"]);
    let second = second.trim().strip_prefix("Added ").unwrap().to_owned();
    let fp = bob.json(&["identity", "--json"])["fingerprint"]
        .as_str()
        .unwrap()
        .to_owned();

    // The server hands out another "bob": bob's real fingerprint refuses it.
    s.sql(&format!(
        "UPDATE identities SET bundle = '{}' WHERE account = 'bob'",
        impostor("bob")
    ));
    let out = alice.run(&["share", &first, "--with", "bob", "--fingerprint", &fp]);
    assert_eq!(
        out.status.code(),
        Some(EXIT_FINGERPRINT),
        "{}",
        stderr(&out)
    );
    assert_eq!(s.sql("SELECT COUNT(*) FROM spaces").trim(), "0");
    assert_eq!(s.sql("SELECT COUNT(*) FROM inbox").trim(), "0");

    // bob's next sync puts his own back; then sharing works.
    bob.sync(&s);
    alice.ok(&["share", &first, "--with", "bob", "--fingerprint", &fp]);
    let inbox = bob.json(&["inbox", "--json"]);
    bob.ok(&["accept", inbox[0]["id"].as_str().unwrap()]);

    // Now alice's identity is pinned on bob's side: a swapped one is refused.
    alice.ok(&["share", &second, "--with", "bob", "--fingerprint", &fp]);
    s.sql(&format!(
        "UPDATE identities SET bundle = '{}' WHERE account = 'alice'",
        impostor("alice")
    ));
    let inbox = bob.json(&["inbox", "--json"]);
    let out = bob.run(&["accept", inbox[0]["id"].as_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(EXIT_FINGERPRINT),
        "{}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("pinned"), "{}", stderr(&out));
    assert_eq!(bob.json(&["list", "--json"]).as_array().unwrap().len(), 1);
    // The invitation is still there, and opens once alice's is back.
    alice.sync(&s);
    bob.ok(&["accept", inbox[0]["id"].as_str().unwrap()]);
    assert_eq!(bob.json(&["list", "--json"]).as_array().unwrap().len(), 2);
    assert_eq!(
        bob.json(&["show", &second, "--json"])["version"]["body"],
        "second"
    );
}
