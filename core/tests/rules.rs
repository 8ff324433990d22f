//! The model rules of `SPEC.md` §6 on every path: crafted exports breaking
//! each rule (written with the raw export writer, as a buggy or hostile
//! client could), damaged metadata on read, replayed tombstoned versions,
//! and property tests over arbitrary imports and merges asserting that
//! whatever the core writes, it opens.
// Test code: unwrap/expect/indexing/panic are how a test fails, and failing
// loudly is the point; the library itself denies them (workspace lints).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

use std::collections::BTreeSet;
use std::sync::OnceLock;

use promptvault::{
    ArchivedFilter, Credential, Draft, Error, ImportReport, KdfParams, MemoryStore, Password,
    PromptId, Query, Timestamp, Vault, unchecked_export_for_tests,
};
use proptest::prelude::*;
use serde_json::{Value, json};

fn fast() -> KdfParams {
    KdfParams::new(KdfParams::MIN_M_COST_KIB, 1, 1).unwrap()
}

fn pw() -> Password {
    Password::new("pw").unwrap()
}

fn export_pw() -> Password {
    Password::new("export").unwrap()
}

/// One vault created once per process (one KDF run); each call clones it.
fn new_vault() -> (Vault, MemoryStore) {
    static CELL: OnceLock<(Vault, MemoryStore)> = OnceLock::new();
    CELL.get_or_init(|| {
        let c = Vault::create(&pw(), fast()).unwrap();
        let mut s = MemoryStore::new();
        s.apply(&c.changes);
        (c.vault, s)
    })
    .clone()
}

fn reopen(s: &MemoryStore) -> Vault {
    Vault::open(
        s.header().unwrap(),
        s.record_bytes(),
        Credential::Password(&pw()),
    )
    .unwrap()
}

fn everything() -> Query {
    Query {
        archived: ArchivedFilter::Include,
        ..Query::default()
    }
}

fn listed(v: &Vault) -> BTreeSet<PromptId> {
    v.list(&everything())
        .unwrap()
        .iter()
        .map(|s| s.id)
        .collect()
}

fn hex(n: u64) -> String {
    format!("{n:032x}")
}

fn id_bytes(hex: &str) -> Vec<u8> {
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect()
}

/// Metadata as the tests write it, readable: `versions` a list of
/// `{"id": hex, "created": n}` index entries and `deleted` a list of hex
/// ids. `to_wire` turns it into the stored layout of SPEC §6.1 (each one
/// base64url string of 24-byte entries / 16-byte ids, in the order given,
/// so a test can store them out of order or repeated); `from_wire` back.
/// Members that are not lists are left as they are.
fn to_wire(meta: &mut Value) {
    if let Some(entries) = meta.get("versions").and_then(Value::as_array) {
        let mut bytes = Vec::new();
        for e in entries {
            bytes.extend(id_bytes(e["id"].as_str().unwrap()));
            bytes.extend(e["created"].as_u64().unwrap().to_le_bytes());
        }
        meta["versions"] = json!(promptvault::format::text::encode(&bytes));
    }
    if let Some(ids) = meta.get("deleted").and_then(Value::as_array) {
        let bytes: Vec<u8> = ids
            .iter()
            .flat_map(|d| id_bytes(d.as_str().unwrap()))
            .collect();
        meta["deleted"] = json!(promptvault::format::text::encode(&bytes));
    }
}

fn from_wire(meta: &mut Value) {
    let hex_of = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    let bytes = promptvault::format::text::decode(meta["versions"].as_str().unwrap()).unwrap();
    let entries: Vec<Value> = bytes
        .chunks(24)
        .map(|c| {
            let created = u64::from_le_bytes(c[16..].try_into().unwrap());
            json!({"id": hex_of(&c[..16]), "created": created})
        })
        .collect();
    meta["versions"] = json!(entries);
    let bytes = promptvault::format::text::decode(meta["deleted"].as_str().unwrap()).unwrap();
    let ids: Vec<Value> = bytes.chunks(16).map(|c| json!(hex_of(c))).collect();
    meta["deleted"] = json!(ids);
}

/// An exported prompt as JSON (metadata readable, see [`to_wire`]): `n`
/// versions with ids `hex(base + i)`, each the parent of the next, titles
/// `t0…` (the metadata's `title` is the current one's), one tag.
fn prompt_json(pid: u64, base: u64, n: usize) -> Value {
    let mut entries = Vec::new();
    let mut contents = serde_json::Map::new();
    for i in 0..n {
        let id = hex(base + i as u64);
        let parent = if i == 0 {
            Value::Null
        } else {
            json!(hex(base + i as u64 - 1))
        };
        entries.push(json!({"id": id, "created": 10 + i}));
        contents.insert(
            id,
            json!({"title": format!("t{i}"), "body": "b", "settings": null, "note": "",
                   "created": 10 + i, "parent": parent}),
        );
    }
    let current = hex(base + n.saturating_sub(1) as u64);
    json!({
        "id": hex(pid),
        "meta": {"created": 10, "updated": 20, "current": current, "versions": entries,
                 "tags": ["a"], "favorite": false, "archived": false, "deleted": [],
                 "title": format!("t{}", n.saturating_sub(1))},
        "versions": contents,
    })
}

fn export_of(prompts: &[Value]) -> Vec<u8> {
    let mut prompts = prompts.to_vec();
    for p in &mut prompts {
        to_wire(&mut p["meta"]);
    }
    let payload = json!({"format": "promptvault-export/1", "prompts": prompts});
    unchecked_export_for_tests(payload.to_string().as_bytes(), &export_pw(), fast()).unwrap()
}

/// Imports `file`, stores the changes, reopens the store: it must open
/// with nothing damaged and list every prompt the import accepted.
fn import_and_reopen(v: &mut Vault, s: &mut MemoryStore, file: &[u8]) -> (ImportReport, Vault) {
    let r = v.import(file, &export_pw(), Timestamp(99)).unwrap();
    s.apply(&r.changes);
    let back = reopen(s);
    assert!(
        back.damaged_prompts().is_empty(),
        "{:?}",
        back.damaged_prompts()
    );
    assert_eq!(listed(&back), listed(v));
    (r, back)
}

enum Expect {
    /// The prompt is imported (after normalisation) and passes `check`.
    Accepted(fn(&Vault, PromptId)),
    /// The prompt is refused with an error of this code.
    Refused(promptvault::ErrorCode),
}

fn tags_are(v: &Vault, id: PromptId, want: &[&str]) {
    assert_eq!(v.summary(id).unwrap().tags, want);
}

/// One crafted export per rule of SPEC §6: the field it breaks, and
/// whether the import normalises it or refuses the prompt.
#[allow(clippy::type_complexity)]
fn crafted() -> Vec<(&'static str, fn(&mut Value), Expect)> {
    use promptvault::ErrorCode::{InvalidInput, LimitExceeded, Malformed};
    vec![
        (
            "65 tags",
            |p| p["meta"]["tags"] = json!((0..65).map(|i| format!("t{i}")).collect::<Vec<_>>()),
            Expect::Refused(LimitExceeded),
        ),
        (
            "66 tags collapsing to 64",
            |p| {
                let mut t: Vec<String> = (0..64).map(|i| format!("t{i}")).collect();
                t.push("T0".into());
                t.push(" t1 ".into());
                p["meta"]["tags"] = json!(t);
            },
            Expect::Accepted(|v, id| assert_eq!(v.summary(id).unwrap().tags.len(), 64)),
        ),
        (
            "un-normalised and duplicate tags",
            |p| {
                p["meta"]["tags"] =
                    json!(["  Art ", "ART", "Cafe\u{301}", "café", "STRASSE", "straße"])
            },
            Expect::Accepted(|v, id| tags_are(v, id, &["Art", "Café", "STRASSE"])),
        ),
        (
            "an empty tag",
            |p| p["meta"]["tags"] = json!([""]),
            Expect::Refused(InvalidInput),
        ),
        (
            "a blank tag",
            |p| p["meta"]["tags"] = json!(["  "]),
            Expect::Refused(InvalidInput),
        ),
        (
            "a tag with ESC (OSC 52)",
            |p| p["meta"]["tags"] = json!(["x\u{1b}]52;c;aGk=\u{7}"]),
            Expect::Refused(InvalidInput),
        ),
        (
            "a tag with C1 CSI",
            |p| p["meta"]["tags"] = json!(["x\u{9b}2J"]),
            Expect::Refused(InvalidInput),
        ),
        (
            "a tag with DEL",
            |p| p["meta"]["tags"] = json!(["x\u{7f}"]),
            Expect::Refused(InvalidInput),
        ),
        (
            "a tag with a bidi override",
            |p| p["meta"]["tags"] = json!(["abc\u{202e}fed"]),
            Expect::Refused(InvalidInput),
        ),
        (
            "a 65-character tag",
            |p| p["meta"]["tags"] = json!(["x".repeat(65)]),
            Expect::Refused(LimitExceeded),
        ),
        (
            "a current title with ESC",
            |p| {
                p["meta"]["title"] = json!("a\u{1b}[2Jb");
                p["versions"][hex(102)]["title"] = p["meta"]["title"].clone();
            },
            Expect::Refused(InvalidInput),
        ),
        (
            "a version title with a newline",
            |p| p["versions"][hex(100)]["title"] = json!("a\nb"),
            Expect::Refused(InvalidInput),
        ),
        (
            "a title with an isolate control",
            |p| {
                p["meta"]["title"] = json!("a\u{2067}b");
                p["versions"][hex(102)]["title"] = p["meta"]["title"].clone();
            },
            Expect::Refused(InvalidInput),
        ),
        (
            "a blank title",
            |p| {
                p["meta"]["title"] = json!(" \t ");
                p["versions"][hex(102)]["title"] = p["meta"]["title"].clone();
            },
            Expect::Refused(InvalidInput),
        ),
        (
            "a 1025-byte title",
            |p| {
                p["meta"]["title"] = json!("x".repeat(1025));
                p["versions"][hex(102)]["title"] = p["meta"]["title"].clone();
            },
            Expect::Refused(LimitExceeded),
        ),
        (
            "a body over 1 MiB",
            |p| p["versions"][hex(100)]["body"] = json!("x".repeat((1 << 20) + 1)),
            Expect::Refused(LimitExceeded),
        ),
        (
            "a note over 64 KiB",
            |p| p["versions"][hex(100)]["note"] = json!("x".repeat(64 * 1024 + 1)),
            Expect::Refused(LimitExceeded),
        ),
        (
            "settings over 64 KiB",
            |p| p["versions"][hex(100)]["settings"] = json!({"k": "x".repeat(64 * 1024)}),
            Expect::Refused(LimitExceeded),
        ),
        (
            "versions out of order",
            |p| p["meta"]["versions"].as_array_mut().unwrap().reverse(),
            Expect::Accepted(|v, id| {
                let h = v.history(id).unwrap();
                assert!(
                    h.windows(2)
                        .all(|w| (w[0].created, w[0].id) < (w[1].created, w[1].id))
                );
            }),
        ),
        (
            "a version listed twice",
            |p| {
                let first = p["meta"]["versions"][0].clone();
                p["meta"]["versions"].as_array_mut().unwrap().push(first);
            },
            Expect::Refused(Malformed),
        ),
        (
            "no version",
            |p| p["meta"]["versions"] = json!([]),
            Expect::Refused(Malformed),
        ),
        (
            "no version content",
            |p| p["versions"] = json!({}),
            Expect::Refused(Malformed),
        ),
        (
            "current not listed",
            |p| p["meta"]["current"] = json!(hex(7777)),
            Expect::Accepted(|v, id| {
                assert_eq!(v.summary(id).unwrap().current_version.to_hex(), hex(102))
            }),
        ),
        (
            "a dangling parent",
            |p| p["versions"][hex(101)]["parent"] = json!(hex(5555)),
            Expect::Accepted(|v, id| assert_eq!(v.history(id).unwrap().len(), 3)),
        ),
        (
            "a metadata title that disagrees with the current version (D4)",
            |p| p["meta"]["title"] = json!("other"),
            Expect::Refused(Malformed),
        ),
        (
            "an index time that disagrees with the version (D4)",
            |p| p["meta"]["versions"][1]["created"] = json!(99),
            Expect::Refused(Malformed),
        ),
        (
            "a version its own parent (content)",
            |p| p["versions"][hex(101)]["parent"] = json!(hex(101)),
            Expect::Refused(InvalidInput),
        ),
        (
            "tombstones unsorted and duplicated",
            |p| p["meta"]["deleted"] = json!([hex(9), hex(3), hex(9)]),
            Expect::Accepted(|v, id| assert_eq!(v.history(id).unwrap().len(), 3)),
        ),
        (
            "5000 tombstones",
            |p| {
                p["meta"]["deleted"] =
                    json!((0..5000).map(|i| hex(1_000_000 + i)).collect::<Vec<_>>())
            },
            Expect::Accepted(|v, id| assert_eq!(v.history(id).unwrap().len(), 3)),
        ),
        (
            "a listed version also tombstoned",
            |p| p["meta"]["deleted"] = json!([hex(100)]),
            Expect::Accepted(|v, id| assert_eq!(v.history(id).unwrap().len(), 2)),
        ),
        (
            "the current version tombstoned",
            |p| p["meta"]["deleted"] = json!([hex(102)]),
            Expect::Refused(Malformed),
        ),
        (
            "an entry without content",
            |p| {
                p["versions"].as_object_mut().unwrap().remove(&hex(100));
            },
            Expect::Accepted(|v, id| assert_eq!(v.history(id).unwrap().len(), 2)),
        ),
        (
            "a content without entry",
            |p| {
                p["meta"]["versions"].as_array_mut().unwrap().remove(0);
            },
            Expect::Accepted(|v, id| assert_eq!(v.history(id).unwrap().len(), 2)),
        ),
        (
            "an unknown member (a new member is a new format version, SPEC §6)",
            |p| p["meta"]["colour"] = json!("red"),
            Expect::Refused(Malformed),
        ),
    ]
}

#[test]
fn every_crafted_export_leaves_a_vault_that_opens_and_lists() {
    let (mut v, mut s) = new_vault();
    let (keep, c) = v
        .create_prompt(
            &Draft {
                title: "kept".into(),
                ..Draft::default()
            },
            &[],
            false,
            Timestamp(1),
        )
        .unwrap();
    s.apply(&c);
    let cases = crafted();
    assert!(cases.len() >= 30);
    for (n, (what, break_it, expect)) in cases.into_iter().enumerate() {
        let pid = 1 + n as u64;
        let mut bad = prompt_json(pid, 100, 3);
        break_it(&mut bad);
        // A good prompt travels in the same file: it is always imported.
        let good = prompt_json(10_000 + n as u64, 200, 1);
        let (r, back) = import_and_reopen(&mut v, &mut s, &export_of(&[bad, good]));
        let id: PromptId = hex(pid).parse().unwrap();
        let good_id: PromptId = hex(10_000 + n as u64).parse().unwrap();
        let ids = listed(&back);
        assert!(ids.contains(&keep) && ids.contains(&good_id), "{what}");
        match expect {
            Expect::Accepted(check) => {
                assert!(r.refused.is_empty(), "{what}: {:?}", r.refused);
                assert!(ids.contains(&id), "{what}");
                check(&back, id);
                check(&v, id);
            }
            Expect::Refused(code) => {
                assert_eq!(r.refused.len(), 1, "{what}");
                assert_eq!(r.refused[0].id, id, "{what}");
                assert_eq!(
                    r.refused[0].reason.code(),
                    code,
                    "{what}: {}",
                    r.refused[0].reason
                );
                assert!(!ids.contains(&id), "{what}");
            }
        }
    }
}

#[test]
fn import_over_the_version_limit_reports_the_real_count() {
    let (mut v, mut s) = new_vault();
    let (r, _) = import_and_reopen(&mut v, &mut s, &export_of(&[prompt_json(1, 100, 4001)]));
    assert_eq!(
        r.refused[0].reason,
        Error::LimitExceeded {
            what: "versions of one prompt",
            limit: 4000,
            actual: 4001
        }
    );
    assert!(
        r.refused[0]
            .reason
            .to_string()
            .contains("is 4001, over the limit of 4000")
    );
    // Existing versions count: 3000 here plus 1001 new is 4001 too.
    let (r, _) = import_and_reopen(&mut v, &mut s, &export_of(&[prompt_json(2, 100, 3000)]));
    assert!(r.refused.is_empty());
    let (r, _) = import_and_reopen(&mut v, &mut s, &export_of(&[prompt_json(2, 50_000, 1001)]));
    assert_eq!(
        r.refused[0].reason,
        Error::LimitExceeded {
            what: "versions of one prompt",
            limit: 4000,
            actual: 4001
        }
    );
}

#[test]
fn a_prompt_listed_twice_is_imported_once() {
    let (mut v, mut s) = new_vault();
    let p = prompt_json(1, 100, 2);
    let (r, back) = import_and_reopen(&mut v, &mut s, &export_of(&[p.clone(), p]));
    assert_eq!((r.prompts_added, r.refused.len()), (1, 1));
    assert_eq!(back.len(), 1);
}

#[test]
fn twenty_thousand_tags_are_refused_with_the_real_count() {
    // Linear: each tag is normalised and folded once, keys are hashed.
    let (mut v, _) = new_vault();
    let many: Vec<String> = (0..20_000).map(|i| format!("tag{i}")).collect();
    let err = v
        .create_prompt(
            &Draft {
                title: "t".into(),
                ..Draft::default()
            },
            &many,
            false,
            Timestamp(1),
        )
        .unwrap_err();
    assert_eq!(
        err,
        Error::LimitExceeded {
            what: "tags on one prompt",
            limit: 64,
            actual: 20_000
        }
    );
    // 20,000 spellings of 64 tags are accepted, first spellings kept.
    let same: Vec<String> = (0..20_000)
        .map(|i| {
            if i % 2 == 0 {
                format!("tag{}", i % 64)
            } else {
                format!("TAG{}", i % 64)
            }
        })
        .collect();
    let (id, _) = v
        .create_prompt(
            &Draft {
                title: "t".into(),
                ..Draft::default()
            },
            &same,
            false,
            Timestamp(1),
        )
        .unwrap();
    assert_eq!(v.summary(id).unwrap().tags.len(), 64);
    let c = v.add_tags(id, &same, Timestamp(2)).unwrap();
    assert!(c.is_empty());
}

#[test]
fn local_edits_refuse_control_characters_in_titles_and_tags() {
    let (mut v, _) = new_vault();
    let draft = |t: &str| Draft {
        title: t.into(),
        ..Draft::default()
    };
    for bad in ["a\u{1b}]52;c;aGk=\u{7}", "a\u{9b}2J", "x\u{202e}y", "a\nb"] {
        let e = v
            .create_prompt(&draft(bad), &[], false, Timestamp(1))
            .unwrap_err();
        assert_eq!(e.code(), promptvault::ErrorCode::InvalidInput, "{bad:?}");
        let e = v
            .create_prompt(&draft("ok"), &[bad.into()], false, Timestamp(1))
            .unwrap_err();
        assert_eq!(e.code(), promptvault::ErrorCode::InvalidInput, "{bad:?}");
    }
    let (id, _) = v
        .create_prompt(&draft("ok"), &["x".into()], false, Timestamp(1))
        .unwrap();
    assert!(v.add_version(id, &draft("a\u{7f}"), Timestamp(2)).is_err());
    assert!(v.rename_tag("x", "y\u{1b}", Timestamp(2)).is_err());
    assert!(v.add_tags(id, &["\u{85}".into()], Timestamp(2)).is_err());
    // Right-to-left marks are text, not controls.
    v.create_prompt(
        &draft("\u{5e9}\u{5dc}\u{5d5}\u{5dd}\u{200f}"),
        &[],
        false,
        Timestamp(1),
    )
    .unwrap();
}

/// A vault with two prompts, the first then given metadata written with
/// no rule applied (`meta` edits the first prompt's metadata JSON).
fn vault_with_damage(edit: impl Fn(&mut Value)) -> (MemoryStore, PromptId, PromptId) {
    let (mut v, mut s) = new_vault();
    let draft = |t: &str| Draft {
        title: t.into(),
        body: "body".into(),
        ..Draft::default()
    };
    let (bad, c) = v
        .create_prompt(&draft("bad"), &["x".into()], false, Timestamp(1))
        .unwrap();
    s.apply(&c);
    let (_, c) = v.add_version(bad, &draft("bad 2"), Timestamp(2)).unwrap();
    s.apply(&c);
    let (good, c) = v
        .create_prompt(&draft("good"), &[], false, Timestamp(3))
        .unwrap();
    s.apply(&c);
    let mut meta: Value = serde_json::from_slice(&v.meta_json_for_tests(bad).unwrap()).unwrap();
    from_wire(&mut meta);
    edit(&mut meta);
    to_wire(&mut meta);
    let raw = serde_json::to_vec(&meta).unwrap();
    s.apply(&v.unchecked_meta_for_tests(bad, &raw).unwrap());
    (s, bad, good)
}

#[test]
fn a_prompt_breaking_a_rule_is_damaged_and_the_rest_opens() {
    type Edit = fn(&mut Value);
    let edits: [(&str, Edit); 6] = [
        ("65 tags", |m| {
            m["tags"] = json!((0..65).map(|i| format!("t{i}")).collect::<Vec<_>>())
        }),
        ("a control character", |m| m["title"] = json!("\u{1b}[2J")),
        ("current not listed", |m| m["current"] = json!(hex(1))),
        ("no version", |m| m["versions"] = json!([])),
        ("not metadata at all", |m| *m = json!({"hello": 1})),
        ("a version listed twice", |m| {
            let first = m["versions"][0].clone();
            m["versions"].as_array_mut().unwrap().push(first);
        }),
    ];
    for (what, edit) in edits {
        let (mut s, bad, good) = vault_with_damage(edit);
        let mut v = reopen(&s);
        let damaged = v.damaged_prompts();
        assert_eq!(damaged.len(), 1, "{what}");
        assert_eq!((damaged[0].id, damaged[0].versions), (bad, 2), "{what}");
        assert_eq!(listed(&v), BTreeSet::from([good]), "{what}");
        assert!(v.summary(bad).is_err());
        v.verify().unwrap();
        // Writes to the rest work, and what they write opens.
        let c = v.set_favorite(good, true, Timestamp(9)).unwrap();
        s.apply(&c);
        assert_eq!(reopen(&s).damaged_prompts().len(), 1);
        // Rotation refuses rather than dropping the damaged prompt's key.
        assert!(v.rotate(&pw()).is_err(), "{what}");
        // Export saves what is readable; its import refuses or repairs.
        let file = v.export(&export_pw(), fast()).unwrap();
        let (mut other, mut os) = new_vault();
        let (r, back) = import_and_reopen(&mut other, &mut os, &file);
        assert!(back.summary(good).is_ok(), "{what}");
        assert_eq!(r.prompts_added + r.refused.len(), 2, "{what}: {r:?}");
        // And rm removes every record of it.
        let c = v.delete_prompt(bad).unwrap();
        assert_eq!(c.deletes.len(), 4, "{what}: meta, two versions, item key");
        s.apply(&c);
        let back = reopen(&s);
        assert!(back.damaged_prompts().is_empty());
        assert_eq!(listed(&back), BTreeSet::from([good]));
        assert_eq!(
            s.len(),
            3,
            "{what}: only the good prompt's records are left"
        );
    }
}

#[test]
fn damage_from_a_merge_is_kept_stored_and_reported() {
    let (s, bad, good) = vault_with_damage(|m| m["tags"] = json!(["a\u{7}"]));
    let (mut v, mut mine) = new_vault();
    let recs: Vec<Vec<u8>> = s.records().map(|r| r.as_bytes().to_vec()).collect();
    let r = v.merge(&recs).unwrap();
    assert_eq!(r.damaged.len(), 1);
    assert_eq!(r.damaged[0].id, bad);
    mine.apply(&r.changes);
    let back = reopen(&mine);
    assert_eq!(back.damaged_prompts().len(), 1);
    assert_eq!(listed(&back), BTreeSet::from([good]));
}

#[test]
fn records_for_a_locally_damaged_prompt_do_not_break_a_merge() {
    let (mut v, mut s) = new_vault();
    let draft = |t: &str| Draft {
        title: t.into(),
        ..Draft::default()
    };
    let (bad, c) = v
        .create_prompt(&draft("bad"), &[], false, Timestamp(1))
        .unwrap();
    s.apply(&c);
    // Another device, same keys, adds a version to it.
    let mut other = v.clone();
    let (_, elsewhere) = other
        .add_version(bad, &draft("elsewhere"), Timestamp(2))
        .unwrap();
    let mut meta: Value = serde_json::from_slice(&v.meta_json_for_tests(bad).unwrap()).unwrap();
    meta["tags"] = json!([""]);
    s.apply(
        &v.unchecked_meta_for_tests(bad, &serde_json::to_vec(&meta).unwrap())
            .unwrap(),
    );
    let mut here = reopen(&s);
    assert_eq!(here.damaged_prompts().len(), 1);
    let recs: Vec<Vec<u8>> = elsewhere
        .puts
        .iter()
        .map(|r| r.as_bytes().to_vec())
        .collect();
    let r = here.merge(&recs).unwrap();
    assert!(r.changes.is_empty());
    assert_eq!(here.damaged_prompts().len(), 1);
    here.verify().unwrap();
}

#[test]
fn version_content_that_does_not_parse_degrades_instead_of_failing() {
    let (mut v, mut s) = new_vault();
    let draft = |t: &str| Draft {
        title: t.into(),
        ..Draft::default()
    };
    let (a, c) = v
        .create_prompt(&draft("a"), &[], false, Timestamp(1))
        .unwrap();
    s.apply(&c);
    let (a2, c) = v.add_version(a, &draft("a2"), Timestamp(2)).unwrap();
    s.apply(&c);
    let (b, c) = v
        .create_prompt(&draft("b"), &[], false, Timestamp(3))
        .unwrap();
    s.apply(&c);
    // A listed version of `a` whose content is not JSON: open is lazy and
    // succeeds; export leaves that version out; the export imports.
    let mut listed_bad = s.clone();
    listed_bad.apply(&v.unchecked_version_for_tests(a, a2, b"not json").unwrap());
    let back = reopen(&listed_bad);
    assert!(back.damaged_prompts().is_empty());
    assert!(back.version(a, Some(a2)).is_err());
    let file = back.export(&export_pw(), fast()).unwrap();
    let (mut other, mut os) = new_vault();
    let (r, imported) = import_and_reopen(&mut other, &mut os, &file);
    assert!(r.refused.is_empty());
    assert_eq!(imported.history(a).unwrap().len(), 1);
    // An unlisted (orphan) version of `b` whose content is not JSON: open
    // would have to adopt it, cannot, and keeps `b` as damaged.
    let orphan: promptvault::VersionId = hex(42).parse().unwrap();
    s.apply(&v.unchecked_version_for_tests(b, orphan, b"{}").unwrap());
    let back = reopen(&s);
    assert_eq!(back.damaged_prompts().len(), 1);
    assert_eq!(back.damaged_prompts()[0].id, b);
    assert_eq!(listed(&back), BTreeSet::from([a]));
}

#[test]
fn un_normalised_duplicate_tags_on_read_count_once() {
    let (s, bad, _) = vault_with_damage(|m| m["tags"] = json!(["Art", " art", "ART "]));
    let v = reopen(&s);
    assert!(v.damaged_prompts().is_empty());
    assert_eq!(v.summary(bad).unwrap().tags, ["Art"]);
    let art: Vec<_> = v.tags().into_iter().filter(|t| t.tag == "Art").collect();
    assert_eq!(art.len(), 1);
    assert_eq!(art[0].count, 1);
}

#[test]
fn a_replayed_tombstoned_version_is_deleted_by_the_next_write() {
    let (mut v, mut s) = new_vault();
    let draft = |t: &str| Draft {
        title: t.into(),
        ..Draft::default()
    };
    let (id, c) = v
        .create_prompt(&draft("one"), &[], false, Timestamp(1))
        .unwrap();
    s.apply(&c);
    let first = v.history(id).unwrap()[0].id;
    let (_, c) = v.add_version(id, &draft("two"), Timestamp(2)).unwrap();
    s.apply(&c);
    let old: Vec<_> = s
        .records()
        .filter(|r| r.header().version_id() == Some(first))
        .cloned()
        .collect();
    assert_eq!(old.len(), 1);
    s.apply(&v.delete_version(id, first, Timestamp(3)).unwrap());
    // A server replays the deleted version's record.
    let mut replay = promptvault::Changeset::default();
    replay.puts.push(old[0].clone());
    s.apply(&replay);
    let before = s.len();
    let mut v = reopen(&s);
    assert_eq!(v.history(id).unwrap().len(), 1, "open ignores it");
    let c = v.set_favorite(id, true, Timestamp(4)).unwrap();
    assert!(
        c.deletes.contains(&old[0].storage_key()),
        "the next write deletes it"
    );
    s.apply(&c);
    assert_eq!(s.len(), before - 1);
    assert!(s.records().all(|r| r.header().version_id() != Some(first)));
    // And a write after that has nothing left to delete.
    assert!(
        reopen(&s)
            .set_favorite(id, false, Timestamp(5))
            .unwrap()
            .deletes
            .is_empty()
    );
}

// ---- property tests: arbitrary imports and merges ----

fn label() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[a-cA-C]{1,3}",
        1 => Just(String::new()),
        1 => Just("  ".to_owned()),
        1 => Just(" Ab ".to_owned()),
        1 => Just("Cafe\u{301}".to_owned()),
        1 => Just("x\u{1b}[2J".to_owned()),
        1 => Just("x\u{85}".to_owned()),
        1 => Just("x\u{202e}".to_owned()),
        1 => Just("y".repeat(70)),
    ]
}

fn title() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => "[a-z ]{1,8}".prop_filter("not blank", |t| !t.trim().is_empty()),
        1 => label(),
        1 => Just("x".repeat(1025)),
        1 => Just("tab\there".to_owned()),
    ]
}

/// A reference to a version: one of the prompt's own (by index), its own
/// id, or an unknown id.
#[derive(Clone, Debug)]
enum Ref {
    Own(usize),
    Me,
    Unknown(u64),
    None,
}

fn vref() -> impl Strategy<Value = Ref> {
    prop_oneof![
        4 => (0usize..6).prop_map(Ref::Own),
        1 => Just(Ref::Me),
        1 => (1u64..4).prop_map(Ref::Unknown),
        2 => Just(Ref::None),
    ]
}

#[derive(Clone, Debug)]
struct ArbVersion {
    id: u64,
    title: String,
    content_title: Option<String>,
    created: u64,
    parent: Ref,
    has_content: bool,
    listed: bool,
}

#[derive(Clone, Debug)]
struct ArbPrompt {
    id: u64,
    versions: Vec<ArbVersion>,
    current: Ref,
    tags: Vec<String>,
    deleted: Vec<Ref>,
}

fn arb_prompt() -> impl Strategy<Value = ArbPrompt> {
    let version = (
        0u64..12,
        title(),
        prop::option::weighted(0.1, title()),
        0u64..5,
        vref(),
        prop::bool::weighted(0.9),
        prop::bool::weighted(0.9),
    )
        .prop_map(
            |(id, title, content_title, created, parent, has_content, listed)| ArbVersion {
                id,
                title,
                content_title,
                created,
                parent,
                has_content,
                listed,
            },
        );
    (
        0u64..6,
        prop::collection::vec(version, 0..6),
        vref(),
        prop::collection::vec(label(), 0..70),
        prop::collection::vec(vref(), 0..3),
    )
        .prop_map(|(id, versions, current, tags, deleted)| ArbPrompt {
            id,
            versions,
            current,
            tags,
            deleted,
        })
}

impl ArbPrompt {
    /// Version ids are drawn per prompt (`id * 100 + n`), so two prompts
    /// with the same id share versions, and a prompt can list one twice.
    fn vid(&self, n: u64) -> String {
        hex(self.id * 100 + n + 1)
    }

    fn resolve(&self, r: &Ref, me: u64) -> Value {
        match r {
            Ref::Own(i) => self
                .versions
                .get(*i)
                .map_or(Value::Null, |v| json!(self.vid(v.id))),
            Ref::Me => json!(self.vid(me)),
            Ref::Unknown(n) => json!(hex(9_000_000 + n)),
            Ref::None => Value::Null,
        }
    }

    fn to_json(&self) -> Value {
        let mut entries = Vec::new();
        let mut contents = serde_json::Map::new();
        for v in &self.versions {
            let parent = self.resolve(&v.parent, v.id);
            if v.listed {
                entries.push(json!({"id": self.vid(v.id), "created": v.created}));
            }
            if v.has_content {
                contents.insert(
                    self.vid(v.id),
                    json!({"title": v.content_title.as_ref().unwrap_or(&v.title), "body": "b",
                           "settings": null, "note": "", "created": v.created, "parent": parent}),
                );
            }
        }
        let current = match self.resolve(&self.current, 0) {
            Value::Null => json!(hex(1)),
            c => c,
        };
        let deleted: Vec<Value> = self
            .deleted
            .iter()
            .map(|r| self.resolve(r, 0))
            .filter(|d| !d.is_null())
            .collect();
        // The metadata's title: the current version's `title` (its
        // content may say otherwise, `content_title`: a D4 mismatch).
        let title = self
            .versions
            .iter()
            .rfind(|v| json!(self.vid(v.id)) == current)
            .map_or_else(|| "t".to_owned(), |v| v.title.clone());
        json!({"id": hex(self.id + 1), "meta": {"created": 1, "updated": 2, "current": current,
               "versions": entries, "tags": self.tags, "favorite": false, "archived": false,
               "deleted": deleted, "title": title}, "versions": contents})
    }
}

/// Imports `prompts` into `v`, applying the changes to `s`; asserts the
/// store then opens, nothing is damaged, and it lists what `v` lists.
fn import_checked(v: &mut Vault, s: &mut MemoryStore, prompts: &[ArbPrompt]) -> ImportReport {
    let file = export_of(&prompts.iter().map(ArbPrompt::to_json).collect::<Vec<_>>());
    let before = listed(v);
    let (r, back) = import_and_reopen(v, s, &file);
    // Everything accepted is listed, nothing refused was added.
    let after = listed(&back);
    assert!(before.is_subset(&after));
    let twice = Error::Malformed {
        what: "the export lists this prompt twice",
    };
    for refused in &r.refused {
        assert!(
            !after.contains(&refused.id) || before.contains(&refused.id) || refused.reason == twice
        );
    }
    assert_eq!(after.len(), before.len() + r.prompts_added);
    // What was written is in normal form: the reopened vault and the one
    // that wrote agree on every prompt.
    for id in &after {
        assert_eq!(
            back.summary(*id).unwrap().tags,
            v.summary(*id).unwrap().tags
        );
        assert_eq!(back.history(*id).unwrap(), v.history(*id).unwrap());
    }
    r
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    /// Arbitrary (often rule-breaking) exports, imported twice in a row:
    /// the store opens after each, and lists everything accepted.
    #[test]
    fn arbitrary_imports_always_leave_an_openable_vault(
        first in prop::collection::vec(arb_prompt(), 0..4),
        second in prop::collection::vec(arb_prompt(), 0..4),
    ) {
        let (mut v, mut s) = new_vault();
        import_checked(&mut v, &mut s, &first);
        import_checked(&mut v, &mut s, &second);
    }

    /// Two devices import different arbitrary exports into copies of one
    /// vault, then merge each other's records: both stores open, nothing
    /// is damaged, and each lists the union of what both accepted.
    #[test]
    fn arbitrary_imports_then_merges_always_leave_an_openable_vault(
        left in prop::collection::vec(arb_prompt(), 0..4),
        right in prop::collection::vec(arb_prompt(), 0..4),
    ) {
        // Disjoint prompt ids: two devices that each import the same new
        // prompt draw two item keys for one storage key (a known limit of
        // import, see the report), which this test is not about.
        let right: Vec<ArbPrompt> = right
            .into_iter()
            .map(|p| ArbPrompt { id: p.id + 10, ..p })
            .collect();
        let (mut a, mut sa) = new_vault();
        let (mut b, mut sb) = new_vault();
        import_checked(&mut a, &mut sa, &left);
        import_checked(&mut b, &mut sb, &right);
        let union: BTreeSet<PromptId> = listed(&a).union(&listed(&b)).copied().collect();
        let from_b: Vec<Vec<u8>> = sb.records().map(|r| r.as_bytes().to_vec()).collect();
        let from_a: Vec<Vec<u8>> = sa.records().map(|r| r.as_bytes().to_vec()).collect();
        let ra = a.merge(&from_b).unwrap();
        let rb = b.merge(&from_a).unwrap();
        prop_assert!(ra.damaged.is_empty() && rb.damaged.is_empty());
        sa.apply(&ra.changes);
        sb.apply(&rb.changes);
        for (v, s) in [(&a, &sa), (&b, &sb)] {
            let back = reopen(s);
            prop_assert!(back.damaged_prompts().is_empty());
            prop_assert_eq!(listed(&back), union.clone());
            prop_assert_eq!(listed(v), union.clone());
        }
    }

    /// Hostile metadata merged in (authentic, rule-breaking): the merge
    /// succeeds, the prompt is kept as damaged, and the store opens.
    #[test]
    fn hostile_metadata_merged_in_degrades_one_prompt(tags in prop::collection::vec(label(), 0..70)) {
        let (s, bad, good) = vault_with_damage(move |m| m["tags"] = json!(tags.clone()));
        let (mut v, mut mine) = new_vault();
        let recs: Vec<Vec<u8>> = s.records().map(|r| r.as_bytes().to_vec()).collect();
        let r = v.merge(&recs).unwrap();
        mine.apply(&r.changes);
        let back = reopen(&mine);
        prop_assert_eq!(back.damaged_prompts().len(), r.damaged.len());
        let mut want = BTreeSet::from([good]);
        if r.damaged.is_empty() {
            want.insert(bad);
        }
        prop_assert_eq!(listed(&back), want);
    }
}
