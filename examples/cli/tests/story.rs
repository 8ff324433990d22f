//! Drives the real `promptvault` binary through the whole story, and checks
//! that bad input fails cleanly without touching the vault file.
// Test code: unwrap/expect/indexing/panic are how a test fails, and failing
// loudly is the point; the library itself denies them (workspace lints).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

struct Env {
    _dir: tempfile::TempDir,
    vault: PathBuf,
    root: PathBuf,
}

const PW: &str = "correct horse battery";

fn env() -> Env {
    let dir = tempfile::tempdir().unwrap();
    let vault = dir.path().join("v.pvlt");
    let root = dir.path().to_owned();
    let e = Env {
        _dir: dir,
        vault,
        root,
    };
    let out = e.run_pw(PW, &["init", "--kdf-memory-mib", "19", "--kdf-time", "1"]);
    assert!(out.status.success(), "{}", stderr(&out));
    e
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}
fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

impl Env {
    fn cmd(&self, password: &str, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_promptvault"));
        c.args(args)
            .env("PROMPTVAULT_VAULT", &self.vault)
            .env("PROMPTVAULT_PASSWORD", password)
            .env("XDG_STATE_HOME", self.root.join("state"))
            .env_remove("PROMPTVAULT_NEW_PASSWORD")
            .env_remove("PROMPTVAULT_EXPORT_PASSWORD")
            .env_remove("PROMPTVAULT_RECOVERY_KEY")
            .stdin(Stdio::null());
        c
    }
    fn run_pw(&self, password: &str, args: &[&str]) -> Output {
        self.cmd(password, args).output().unwrap()
    }
    fn ok(&self, args: &[&str]) -> String {
        let out = self.run_pw(PW, args);
        assert!(out.status.success(), "{args:?} failed: {}", stderr(&out));
        stdout(&out)
    }
    fn json(&self, args: &[&str]) -> serde_json::Value {
        serde_json::from_str(&self.ok(args)).unwrap()
    }
    fn add(&self, title: &str, body: &str, extra: &[&str]) -> String {
        let mut args = vec!["add", "--title", title, "--body", body];
        args.extend_from_slice(extra);
        let out = self.ok(&args);
        out.trim().strip_prefix("Added ").unwrap().to_owned()
    }
}

fn bytes(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap()
}

#[test]
fn the_whole_story() {
    let e = env();
    let id = e.add(
        "Castle",
        "MARKER_BODY_1 a castle\nat dawn",
        &[
            "--tag",
            "Art",
            "--tag",
            "MARKER_TAG",
            "--note",
            "MARKER_NOTE",
        ],
    );
    e.ok(&["edit", &id, "--body", "MARKER_BODY_1 a castle\nat dusk"]);
    e.ok(&[
        "edit",
        &id,
        "--title",
        "Castle (night)",
        "--body",
        "a castle\nat night\nwith stars",
    ]);
    let h = e.json(&["history", &id, "--json"]);
    assert_eq!(h.as_array().unwrap().len(), 3);
    let diff = e.ok(&["diff", &id, "1", "3"]);
    assert!(
        diff.contains("- at dawn") && diff.contains("+ at night"),
        "{diff}"
    );
    e.ok(&["restore", &id, "1"]);
    let shown = e.json(&["show", &id, "--json"]);
    assert_eq!(shown["version"]["body"], "MARKER_BODY_1 a castle\nat dawn");
    assert_eq!(
        e.json(&["history", &id, "--json"])
            .as_array()
            .unwrap()
            .len(),
        4
    );

    // Tags and filters.
    let other = e.add("Robot", "a friendly robot", &["--tag", "llm"]);
    e.ok(&["tag", &other, "art"]); // same tag, other case
    let tags = e.json(&["tags", "--json"]);
    let art = tags
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["tag"] == "Art")
        .unwrap();
    assert_eq!(art["count"], 2);
    assert_eq!(
        e.json(&["list", "--tag", "ART", "--json"])
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        e.json(&["list", "--tag", "art", "--tag", "llm", "--all", "--json"])
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        e.json(&["list", "--tag", "llm", "--none", "--json"])
            .as_array()
            .unwrap()
            .len(),
        1
    );
    e.ok(&["rename-tag", "art", "Artwork"]);
    assert_eq!(
        e.json(&["list", "--tag", "artwork", "--json"])
            .as_array()
            .unwrap()
            .len(),
        2
    );
    e.ok(&["untag", &other, "ARTWORK"]);
    assert_eq!(
        e.json(&["list", "--tag", "artwork", "--json"])
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // Favorite, archive, search.
    e.ok(&["favorite", &other]);
    let favs = e.json(&["list", "--favorite", "--json"]);
    assert_eq!(favs.as_array().unwrap().len(), 1);
    assert_eq!(favs[0]["title"], "Robot");
    let found = e.json(&["list", "--search", "FRIENDLY", "--json"]);
    assert_eq!(found.as_array().unwrap().len(), 1);
    e.ok(&["archive", &other]);
    assert_eq!(e.json(&["list", "--json"]).as_array().unwrap().len(), 1);
    assert_eq!(
        e.json(&["list", "--archived", "--json"])
            .as_array()
            .unwrap()
            .len(),
        1
    );
    e.ok(&["archive", &other, "--off"]);

    // Inspect needs no password and shows no plaintext.
    let inspect = e.run_pw("", &["inspect", "--json"]);
    assert!(inspect.status.success(), "{}", stderr(&inspect));
    assert!(!stdout(&inspect).contains("MARKER"));

    // Export, then import into a new vault: everything equal.
    let export = e.root.join("export.pvx");
    let out = e
        .cmd(PW, &["export", export.to_str().unwrap()])
        .env("PROMPTVAULT_EXPORT_PASSWORD", "export pw")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let e2 = Env {
        vault: e.root.join("second.pvlt"),
        root: e.root.clone(),
        _dir: tempfile::tempdir().unwrap(),
    };
    assert!(
        e2.run_pw(PW, &["init", "--kdf-memory-mib", "19", "--kdf-time", "1"])
            .status
            .success()
    );
    for round in 0..2 {
        let out = e2
            .cmd(PW, &["import", export.to_str().unwrap()])
            .env("PROMPTVAULT_EXPORT_PASSWORD", "export pw")
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        if round == 1 {
            assert!(
                stdout(&out).contains("Imported 0 new prompt(s), 0 new version(s)"),
                "{}",
                stdout(&out)
            );
        }
    }
    let strip = |v: serde_json::Value| {
        let mut v = v;
        for p in v.as_array_mut().unwrap() {
            p.as_object_mut().unwrap().remove("revision");
        }
        v
    };
    assert_eq!(
        strip(e.json(&["list", "--json"])),
        strip(e2.json(&["list", "--json"]))
    );
    for pid in [&id, &other] {
        assert_eq!(
            e.json(&["history", pid, "--json"]),
            e2.json(&["history", pid, "--json"])
        );
        assert_eq!(
            e.json(&["show", pid, "--json"])["version"],
            e2.json(&["show", pid, "--json"])["version"]
        );
    }
    assert_eq!(e.json(&["tags", "--json"]), e2.json(&["tags", "--json"]));

    // No plaintext in the vault file or the export file.
    for f in [&e.vault, &export, &e2.vault] {
        let b = bytes(f);
        for marker in [
            "MARKER_BODY_1",
            "MARKER_TAG",
            "MARKER_NOTE",
            "Castle",
            "Robot",
            "friendly",
        ] {
            assert!(
                !b.windows(marker.len()).any(|w| w == marker.as_bytes()),
                "{marker} in {}",
                f.display()
            );
        }
    }

    // Password change, then recovery.
    let out = e
        .cmd(PW, &["passwd"])
        .env("PROMPTVAULT_NEW_PASSWORD", "second password")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(e.run_pw(PW, &["list"]).status.code(), Some(3));
    assert!(e.run_pw("second password", &["list"]).status.success());
    let init_out = {
        // The recovery key printed by `init`, for a vault made here.
        let e3 = Env {
            vault: e.root.join("third.pvlt"),
            root: e.root.clone(),
            _dir: tempfile::tempdir().unwrap(),
        };
        let out = e3.run_pw(PW, &["init", "--kdf-memory-mib", "19", "--kdf-time", "1"]);
        (e3, stdout(&out))
    };
    let (e3, text) = init_out;
    let rk = text.lines().last().unwrap().trim().to_owned();
    e3.add("Secret", "recover me", &[]);
    let out = e3
        .cmd("wrong", &["recover"])
        .env("PROMPTVAULT_RECOVERY_KEY", &rk)
        .env("PROMPTVAULT_NEW_PASSWORD", "brand new")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        e3.run_pw("brand new", &["list", "--json"]).status.code(),
        Some(0)
    );
    // The old recovery key no longer works.
    let out = e3
        .cmd("x", &["recover"])
        .env("PROMPTVAULT_RECOVERY_KEY", &rk)
        .env("PROMPTVAULT_NEW_PASSWORD", "y")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));

    // Rotation keeps everything readable under the same password.
    let out = e3.run_pw("brand new", &["rotate"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        e3.run_pw(
            "brand new",
            &[
                "show",
                &e3.json_pw("brand new")[0]["id"].as_str().unwrap()[..8]
            ]
        )
        .status
        .success()
    );

    // Prune and delete really remove records.
    let before = e.run_pw("second password", &["inspect", "--json"]);
    let n_before = serde_json::from_slice::<serde_json::Value>(&before.stdout)
        .unwrap()
        .as_array()
        .unwrap()
        .len();
    let out = e.run_pw("second password", &["prune", &id, "--keep", "1"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let after = e.run_pw("second password", &["inspect", "--json"]);
    let n_after = serde_json::from_slice::<serde_json::Value>(&after.stdout)
        .unwrap()
        .as_array()
        .unwrap()
        .len();
    assert_eq!(n_before - n_after, 3);
    assert!(
        e.run_pw("second password", &["rm", &other])
            .status
            .success()
    );
    let after_rm = e.run_pw("second password", &["inspect", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&after_rm.stdout).unwrap();
    assert_eq!(v.as_array().unwrap().len(), n_after - 3);
}

impl Env {
    fn json_pw(&self, pw: &str) -> serde_json::Value {
        let out = self.run_pw(pw, &["list", "--json"]);
        serde_json::from_slice(&out.stdout).unwrap()
    }
}

fn assert_clean_failure(e: &Env, password: &str, expect_code: i32) {
    let before = bytes(&e.vault);
    for args in [
        vec!["list"],
        vec!["add", "--title", "x", "--body", "y"],
        vec!["tags"],
    ] {
        let out = e.run_pw(password, &args);
        assert_eq!(
            out.status.code(),
            Some(expect_code),
            "{args:?}: {}",
            stderr(&out)
        );
        let err = stderr(&out);
        assert!(
            err.starts_with("promptvault: ") && !err.contains("panicked"),
            "{err}"
        );
        assert_eq!(
            bytes(&e.vault),
            before,
            "vault file changed by a failed {args:?}"
        );
    }
}

#[test]
fn wrong_password_fails_cleanly() {
    let e = env();
    e.add("Castle", "body", &[]);
    assert_clean_failure(&e, "not it", 3);
    assert!(stderr(&e.run_pw("not it", &["list"])).contains("wrong password"));
}

#[test]
fn a_flipped_byte_fails_cleanly_wherever_it_is() {
    let e = env();
    let id = e.add("Castle", "body one", &["--tag", "t"]);
    e.ok(&["edit", &id, "--body", "body two"]);
    let good = bytes(&e.vault);
    // Every 7th byte keeps the test quick while covering the header, every
    // record header and every ciphertext.
    for i in (0..good.len()).step_by(7) {
        let mut bad = good.clone();
        bad[i] ^= 0x20;
        std::fs::write(&e.vault, &bad).unwrap();
        let out = e.run_pw(PW, &["list"]);
        let code = out.status.code();
        assert!(
            matches!(code, Some(3) | Some(4)),
            "byte {i}: {code:?} {}",
            stderr(&out)
        );
        assert!(!stderr(&out).contains("panicked"));
        assert_eq!(bytes(&e.vault), bad, "byte {i}: file changed");
    }
    std::fs::write(&e.vault, &good).unwrap();
    let mut bad = good.clone();
    let last = bad.len() - 1;
    bad[last] ^= 1;
    std::fs::write(&e.vault, &bad).unwrap();
    assert_clean_failure(&e, PW, 3);
}

#[test]
fn swapped_records_fail_cleanly() {
    let e = env();
    e.add("One", "first", &[]);
    e.add("Two", "second", &[]);
    let good = bytes(&e.vault);
    let store = promptvault::MemoryStore::from_bundle(&good).unwrap();
    let recs: Vec<Vec<u8>> = store.records().map(|r| r.as_bytes().to_vec()).collect();
    let mut swapped = store.header().unwrap().to_vec();
    swapped.extend_from_slice(&recs[1]);
    swapped.extend_from_slice(&recs[0]);
    for r in &recs[2..] {
        swapped.extend_from_slice(r);
    }
    std::fs::write(&e.vault, &swapped).unwrap();
    assert_clean_failure(&e, PW, 4);
}

#[test]
fn a_huge_file_is_refused_without_reading_it() {
    let e = env();
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(&e.vault)
        .unwrap();
    f.set_len(10 * 1024 * 1024 * 1024).unwrap(); // sparse 10 GiB
    drop(f);
    let out = e.run_pw(PW, &["list"]);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert!(stderr(&out).contains("over the"));
}

#[test]
fn help_documents_exit_codes() {
    let out = Command::new(env!("CARGO_BIN_EXE_promptvault"))
        .arg("--help")
        .output()
        .unwrap();
    let text = stdout(&out);
    assert!(text.contains("Exit codes:") && text.contains("3  wrong password"));
}
