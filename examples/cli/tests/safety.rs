//! Issue 12, the CLI side: drives the real `promptvault` binary through
//! concurrent writers, hostile paths and file types, rolled-back files,
//! key replacement, terminal escapes and the small things (prune of the
//! current version, a closed pipe, export into a missing directory).
// Test code: unwrap/expect/indexing/panic are how a test fails, and failing
// loudly is the point; the library itself denies them (workspace lints).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]
// Symlinks, modes, FIFOs and device nodes: Unix only.
#![cfg(unix)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const PW: &str = "correct horse battery";

struct Env {
    _dir: tempfile::TempDir,
    root: PathBuf,
    vault: PathBuf,
    state: PathBuf,
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}
fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A vault with the cheapest KDF the CLI accepts (19 MiB, 1 pass).
fn env() -> Env {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_owned();
    let e = Env {
        vault: root.join("v.pvlt"),
        state: root.join("state"),
        root,
        _dir: dir,
    };
    let out = e.run(PW, &["init", "--kdf-memory-mib", "19", "--kdf-time", "1"]);
    assert!(out.status.success(), "{}", stderr(&out));
    e
}

impl Env {
    fn cmd(&self, password: &str, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_promptvault"));
        c.args(args)
            .env("PROMPTVAULT_VAULT", &self.vault)
            .env("PROMPTVAULT_PASSWORD", password)
            .env("XDG_STATE_HOME", &self.state)
            .env_remove("PROMPTVAULT_NEW_PASSWORD")
            .env_remove("PROMPTVAULT_EXPORT_PASSWORD")
            .env_remove("PROMPTVAULT_RECOVERY_KEY")
            .stdin(Stdio::null());
        c
    }
    fn run(&self, password: &str, args: &[&str]) -> Output {
        self.cmd(password, args).output().unwrap()
    }
    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(PW, args);
        assert!(out.status.success(), "{args:?} failed: {}", stderr(&out));
        stdout(&out)
    }
    fn code(&self, args: &[&str]) -> (Option<i32>, String) {
        let out = self.run(PW, args);
        (out.status.code(), stderr(&out))
    }
    fn add(&self, title: &str, body: &str) -> String {
        let out = self.ok(&["add", "--title", title, "--body", body]);
        out.trim().strip_prefix("Added ").unwrap().to_owned()
    }
    fn count_pw(&self, password: &str) -> usize {
        let out = self.run(password, &["list", "--json"]);
        assert!(out.status.success(), "{}", stderr(&out));
        serde_json::from_slice::<serde_json::Value>(&out.stdout)
            .unwrap()
            .as_array()
            .unwrap()
            .len()
    }
    fn count(&self) -> usize {
        self.count_pw(PW)
    }
    fn export_to(&self, file: &Path) -> Output {
        self.cmd(PW, &["export", file.to_str().unwrap()])
            .env("PROMPTVAULT_EXPORT_PASSWORD", "export pw")
            .output()
            .unwrap()
    }
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

// ---- 2. Concurrent writers ----------------------------------------------

fn concurrent_adds(procs: usize, rounds: usize) {
    let e = env();
    for round in 0..rounds {
        let children: Vec<Child> = (0..procs)
            .map(|p| {
                e.cmd(
                    PW,
                    &["add", "--title", &format!("r{round}p{p}"), "--body", "b"],
                )
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
            })
            .collect();
        for c in children {
            let out = c.wait_with_output().unwrap();
            assert!(out.status.success(), "round {round}: {}", stderr(&out));
        }
    }
    assert_eq!(e.count(), procs * rounds, "additions lost");
}

#[test]
fn two_concurrent_writers_lose_nothing() {
    concurrent_adds(2, 50);
}

#[test]
fn eight_concurrent_writers_lose_nothing() {
    concurrent_adds(8, 50);
}

#[test]
fn passwd_racing_add_keeps_the_new_password() {
    let e = env();
    e.add("first", "body");
    let mut pw = PW.to_owned();
    let mut added = 1;
    // The race lost the new password in 10 of 24 rounds.
    for round in 0..24 {
        let new = format!("password number {round}");
        let passwd = e
            .cmd(&pw, &["passwd"])
            .env("PROMPTVAULT_NEW_PASSWORD", &new)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let add = e
            .cmd(&pw, &["add", "--title", "racer", "--body", "b"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let p = passwd.wait_with_output().unwrap();
        let a = add.wait_with_output().unwrap();
        assert!(p.status.success(), "round {round}: {}", stderr(&p));
        // The add ran before the passwd (success) or after it, with the
        // then-old password (a clean exit 3): never in between.
        match a.status.code() {
            Some(0) => added += 1,
            Some(3) => {}
            other => panic!("round {round}: add {other:?}: {}", stderr(&a)),
        }
        pw = new;
        assert_eq!(e.count_pw(&pw), added, "round {round}");
        assert_eq!(e.run("not the password", &["list"]).status.code(), Some(3));
    }
}

#[test]
fn a_held_lock_makes_a_command_wait_and_say_so() {
    let e = env();
    e.add("one", "body");
    let lock_file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(e.root.join("v.pvlt.lock"))
        .unwrap();
    let mut lock = fd_lock::RwLock::new(lock_file);
    let guard = lock.write().unwrap();
    let mut child = e
        .cmd(PW, &["add", "--title", "waiting", "--body", "b"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    assert!(child.try_wait().unwrap().is_none(), "did not wait");
    drop(guard);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("waiting for another promptvault process to finish with"),
        "{}",
        stderr(&out)
    );
    assert_eq!(e.count(), 2);
}

// ---- 3. File handling ---------------------------------------------------

#[test]
fn export_never_overwrites_the_vault() {
    let e = env();
    e.add("keep me", "body");
    let before = std::fs::read(&e.vault).unwrap();
    let link = e.root.join("link.pvlt");
    std::os::unix::fs::symlink(&e.vault, &link).unwrap();
    let hard = e.root.join("hard.pvlt");
    std::fs::hard_link(&e.vault, &hard).unwrap();
    let dotted = e.root.join(".").join("v.pvlt");
    for target in [&e.vault, &link, &hard, &dotted] {
        let out = e.export_to(target);
        assert_eq!(out.status.code(), Some(6), "{target:?}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("the vault file itself"),
            "{}",
            stderr(&out)
        );
        assert_eq!(std::fs::read(&e.vault).unwrap(), before);
    }
    assert_eq!(e.count(), 1);
}

#[test]
fn export_into_a_missing_directory_fails_without_creating_it() {
    let e = env();
    let missing = e.root.join("no-such-dir");
    let out = e.export_to(&missing.join("x.pvx"));
    assert_eq!(out.status.code(), Some(7), "{}", stderr(&out));
    assert!(stderr(&out).contains("create it first"), "{}", stderr(&out));
    assert!(!missing.exists());
}

#[test]
fn a_symlinked_vault_stays_a_link_and_its_target_is_updated() {
    let e = env();
    let real = e.root.join("real.pvlt");
    std::fs::rename(&e.vault, &real).unwrap();
    std::os::unix::fs::symlink(&real, &e.vault).unwrap();
    e.add("through the link", "body");
    let meta = std::fs::symlink_metadata(&e.vault).unwrap();
    assert!(meta.file_type().is_symlink(), "the link was replaced");
    let direct = Env {
        vault: real.clone(),
        state: e.state.clone(),
        root: e.root.clone(),
        _dir: tempfile::tempdir().unwrap(),
    };
    assert_eq!(direct.count(), 1);
    assert_eq!(mode(&real), 0o600);
}

#[test]
fn devices_fifos_and_directories_are_refused() {
    let e = env();
    let fifo = e.root.join("fifo");
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let dir = e.root.join("a-dir");
    std::fs::create_dir(&dir).unwrap();
    let start = Instant::now();
    for src in ["/dev/zero", fifo.to_str().unwrap(), dir.to_str().unwrap()] {
        let (code, err) = e.code(&["add", "--title", "t", "--file", src]);
        assert_eq!(code, Some(6), "--file {src}: {err}");
        assert!(err.contains("not a regular file"), "{err}");
        let out = e
            .cmd(PW, &["import", src])
            .env("PROMPTVAULT_EXPORT_PASSWORD", "x")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(6), "import {src}: {}", stderr(&out));
        let out = e
            .cmd(PW, &["list"])
            .env("PROMPTVAULT_VAULT", src)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(6), "vault {src}: {}", stderr(&out));
    }
    assert!(
        start.elapsed() < Duration::from_secs(30),
        "something blocked"
    );
    assert_eq!(e.count(), 0);
}

#[test]
fn oversized_inputs_are_refused_without_reading_them() {
    let e = env();
    let big = e.root.join("big.txt");
    let f = std::fs::File::create(&big).unwrap();
    f.set_len(10 * 1024 * 1024 * 1024).unwrap(); // sparse 10 GiB
    drop(f);
    let start = Instant::now();
    let (code, err) = e.code(&["add", "--title", "t", "--file", big.to_str().unwrap()]);
    assert_eq!(code, Some(6), "{err}");
    assert!(err.contains("over the"), "{err}");
    let out = e
        .cmd(PW, &["import", big.to_str().unwrap()])
        .env("PROMPTVAULT_EXPORT_PASSWORD", "x")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert!(stderr(&out).contains("over the"), "{}", stderr(&out));
    assert!(start.elapsed() < Duration::from_secs(20));
    // One byte over the body limit, from a real (small) file.
    std::fs::write(&big, vec![b'a'; promptvault::model::MAX_BODY_LEN + 1]).unwrap();
    let (code, err) = e.code(&["add", "--title", "t", "--file", big.to_str().unwrap()]);
    assert_eq!(code, Some(6), "{err}");
}

#[test]
fn files_are_private_and_a_stricter_mode_is_kept() {
    let e = env();
    assert_eq!(mode(&e.vault), 0o600);
    assert_eq!(mode(&e.root.join("v.pvlt.lock")), 0o600);
    std::fs::set_permissions(&e.vault, std::fs::Permissions::from_mode(0o644)).unwrap();
    e.add("one", "body");
    assert_eq!(mode(&e.vault), 0o600, "a write keeps the vault private");
    std::fs::set_permissions(&e.vault, std::fs::Permissions::from_mode(0o400)).unwrap();
    e.add("two", "body");
    assert_eq!(mode(&e.vault), 0o400, "a stricter mode was widened");
    let export = e.root.join("out.pvx");
    assert!(e.export_to(&export).status.success());
    assert_eq!(mode(&export), 0o600);
    let states: Vec<_> = std::fs::read_dir(e.state.join("promptvault"))
        .unwrap()
        .map(|d| d.unwrap().path())
        .collect();
    assert_eq!(states.len(), 1);
    assert_eq!(mode(&states[0]), 0o600);
    assert_eq!(mode(&e.state.join("promptvault")), 0o700);
}

#[test]
fn leftovers_of_killed_writes_never_block_a_write() {
    let e = env();
    // What a write killed before its rename leaves, and the fixed name the
    // old hand-rolled writer used for this process id.
    let stale = e.root.join(".v.pvlt.Ab3dE6gH.tmp");
    std::fs::write(&stale, b"half a vault").unwrap();
    e.add("one", "body");
    assert!(!stale.exists(), "the stale temporary file was not removed");
    let names: Vec<String> = std::fs::read_dir(&e.root)
        .unwrap()
        .map(|d| d.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(names.is_empty(), "{names:?}");
    // Killed writers: SIGKILL `add`s at random moments, then write again.
    for i in 0..10u64 {
        let mut c = e
            .cmd(PW, &["add", "--title", "killed", "--body", "b"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(20 + 13 * i));
        let _ = c.kill();
        let _ = c.wait();
    }
    e.add("after the kills", "body");
    assert!(e.count() >= 2);
}

// ---- 4. Rollback --------------------------------------------------------

#[test]
fn an_older_file_is_refused_until_accepted() {
    let e = env();
    let id = e.add("Castle", "body");
    e.ok(&["tag", &id, "one"]);
    let old = std::fs::read(&e.vault).unwrap();
    e.ok(&["tag", &id, "two"]);
    e.ok(&["favorite", &id]);
    std::fs::write(&e.vault, &old).unwrap();
    for args in [vec!["list"], vec!["add", "--title", "x", "--body", "y"]] {
        let (code, err) = e.code(&args);
        assert_eq!(code, Some(3), "{args:?}: {err}");
        assert!(
            err.contains(&format!("prompt {}… metadata revision", &id[..8]))
                && err.contains("seen before")
                && err.contains("--accept-rollback"),
            "{err}"
        );
        assert_eq!(std::fs::read(&e.vault).unwrap(), old, "file changed");
    }
    let out = e.ok(&["list", "--accept-rollback", "--json"]);
    let list: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(list[0]["tags"], serde_json::json!(["one"]));
    // Accepted once, it is the new state.
    assert_eq!(e.count(), 1);
    e.ok(&["tag", &id, "three"]);
}

#[test]
fn a_deleted_or_dropped_prompt_is_a_rollback() {
    let e = env();
    let a = e.add("A", "body");
    let with_a = std::fs::read(&e.vault).unwrap();
    e.ok(&["rm", &a]);
    std::fs::write(&e.vault, &with_a).unwrap();
    let (code, err) = e.code(&["list"]);
    assert_eq!(code, Some(3), "{err}");
    assert!(err.contains("was deleted here and is back"), "{err}");
    e.ok(&["list", "--accept-rollback"]);
    e.add("B", "body");
    let without_b = with_a;
    std::fs::write(&e.vault, &without_b).unwrap();
    let (code, err) = e.code(&["list"]);
    assert_eq!(code, Some(3), "{err}");
    assert!(err.contains("is missing"), "{err}");
}

#[test]
fn the_rollback_state_holds_no_secret_or_text() {
    let e = env();
    let id = e.add("MARKER_TITLE", "MARKER_BODY");
    e.ok(&["tag", &id, "MARKER_TAG"]);
    let dir = e.state.join("promptvault");
    for f in std::fs::read_dir(&dir).unwrap() {
        let text = std::fs::read_to_string(f.unwrap().path()).unwrap();
        assert!(!text.contains("MARKER"), "{text}");
        assert!(!text.contains(PW), "{text}");
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["prompts"][&id], 2, "{text}");
    }
}

// ---- 5. Honest key replacement ------------------------------------------

/// The old file's header with the new file's records: what someone holds
/// who kept a copy of the header from before.
fn splice_old_header(old: &[u8], new: &[u8]) -> Vec<u8> {
    let old = promptvault::MemoryStore::from_bundle(old).unwrap();
    let new = promptvault::MemoryStore::from_bundle(new).unwrap();
    let mut out = old.header().unwrap().to_vec();
    for r in new.records() {
        out.extend_from_slice(r.as_bytes());
    }
    out
}

#[test]
fn passwd_says_old_copies_still_open_and_rotate_makes_it_so() {
    let e = env();
    e.add("secret", "body");
    let before = std::fs::read(&e.vault).unwrap();
    let out = e
        .cmd(PW, &["passwd"])
        .env("PROMPTVAULT_NEW_PASSWORD", "second")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(!text.contains("no longer works"), "{text}");
    assert!(text.contains("still opens with the old password"), "{text}");
    // True: the old header and the old password read the current records.
    let spliced = splice_old_header(&before, &std::fs::read(&e.vault).unwrap());
    let probe = e.root.join("probe.pvlt");
    std::fs::write(&probe, &spliced).unwrap();
    let out = e
        .cmd(PW, &["list", "--json"])
        .env("PROMPTVAULT_VAULT", &probe)
        .env("XDG_STATE_HOME", e.root.join("other-state"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));

    // With --rotate the old header and old password read nothing new.
    let before = std::fs::read(&e.vault).unwrap();
    let out = e
        .cmd("second", &["passwd", "--rotate"])
        .env("PROMPTVAULT_NEW_PASSWORD", "third")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("New recovery key"),
        "{}",
        stdout(&out)
    );
    assert_eq!(e.count_pw("third"), 1);
    let spliced = splice_old_header(&before, &std::fs::read(&e.vault).unwrap());
    std::fs::write(&probe, &spliced).unwrap();
    let out = e
        .cmd("second", &["list", "--json"])
        .env("PROMPTVAULT_VAULT", &probe)
        .env("XDG_STATE_HOME", e.root.join("third-state"))
        .output()
        .unwrap();
    assert!(
        !out.status.success(),
        "old header + old password still read the vault"
    );
    assert_eq!(e.run("second", &["list"]).status.code(), Some(3));
}

#[test]
fn recover_rotate_gives_a_working_key_and_says_what_is_true() {
    let e = env();
    // `init` printed the recovery key; make a vault whose key we keep.
    let dir = tempfile::tempdir().unwrap();
    let v = dir.path().join("r.pvlt");
    let out = e
        .cmd(PW, &["init", "--kdf-memory-mib", "19", "--kdf-time", "1"])
        .env("PROMPTVAULT_VAULT", &v)
        .output()
        .unwrap();
    let rk = stdout(&out).lines().last().unwrap().trim().to_owned();
    let recover = |pw_new: &str, key: &str, extra: &[&str]| {
        let mut args = vec!["recover"];
        args.extend_from_slice(extra);
        e.cmd("unused", &args)
            .env("PROMPTVAULT_VAULT", &v)
            .env("PROMPTVAULT_RECOVERY_KEY", key)
            .env("PROMPTVAULT_NEW_PASSWORD", pw_new)
            .output()
            .unwrap()
    };
    let out = recover("new one", &rk, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("still opens with the old password or recovery key"),
        "{text}"
    );
    let rk2 = text.lines().last().unwrap().trim().to_owned();
    let out = recover("newer", &rk2, &["--rotate"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("vault key was rotated"), "{text}");
    let rk3 = text.lines().last().unwrap().trim().to_owned();
    assert_eq!(recover("x", &rk2, &[]).status.code(), Some(3));
    assert!(recover("newest", &rk3, &[]).status.success());
}

// ---- 6. Terminal escapes ------------------------------------------------

const OSC52: &str = "\u{1b}]52;c;aGVsbG8=\u{7}";
const CLEAR: &str = "\u{1b}[2J";

#[test]
fn control_characters_never_reach_the_terminal_from_fields() {
    let e = env();
    let note = format!("note{OSC52}{CLEAR}\u{9b}31m");
    let id = e
        .ok(&["add", "--title", "plain", "--body", "body", "--note", &note])
        .trim()
        .strip_prefix("Added ")
        .unwrap()
        .to_owned();
    let shown = e.ok(&["show", &id]);
    assert!(
        !shown.contains('\u{1b}') && !shown.contains('\u{9b}'),
        "{shown:?}"
    );
    assert!(shown.contains("\\x1b]52;c;aGVsbG8=\\x07"), "{shown}");
    let as_json = e.ok(&["show", &id, "--json"]);
    assert!(
        !as_json.contains('\u{1b}') && !as_json.contains('\u{9b}'),
        "{as_json:?}"
    );
    let v: serde_json::Value = serde_json::from_str(&as_json).unwrap();
    assert_eq!(
        v["version"]["note"],
        note.as_str(),
        "JSON keeps the exact text"
    );
    // A title or tag with a control character: refused by the core
    // (issue 12 item 6), or, where it gets in, printed escaped.
    let evil = format!("evil{OSC52}");
    let out = e.run(PW, &["add", "--title", &evil, "--body", "b", "--tag", "ok"]);
    if out.status.success() {
        for cmd in [vec!["list"], vec!["history", &id], vec!["tags"]] {
            let text = e.ok(&cmd);
            assert!(!text.contains('\u{1b}'), "{cmd:?}: {text:?}");
        }
        assert!(e.ok(&["list"]).contains("evil\\x1b]52"));
    } else {
        assert_eq!(out.status.code(), Some(6), "{}", stderr(&out));
    }
}

#[test]
fn bodies_are_escaped_on_a_terminal_and_exact_in_a_pipe() {
    let e = env();
    let body = format!("line one\n\tline two{CLEAR}");
    let id = e
        .ok(&["add", "--title", "t", "--body", &body])
        .trim()
        .strip_prefix("Added ")
        .unwrap()
        .to_owned();
    let piped = e.ok(&["show", &id]);
    assert!(piped.ends_with(&format!("{body}\n")), "{piped:?}");
    // On a terminal (util-linux `script` gives the command a pty).
    let bin = env!("CARGO_BIN_EXE_promptvault");
    let out = Command::new("script")
        .args(["-qec", &format!("{bin} show {id}"), "/dev/null"])
        .env("PROMPTVAULT_VAULT", &e.vault)
        .env("PROMPTVAULT_PASSWORD", PW)
        .env("XDG_STATE_HOME", &e.state)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let tty = stdout(&out);
    assert!(out.status.success(), "{tty} {}", stderr(&out));
    assert!(tty.contains("line two\\x1b[2J"), "{tty:?}");
    assert!(!tty.contains(CLEAR), "{tty:?}");
}

// ---- 7. Smaller ---------------------------------------------------------

#[test]
fn a_missing_vault_is_not_found_even_without_its_directory() {
    let e = env();
    for vault in [e.root.join("nope.pvlt"), e.root.join("no-dir/v.pvlt")] {
        let out = e
            .cmd(PW, &["add", "--title", "t", "--body", "b"])
            .env("PROMPTVAULT_VAULT", &vault)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
        assert!(
            stderr(&out).contains("promptvault init"),
            "{}",
            stderr(&out)
        );
        assert!(!vault.parent().unwrap().join("nope.pvlt.lock").exists());
    }
}

#[test]
fn prune_of_the_current_version_needs_force() {
    let e = env();
    let id = e.add("t", "one");
    e.ok(&["edit", &id, "--body", "two"]);
    let (code, err) = e.code(&["prune", &id, "--version", "2"]);
    assert_eq!(code, Some(6), "{err}");
    assert!(
        err.contains("current version") && err.contains("--force"),
        "{err}"
    );
    let h: serde_json::Value = serde_json::from_str(&e.ok(&["history", &id, "--json"])).unwrap();
    assert_eq!(h.as_array().unwrap().len(), 2);
    e.ok(&["prune", &id, "--version", "1"]);
    e.ok(&["edit", &id, "--body", "three"]);
    e.ok(&["prune", &id, "--version", "2", "--force"]);
    let h: serde_json::Value = serde_json::from_str(&e.ok(&["history", &id, "--json"])).unwrap();
    assert_eq!(h.as_array().unwrap().len(), 1);
}

#[test]
fn a_closed_pipe_ends_quietly_with_exit_zero() {
    let e = env();
    for i in 0..3 {
        e.ok(&[
            "add",
            "--title",
            &format!("p{i}"),
            "--body",
            "b",
            "--tag",
            "t",
        ]);
    }
    for args in [vec!["list"], vec!["tags"], vec!["list", "--json"]] {
        let mut child = e
            .cmd(PW, &args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // The reader goes away before the first line is written.
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
        assert_eq!(stderr(&out), "", "{args:?}");
    }
}

/// Exports of one prompt, built with the library: together they hold
/// `total` distinct versions (each export at most 1000, the local limit).
fn exports_of_one_prompt(total: usize) -> Vec<Vec<u8>> {
    use promptvault::{Draft, KdfParams, Password, Timestamp, Vault};
    let params = KdfParams::new(19 * 1024, 1, 1).unwrap();
    let pw = Password::new("export pw").unwrap();
    let mut x = Vault::create(&Password::new("x").unwrap(), params)
        .unwrap()
        .vault;
    let draft = |n: usize| Draft {
        title: "many".into(),
        body: format!("version {n}"),
        settings: None,
        note: String::new(),
    };
    let (pid, _) = x
        .create_prompt(&draft(0), &[], false, Timestamp(1))
        .unwrap();
    let (mut n, mut held) = (1, 1);
    let mut exports = Vec::new();
    while n < total {
        while held < promptvault::model::MAX_VERSIONS_PER_PROMPT && n < total {
            x.add_version(pid, &draft(n), Timestamp(n as u64 + 1))
                .unwrap();
            (n, held) = (n + 1, held + 1);
        }
        exports.push(x.export(&pw, params).unwrap());
        x.prune_history(pid, 1, Timestamp(n as u64 + 1)).unwrap();
        held = 1;
    }
    exports
}

#[test]
fn an_import_over_the_version_limit_reports_the_real_count() {
    let e = env();
    // ~4000 add_version calls on the unoptimised core: the slow part.
    let exports = exports_of_one_prompt(4001);
    let (last, first) = exports.split_last().unwrap();
    let file = e.root.join("part.pvx");
    for bytes in first {
        std::fs::write(&file, bytes).unwrap();
        let out = e
            .cmd(PW, &["import", file.to_str().unwrap()])
            .env("PROMPTVAULT_EXPORT_PASSWORD", "export pw")
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
    }
    std::fs::write(&file, last).unwrap();
    let before = std::fs::read(&e.vault).unwrap();
    let out = e
        .cmd(PW, &["import", file.to_str().unwrap()])
        .env("PROMPTVAULT_EXPORT_PASSWORD", "export pw")
        .output()
        .unwrap();
    // The core refuses that prompt alone (`ImportReport::refused`, SPEC
    // §6.3): the import itself succeeds with nothing else to add, warns
    // with the real count, and writes nothing.
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("was not imported")
            && stderr(&out).contains("is 4001, over the limit of 4000"),
        "{}",
        stderr(&out)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("Imported 0 new prompt(s), 0 new version(s)")
    );
    assert_eq!(std::fs::read(&e.vault).unwrap(), before);
}
