//! The prompt model: versions, tags, search, sync, rollback, prune, limits,
//! and property tests over random operation sequences.
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

use promptvault::model::{MAX_BODY_LEN, MAX_TAGS_PER_PROMPT};
use promptvault::{
    ArchivedFilter, Credential, Draft, Error, KdfParams, MemoryStore, Password, PromptId, Query,
    RecordKind, SeenRevisions, TagMode, Timestamp, Vault,
};
use proptest::prelude::*;

fn fast() -> KdfParams {
    KdfParams::new(KdfParams::MIN_M_COST_KIB, 1, 1).unwrap()
}

fn pw() -> Password {
    Password::new("pw").unwrap()
}

fn d(title: &str, body: &str) -> Draft {
    Draft {
        title: title.into(),
        body: body.into(),
        ..Draft::default()
    }
}

fn new_vault() -> (Vault, MemoryStore) {
    let c = Vault::create(&pw(), fast()).unwrap();
    let mut s = MemoryStore::new();
    s.apply(&c.changes);
    (c.vault, s)
}

fn reopen(s: &MemoryStore) -> Vault {
    Vault::open(
        s.header().unwrap(),
        s.record_bytes(),
        Credential::Password(&pw()),
    )
    .unwrap()
}

/// Everything observable about a vault, bodies included.
fn state(v: &Vault) -> Vec<(PromptId, serde_json::Value)> {
    v.prompt_ids()
        .into_iter()
        .map(|id| {
            let mut s = serde_json::to_value(v.summary(id).unwrap()).unwrap();
            s.as_object_mut().unwrap().remove("revision");
            let versions: Vec<_> = v
                .history(id)
                .unwrap()
                .iter()
                .map(|e| serde_json::to_value(v.version(id, Some(e.id)).unwrap()).unwrap())
                .collect();
            (id, serde_json::json!({"summary": s, "versions": versions}))
        })
        .collect()
}

#[test]
fn tags_fold_unicode_case_and_filter_any_all_none() {
    let (mut v, _) = new_vault();
    let t = |s: &str| s.to_string();
    let (a, _) = v
        .create_prompt(&d("a", "x"), &[t("Straße"), t("Art")], false, Timestamp(1))
        .unwrap();
    let (b, _) = v
        .create_prompt(&d("b", "y"), &[t("STRASSE")], true, Timestamp(2))
        .unwrap();
    let (c, _) = v
        .create_prompt(
            &d("c", "z"),
            &[t("art"), t("ıstanbul")],
            false,
            Timestamp(3),
        )
        .unwrap();
    let q = |tags: &[&str], mode| Query {
        tags: tags.iter().map(|s| s.to_string()).collect(),
        tag_mode: mode,
        ..Query::default()
    };
    let ids = |v: &Vault, q: &Query| {
        v.list(q)
            .unwrap()
            .into_iter()
            .map(|s| s.id)
            .collect::<BTreeSet<_>>()
    };
    assert_eq!(ids(&v, &q(&["strasse"], TagMode::Any)), [a, b].into());
    assert_eq!(ids(&v, &q(&["ART", "straße"], TagMode::All)), [a].into());
    assert_eq!(ids(&v, &q(&["art"], TagMode::None)), [b].into());
    assert_eq!(
        ids(&v, &q(&["istanbul"], TagMode::Any)),
        BTreeSet::new(),
        "dotless ı is not i"
    );
    // The user's spelling is kept; counts merge spellings.
    let tags = v.tags();
    assert!(
        tags.iter()
            .any(|t| t.count == 2 && (t.tag == "Straße" || t.tag == "STRASSE"))
    );
    assert_eq!(v.summary(c).unwrap().tags, vec!["art", "ıstanbul"]);
    // Adding the same tag in another case does not duplicate it.
    v.add_tags(a, &[t("ART")], Timestamp(4)).unwrap();
    assert_eq!(v.summary(a).unwrap().tags, vec!["Straße", "Art"]);
    // Rename merges into an existing spelling across the vault.
    v.rename_tag("straße", "art", Timestamp(5)).unwrap();
    assert_eq!(v.summary(a).unwrap().tags, vec!["art"]);
    assert_eq!(v.summary(b).unwrap().tags, vec!["art"]);
    assert_eq!(v.tags().len(), 2);
    assert!(matches!(
        v.rename_tag("nope", "x", Timestamp(6)),
        Err(Error::NotFound { .. })
    ));
}

#[test]
fn search_combines_with_filters_and_sorts_by_recency() {
    let (mut v, _) = new_vault();
    let (a, _) = v
        .create_prompt(
            &d("Castle", "a castle at DAWN"),
            &["art".into()],
            true,
            Timestamp(10),
        )
        .unwrap();
    let (b, _) = v
        .create_prompt(
            &d("Dawn chorus", "birds"),
            &["audio".into()],
            false,
            Timestamp(20),
        )
        .unwrap();
    let (c, _) = v
        .create_prompt(&d("Other", "nothing"), &[], false, Timestamp(30))
        .unwrap();
    let mut note = d("Other", "nothing");
    note.note = "remember the dawn".into();
    v.add_version(c, &note, Timestamp(40)).unwrap();
    let hits = v
        .list(&Query {
            text: Some("dawn".into()),
            ..Query::default()
        })
        .unwrap();
    assert_eq!(
        hits.iter().map(|s| s.id).collect::<Vec<_>>(),
        vec![c, b, a],
        "title, body and note; newest first"
    );
    let favs = v
        .list(&Query {
            text: Some("dawn".into()),
            favorites_only: true,
            ..Query::default()
        })
        .unwrap();
    assert_eq!(favs.len(), 1);
    v.set_archived(b, true, Timestamp(50)).unwrap();
    assert_eq!(
        v.list(&Query {
            text: Some("dawn".into()),
            ..Query::default()
        })
        .unwrap()
        .len(),
        2
    );
    let arch = v
        .list(&Query {
            archived: ArchivedFilter::Only,
            ..Query::default()
        })
        .unwrap();
    assert_eq!(arch.iter().map(|s| s.id).collect::<Vec<_>>(), vec![b]);
}

#[test]
fn listing_and_filtering_never_decrypt_bodies() {
    let (mut v, mut s) = new_vault();
    let (a, c) = v
        .create_prompt(&d("Castle", "body"), &["art".into()], true, Timestamp(1))
        .unwrap();
    s.apply(&c);
    // Corrupt the only version record's ciphertext: if list/filter decrypted
    // bodies, they would fail.
    let rec = s
        .records()
        .find(|r| r.kind() == RecordKind::PromptVersion)
        .unwrap()
        .clone();
    let mut bytes = rec.as_bytes().to_vec();
    let n = bytes.len();
    bytes[n - 1] ^= 1;
    let v2 = Vault::open(
        s.header().unwrap(),
        s.records()
            .filter(|r| r.kind() != RecordKind::PromptVersion)
            .map(|r| r.as_bytes().to_vec())
            .chain([bytes]),
        Credential::Password(&pw()),
    )
    .unwrap();
    let listed = v2
        .list(&Query {
            tags: vec!["ART".into()],
            favorites_only: true,
            ..Query::default()
        })
        .unwrap();
    assert_eq!(listed[0].id, a);
    assert_eq!(listed[0].title, "Castle");
    // History reads titles and parents from the version records (SPEC
    // §6.1), so it, like reading the body or a text search, is where the
    // tampered record fails, opaquely.
    assert_eq!(v2.history(a).unwrap_err(), Error::Authentication);
    assert_eq!(v2.version(a, None).unwrap_err(), Error::Authentication);
    assert_eq!(
        v2.list(&Query {
            text: Some("body".into()),
            ..Query::default()
        })
        .unwrap_err(),
        Error::Authentication
    );
    assert_eq!(v2.verify().unwrap_err(), Error::Authentication);
}

#[test]
fn versions_restore_diff_and_history() {
    let (mut v, _) = new_vault();
    let (id, _) = v
        .create_prompt(&d("t", "one\ntwo\n"), &[], false, Timestamp(1))
        .unwrap();
    let (v2, _) = v
        .add_version(id, &d("t", "one\nthree\n"), Timestamp(2))
        .unwrap();
    let h = v.history(id).unwrap();
    assert_eq!(h.len(), 2);
    assert_eq!(h[1].parent, Some(h[0].id));
    let diff = v.diff(id, h[0].id, v2).unwrap();
    let ops: Vec<_> = diff
        .iter()
        .map(|l| (format!("{:?}", l.op), l.text.as_str()))
        .collect();
    assert_eq!(
        ops,
        vec![
            ("Equal".into(), "one"),
            ("Delete".into(), "two"),
            ("Insert".into(), "three")
        ]
    );
    let (v3, _) = v.restore_version(id, h[0].id, Timestamp(3)).unwrap();
    let cur = v.version(id, None).unwrap();
    assert_eq!(
        (cur.id, cur.body.as_str(), cur.parent),
        (v3, "one\ntwo\n", Some(h[0].id))
    );
    assert_eq!(v.history(id).unwrap().len(), 3);
    assert_eq!(v.publish(id, Some(v2)).unwrap().body, "one\nthree\n");
}

#[test]
fn prune_and_delete_really_remove_records() {
    let (mut v, mut s) = new_vault();
    let (id, c) = v
        .create_prompt(&d("t", "0"), &[], false, Timestamp(0))
        .unwrap();
    s.apply(&c);
    for i in 1..5u64 {
        let (_, c) = v
            .add_version(id, &d("t", &i.to_string()), Timestamp(i))
            .unwrap();
        s.apply(&c);
    }
    let versions_before: Vec<_> = s
        .records()
        .filter(|r| r.kind() == RecordKind::PromptVersion)
        .cloned()
        .collect();
    assert_eq!(versions_before.len(), 5);
    let c = v.prune_history(id, 2, Timestamp(10)).unwrap();
    assert_eq!(c.deletes.len(), 3);
    s.apply(&c);
    assert_eq!(
        s.records()
            .filter(|r| r.kind() == RecordKind::PromptVersion)
            .count(),
        2
    );
    let reopened = reopen(&s);
    assert_eq!(reopened.history(id).unwrap().len(), 2);
    assert_eq!(reopened.version(id, None).unwrap().body, "4");
    // A server replaying a pruned version does not bring it back.
    let mut again = reopen(&s);
    let report = again
        .merge(versions_before.iter().map(|r| r.as_bytes()))
        .unwrap();
    assert_eq!(again.history(id).unwrap().len(), 2);
    assert_eq!(report.versions_added, 0);
    assert!(report.changes.puts.is_empty());
    // Deleting the prompt deletes every record it had.
    let c = v.delete_prompt(id).unwrap();
    s.apply(&c);
    assert!(
        s.is_empty(),
        "{:?}",
        s.records().map(|r| r.storage_key()).collect::<Vec<_>>()
    );
    assert!(matches!(v.version(id, None), Err(Error::NotFound { .. })));
    // The only version cannot be deleted on its own.
    let (id2, _) = v
        .create_prompt(&d("t", "x"), &[], false, Timestamp(0))
        .unwrap();
    let only = v.history(id2).unwrap()[0].id;
    assert!(matches!(
        v.delete_version(id2, only, Timestamp(1)),
        Err(Error::InvalidInput { .. })
    ));
}

#[test]
fn two_devices_editing_offline_lose_no_version_and_converge() {
    let (mut a, mut store) = new_vault();
    let (id, c) = a
        .create_prompt(&d("shared", "v0"), &["t".into()], false, Timestamp(1))
        .unwrap();
    store.apply(&c);
    let mut b = reopen(&store);
    let mut store_a = store.clone();
    let mut store_b = store.clone();
    // Offline edits on both.
    let mut from_a = Vec::new();
    let mut from_b = Vec::new();
    for i in 0..3u64 {
        let (_, c) = a
            .add_version(id, &d("shared", &format!("a{i}")), Timestamp(10 + i))
            .unwrap();
        store_a.apply(&c);
        from_a.extend(c.puts);
        let (_, c) = b
            .add_version(id, &d("shared", &format!("b{i}")), Timestamp(20 + i))
            .unwrap();
        store_b.apply(&c);
        from_b.extend(c.puts);
    }
    let c = a.set_favorite(id, true, Timestamp(30)).unwrap();
    store_a.apply(&c);
    from_a.extend(c.puts);
    let c = b.add_tags(id, &["only-b".into()], Timestamp(31)).unwrap();
    store_b.apply(&c);
    from_b.extend(c.puts);
    // Exchange.
    let ra = a.merge(from_b.iter().map(|r| r.as_bytes())).unwrap();
    store_a.apply(&ra.changes);
    let rb = b.merge(from_a.iter().map(|r| r.as_bytes())).unwrap();
    store_b.apply(&rb.changes);
    assert_eq!(ra.versions_added, 3);
    assert_eq!(rb.versions_added, 3);
    assert_eq!(ra.conflicts_resolved, 1);
    // Every version kept, on both, and both agree.
    assert_eq!(a.history(id).unwrap().len(), 7);
    assert_eq!(state(&a), state(&b));
    // Reopening each device's store gives the same state too.
    assert_eq!(state(&reopen(&store_a)), state(&reopen(&store_b)));
    // A second exchange of the merged metadata changes nothing more.
    let again = a
        .merge(rb.changes.puts.iter().map(|r| r.as_bytes()))
        .unwrap();
    assert_eq!(again.versions_added, 0);
    assert_eq!(state(&a), state(&b));
}

#[test]
fn metadata_rollback_is_detected_with_seen_revisions() {
    let (mut v, mut s) = new_vault();
    let (id, c) = v
        .create_prompt(&d("t", "x"), &[], false, Timestamp(1))
        .unwrap();
    s.apply(&c);
    let old = s.clone();
    s.apply(&v.set_favorite(id, true, Timestamp(2)).unwrap());
    let seen: SeenRevisions = v.seen_revisions();
    assert_eq!(seen.prompts[&id], 2);
    // The server serves the old metadata.
    let err = Vault::open_with_seen(
        old.header().unwrap(),
        old.record_bytes(),
        Credential::Password(&pw()),
        &seen,
    )
    .unwrap_err();
    assert_eq!(err, Error::Rollback { found: 1, seen: 2 });
    // An old header after a password change is a header rollback, caught before the KDF.
    let before_pw = s.clone();
    s.apply(
        &v.change_password(&Password::new("new").unwrap(), None)
            .unwrap(),
    );
    let seen = v.seen_revisions();
    let err = Vault::open_with_seen(
        before_pw.header().unwrap(),
        before_pw.record_bytes(),
        Credential::Password(&pw()),
        &seen,
    )
    .unwrap_err();
    assert!(matches!(err, Error::Rollback { .. }));
    Vault::open_with_seen(
        s.header().unwrap(),
        s.record_bytes(),
        Credential::Password(&Password::new("new").unwrap()),
        &seen,
    )
    .unwrap();
}

#[test]
fn limits_give_typed_errors_and_change_nothing() {
    let (mut v, _) = new_vault();
    let big = "x".repeat(MAX_BODY_LEN + 1);
    assert!(matches!(
        v.create_prompt(&d("t", &big), &[], false, Timestamp(0)),
        Err(Error::LimitExceeded { .. })
    ));
    assert!(matches!(
        v.create_prompt(&d("  ", "b"), &[], false, Timestamp(0)),
        Err(Error::InvalidInput { .. })
    ));
    let many: Vec<String> = (0..=MAX_TAGS_PER_PROMPT).map(|i| format!("t{i}")).collect();
    assert!(matches!(
        v.create_prompt(&d("t", "b"), &many, false, Timestamp(0)),
        Err(Error::LimitExceeded { .. })
    ));
    assert!(matches!(
        v.create_prompt(&d("t", "b"), &["x".repeat(65)], false, Timestamp(0)),
        Err(Error::LimitExceeded { .. })
    ));
    assert!(v.is_empty(), "failed creates left nothing behind");
    let (id, _) = v
        .create_prompt(&d("t", "b"), &[], false, Timestamp(0))
        .unwrap();
    let before = state(&v);
    assert!(matches!(
        v.add_version(id, &d("t", &big), Timestamp(1)),
        Err(Error::LimitExceeded { .. })
    ));
    assert!(matches!(
        v.add_tags(id, &many, Timestamp(1)),
        Err(Error::LimitExceeded { .. })
    ));
    assert_eq!(state(&v), before);
}

#[test]
fn versions_per_prompt_are_bounded() {
    let (mut v, _) = new_vault();
    let (id, _) = v
        .create_prompt(&d("t", "0"), &[], false, Timestamp(0))
        .unwrap();
    for i in 1..promptvault::model::MAX_VERSIONS_PER_PROMPT as u64 {
        v.add_version(id, &d("t", ""), Timestamp(i)).unwrap();
    }
    assert!(matches!(
        v.add_version(id, &d("t", ""), Timestamp(9999)),
        Err(Error::LimitExceeded { .. })
    ));
    v.prune_history(id, 10, Timestamp(10_000)).unwrap();
    v.add_version(id, &d("t", "again"), Timestamp(10_001))
        .unwrap();
}

// ---- property tests -------------------------------------------------------

#[derive(Clone, Debug)]
enum Op {
    Create {
        title: String,
        body: String,
        tags: Vec<String>,
        fav: bool,
    },
    Edit {
        which: usize,
        body: String,
    },
    Tag {
        which: usize,
        tag: String,
    },
    Untag {
        which: usize,
        tag: String,
    },
    Fav {
        which: usize,
        on: bool,
    },
    Archive {
        which: usize,
        on: bool,
    },
    Restore {
        which: usize,
        back: usize,
    },
    Prune {
        which: usize,
        keep: usize,
    },
    Delete {
        which: usize,
    },
    Rename {
        from: String,
        to: String,
    },
}

fn tag() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "art", "Art", "ART", "straße", "STRASSE", "llm", "ıx", "Ix", "oil",
    ])
    .prop_map(String::from)
}

fn op() -> impl Strategy<Value = Op> {
    let text = "[a-zA-Z0-9 äß\n]{0,40}";
    prop_oneof![
        3 => ("[A-Za-z][a-z ]{0,10}", text, prop::collection::vec(tag(), 0..3), any::<bool>())
            .prop_map(|(title, body, tags, fav)| Op::Create { title, body, tags, fav }),
        3 => (any::<usize>(), text).prop_map(|(which, body)| Op::Edit { which, body }),
        2 => (any::<usize>(), tag()).prop_map(|(which, tag)| Op::Tag { which, tag }),
        1 => (any::<usize>(), tag()).prop_map(|(which, tag)| Op::Untag { which, tag }),
        1 => (any::<usize>(), any::<bool>()).prop_map(|(which, on)| Op::Fav { which, on }),
        1 => (any::<usize>(), any::<bool>()).prop_map(|(which, on)| Op::Archive { which, on }),
        1 => (any::<usize>(), any::<usize>()).prop_map(|(which, back)| Op::Restore { which, back }),
        1 => (any::<usize>(), 1..3usize).prop_map(|(which, keep)| Op::Prune { which, keep }),
        1 => any::<usize>().prop_map(|which| Op::Delete { which }),
        1 => (tag(), tag()).prop_map(|(from, to)| Op::Rename { from, to }),
    ]
}

fn apply(v: &mut Vault, s: &mut MemoryStore, op: &Op, t: u64) {
    let ids = v.prompt_ids();
    let pick = |w: usize| ids.get(w % ids.len().max(1)).copied();
    let now = Timestamp(t);
    let c = match op {
        Op::Create {
            title,
            body,
            tags,
            fav,
        } => v
            .create_prompt(&d(title, body), tags, *fav, now)
            .map(|(_, c)| c),
        Op::Edit { which, body } => match pick(*which) {
            Some(id) => v.add_version(id, &d("edited", body), now).map(|(_, c)| c),
            None => return,
        },
        Op::Tag { which, tag } => match pick(*which) {
            Some(id) => v.add_tags(id, std::slice::from_ref(tag), now),
            None => return,
        },
        Op::Untag { which, tag } => match pick(*which) {
            Some(id) => v.remove_tags(id, std::slice::from_ref(tag), now),
            None => return,
        },
        Op::Fav { which, on } => match pick(*which) {
            Some(id) => v.set_favorite(id, *on, now),
            None => return,
        },
        Op::Archive { which, on } => match pick(*which) {
            Some(id) => v.set_archived(id, *on, now),
            None => return,
        },
        Op::Restore { which, back } => match pick(*which) {
            Some(id) => {
                let h = v.history(id).unwrap();
                let target = h[back % h.len()].id;
                v.restore_version(id, target, now).map(|(_, c)| c)
            }
            None => return,
        },
        Op::Prune { which, keep } => match pick(*which) {
            Some(id) => v.prune_history(id, *keep, now),
            None => return,
        },
        Op::Delete { which } => match pick(*which) {
            Some(id) => v.delete_prompt(id),
            None => return,
        },
        Op::Rename { from, to } => match v.rename_tag(from, to, now) {
            Err(Error::NotFound { .. }) => return,
            other => other,
        },
    };
    s.apply(&c.unwrap_or_else(|e| panic!("{op:?}: {e}")));
}

fn shared_store() -> &'static (MemoryStore, Vault) {
    static CELL: OnceLock<(MemoryStore, Vault)> = OnceLock::new();
    CELL.get_or_init(|| {
        let (v, s) = new_vault();
        (s, v)
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Random operations, then lock/unlock, export/import: the same state.
    #[test]
    fn random_operations_survive_lock_unlock_export_import(ops in prop::collection::vec(op(), 1..25)) {
        let (base_store, _) = shared_store();
        let mut s = base_store.clone();
        let mut v = reopen(&s);
        for (t, op) in ops.iter().enumerate() {
            apply(&mut v, &mut s, op, t as u64 + 1);
        }
        let expected = state(&v);
        drop(v); // lock
        let v = reopen(&s);
        v.verify().unwrap();
        prop_assert_eq!(state(&v), expected.clone());
        let file = v.export(&Password::new("e").unwrap(), fast()).unwrap();
        let mut fresh = reopen(base_store);
        fresh.import(&file, &Password::new("e").unwrap(), Timestamp(0)).unwrap();
        prop_assert_eq!(state(&fresh), expected);
        let again = fresh.import(&file, &Password::new("e").unwrap(), Timestamp(0)).unwrap();
        prop_assert!(again.changes.is_empty());
    }

    /// Any mutation of any record is an error, never a panic or a silent success.
    #[test]
    fn any_mutation_of_any_record_is_an_error(
        which in any::<usize>(), at in any::<usize>(), xor in 1u8..=255, cut in any::<bool>(), extra in any::<bool>()
    ) {
        static FIX: OnceLock<(MemoryStore, Vec<Vec<u8>>)> = OnceLock::new();
        let (store, recs) = FIX.get_or_init(|| {
            let (mut v, mut s) = new_vault();
            let (id, c) = v.create_prompt(&d("t", "body"), &["a".into()], true, Timestamp(1)).unwrap();
            s.apply(&c);
            s.apply(&v.add_version(id, &d("t", "body 2"), Timestamp(2)).unwrap().1);
            let recs = s.records().map(|r| r.as_bytes().to_vec()).collect();
            (s, recs)
        });
        let i = which % recs.len();
        let mut bad = recs[i].clone();
        if cut {
            bad.truncate(at % bad.len());
        } else if extra {
            bad.push(xor);
        } else {
            let j = at % bad.len();
            bad[j] ^= xor;
        }
        let mut all = recs.clone();
        all[i] = bad.clone();
        let rk_unlocked = Vault::open(store.header().unwrap(), all.clone(), Credential::Password(&pw()));
        let outcome = rk_unlocked.and_then(|v| v.verify());
        prop_assert!(outcome.is_err());
        // The keyless view never panics either.
        let _ = promptvault::inspect::inspect(&bad);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, ..ProptestConfig::default() })]

    /// Two devices edit the same prompts offline in any interleaving; after
    /// exchanging their changes both hold every version and agree.
    #[test]
    fn concurrent_edits_from_two_devices_keep_every_version(
        edits in prop::collection::vec((any::<bool>(), 0usize..3, "[a-z]{0,8}", any::<bool>()), 1..16)
    ) {
        let (base_store, _) = shared_store();
        let mut s0 = base_store.clone();
        let mut seed = reopen(&s0);
        let mut ids = Vec::new();
        for i in 0..3u64 {
            let (id, c) = seed.create_prompt(&d("p", "v0"), &[], false, Timestamp(i)).unwrap();
            s0.apply(&c);
            ids.push(id);
        }
        let mut devices = [reopen(&s0), reopen(&s0)];
        let mut outboxes: [Vec<Vec<u8>>; 2] = [Vec::new(), Vec::new()];
        let mut written = 0usize;
        for (t, (on_b, which, body, flag)) in edits.iter().enumerate() {
            let dev = usize::from(*on_b);
            let id = ids[*which];
            let now = Timestamp(100 + t as u64);
            let c = if *flag {
                written += 1;
                devices[dev].add_version(id, &d("p", body), now).unwrap().1
            } else {
                devices[dev].add_tags(id, &[format!("t{t}")], now).unwrap()
            };
            outboxes[dev].extend(c.puts.iter().map(|r| r.as_bytes().to_vec()));
        }
        let [mut a, mut b] = devices;
        let ra = a.merge(&outboxes[1]).unwrap();
        let rb = b.merge(&outboxes[0]).unwrap();
        // Exchange the merge results too, as a sync loop would.
        a.merge(rb.changes.puts.iter().map(|r| r.as_bytes())).unwrap();
        b.merge(ra.changes.puts.iter().map(|r| r.as_bytes())).unwrap();
        let total: usize = ids.iter().map(|id| a.history(*id).unwrap().len()).sum();
        prop_assert_eq!(total, 3 + written);
        prop_assert_eq!(state(&a), state(&b));
    }

    /// After pruning, the store holds exactly the versions the metadata lists.
    #[test]
    fn prune_leaves_exactly_the_listed_versions(n in 1usize..8, keep in 1usize..8) {
        let (base_store, _) = shared_store();
        let mut s = base_store.clone();
        let mut v = reopen(&s);
        let (id, c) = v.create_prompt(&d("p", "0"), &[], false, Timestamp(0)).unwrap();
        s.apply(&c);
        for i in 0..n {
            s.apply(&v.add_version(id, &d("p", &i.to_string()), Timestamp(i as u64 + 1)).unwrap().1);
        }
        s.apply(&v.prune_history(id, keep, Timestamp(99)).unwrap());
        let listed: BTreeSet<_> = v.history(id).unwrap().into_iter().map(|e| e.id).collect();
        let stored: BTreeSet<_> = s
            .records()
            .filter(|r| r.kind() == RecordKind::PromptVersion)
            .map(|r| r.header().version_id().unwrap())
            .collect();
        prop_assert_eq!(listed.len(), keep.min(n + 1));
        prop_assert_eq!(listed, stored);
    }
}
