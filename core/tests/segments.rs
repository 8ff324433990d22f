//! Issue 11 B: the version index in write-once segments (SPEC §6.4). An
//! edit re-seals the metadata's open tail (under 64 entries) and the
//! segment list, whatever the history; full blocks of 64 entries move to
//! `prompt-index` records. Merges, prunes, imports and rotation rebuild or
//! re-seal the segments; every state they reach stays writable.
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

use promptvault::format::read::parse_record;
use promptvault::inspect::inspect;
use promptvault::model::{MAX_MERGED_VERSIONS, MAX_SEGMENTS, MAX_TITLE_LEN, SEGMENT_ENTRIES};
use promptvault::{
    Credential, Draft, Error, KdfParams, MemoryStore, Password, PromptId, RecordKind, Timestamp,
    Vault,
};

fn fast() -> KdfParams {
    KdfParams::new(KdfParams::MIN_M_COST_KIB, 1, 1).unwrap()
}

fn pw() -> Password {
    Password::new("pw").unwrap()
}

fn draft(i: usize) -> Draft {
    Draft {
        title: format!("v{i}"),
        body: format!("body {i}"),
        ..Draft::default()
    }
}

/// A title of exactly [`MAX_TITLE_LEN`] bytes, unique per `i`.
fn long_draft(i: usize) -> Draft {
    let head = format!("{i:06} ");
    Draft {
        title: format!("{head}{}", "t".repeat(MAX_TITLE_LEN - head.len())),
        body: "b".into(),
        ..Draft::default()
    }
}

fn new_vault() -> (Vault, MemoryStore) {
    let c = Vault::create(&pw(), fast()).unwrap();
    let mut s = MemoryStore::new();
    s.apply(&c.changes);
    (c.vault, s)
}

fn reopen(s: &MemoryStore) -> Result<Vault, Error> {
    Vault::open(
        s.header().unwrap(),
        s.record_bytes(),
        Credential::Password(&pw()),
    )
}

fn records_of(s: &MemoryStore, kind: RecordKind) -> Vec<Vec<u8>> {
    s.records()
        .filter(|r| r.kind() == kind)
        .map(|r| r.as_bytes().to_vec())
        .collect()
}

/// The body length of the prompt's metadata record.
fn meta_body(s: &MemoryStore) -> usize {
    let metas = records_of(s, RecordKind::PromptMeta);
    assert_eq!(metas.len(), 1);
    parse_record(&metas[0]).unwrap().1.len()
}

/// A prompt with `n` versions, each `make(i)`, in one vault.
fn prompt_with(n: usize, make: fn(usize) -> Draft) -> (Vault, MemoryStore, PromptId) {
    let (mut v, mut s) = new_vault();
    let (id, c) = v
        .create_prompt(&make(0), &[], false, Timestamp(1_000))
        .unwrap();
    s.apply(&c);
    for i in 1..n {
        let (_, c) = v
            .add_version(id, &make(i), Timestamp(1_000 + i as u64))
            .unwrap();
        s.apply(&c);
    }
    (v, s, id)
}

/// Every 64th edit seals one segment; the others put only the version and
/// the metadata, whose size does not grow with the history.
#[test]
fn an_edit_reseals_the_tail_and_the_segment_list_only() {
    let (mut v, mut s, id) = prompt_with(1, draft);
    let small = meta_body(&s);
    let mut sizes = BTreeSet::new();
    for i in 1..1000 {
        let (_, c) = v
            .add_version(id, &draft(i), Timestamp(2_000 + i as u64))
            .unwrap();
        let segments = c
            .puts
            .iter()
            .filter(|r| r.kind() == RecordKind::PromptIndex)
            .count();
        // Versions 64, 128, …: the tail is full and becomes a segment.
        assert_eq!(
            segments,
            usize::from((i + 1) % SEGMENT_ENTRIES == 0),
            "edit {i}"
        );
        assert_eq!(c.puts.len(), 2 + segments, "edit {i}");
        assert!(c.deletes.is_empty());
        s.apply(&c);
        sizes.insert(meta_body(&s));
    }
    assert_eq!(records_of(&s, RecordKind::PromptIndex).len(), 1000 / 64);
    // The metadata record stays within a few padded sizes: a tail of under
    // 64 entries (2 KiB of base64url) and 15 segment ids.
    let largest = *sizes.iter().max().unwrap();
    assert!(largest <= 4096, "metadata body {largest} bytes");
    assert!(small <= largest);
    let back = reopen(&s).unwrap();
    assert_eq!(back.history(id).unwrap(), v.history(id).unwrap());
    assert_eq!(back.summary(id).unwrap().version_count, 1000);
    back.verify().unwrap();
    // The state edits built passes the full check (every entry, the
    // layout), which `records()` runs when it re-seals the metadata.
    let all = v.records().unwrap();
    assert_eq!(all.len(), s.len());
}

/// The keyless API knows the new kind: its storage key, its segment id,
/// and a body limit that refuses a longer record before allocating.
#[test]
fn inspect_reads_a_segment_keylessly() {
    let (_, s, id) = prompt_with(SEGMENT_ENTRIES, draft);
    let seg = records_of(&s, RecordKind::PromptIndex);
    assert_eq!(seg.len(), 1);
    let info = inspect(&seg[0]).unwrap();
    assert_eq!(info.kind, "prompt-index");
    assert_eq!(info.kind_code, 7);
    assert_eq!(info.prompt_id, Some(id));
    assert_eq!(info.version_id, None);
    let sid = info.segment_id.unwrap();
    assert_eq!(
        info.storage_key,
        format!("i.{}.{}", id.to_hex(), sid.to_hex())
    );
    // 64 entries: padmé(4 + 1536) = 1600, plus nonce and tag.
    assert_eq!(seg[0].len(), 72 + 12 + 1600 + 16);
    let json = serde_json::to_value(&info).unwrap();
    assert_eq!(json["segmentId"], sid.to_hex());
    // Other kinds carry no segment id in their JSON form.
    let meta = records_of(&s, RecordKind::PromptMeta);
    assert!(
        serde_json::to_value(inspect(&meta[0]).unwrap())
            .unwrap()
            .get("segmentId")
            .is_none()
    );
    // A body one padded size larger than the limit is refused keylessly.
    let mut big = seg[0][..72].to_vec();
    big[68..72].copy_from_slice(&(12u32 + 1792 + 16).to_le_bytes());
    big.resize(72 + 12 + 1792 + 16, 0);
    assert!(matches!(inspect(&big), Err(Error::LimitExceeded { .. })));
}

/// A listed segment that the server drops is a missing record, as a
/// dropped version is; a segment the metadata does not list is ignored
/// and deleted with the prompt.
#[test]
fn a_dropped_segment_is_missing_and_a_stray_one_is_ignored() {
    let (v, s, id) = prompt_with(130, draft);
    let segs = records_of(&s, RecordKind::PromptIndex);
    assert_eq!(segs.len(), 2);
    let dropped: Vec<&[u8]> = s
        .records()
        .filter(|r| r.as_bytes() != segs[0].as_slice())
        .map(|r| r.as_bytes())
        .collect();
    let err = Vault::open(s.header().unwrap(), dropped, Credential::Password(&pw())).unwrap_err();
    assert!(matches!(err, Error::MissingRecord { .. }), "{err}");

    // A stray: a segment of this prompt sealed by another store's edit
    // that this metadata never listed.
    let (mut other, mut os) = (v.clone(), s.clone());
    for i in 0..64 {
        let (_, c) = other
            .add_version(id, &draft(1000 + i), Timestamp(9_000 + i as u64))
            .unwrap();
        os.apply(&c);
    }
    let mut with_stray = s.clone();
    for r in os.records().filter(|r| r.kind() == RecordKind::PromptIndex) {
        if !segs.contains(&r.as_bytes().to_vec()) {
            let mut c = promptvault::Changeset::default();
            c.puts.push(r.clone());
            with_stray.apply(&c);
        }
    }
    assert_eq!(records_of(&with_stray, RecordKind::PromptIndex).len(), 3);
    let mut back = reopen(&with_stray).unwrap();
    assert_eq!(back.history(id).unwrap(), v.history(id).unwrap());
    // It survives edits (a newer metadata may list it) and goes with the prompt.
    let (_, c) = back
        .add_version(id, &draft(5000), Timestamp(99_999))
        .unwrap();
    assert!(c.deletes.is_empty());
    with_stray.apply(&c);
    let c = back.delete_prompt(id).unwrap();
    with_stray.apply(&c);
    assert_eq!(with_stray.len(), 0, "every record of the prompt is deleted");
}

/// Pruning a version inside a sealed segment retires that segment (its
/// record is deleted, its live entries cut again with the tail); the
/// tombstone keeps a replayed copy deleted.
#[test]
fn prune_inside_a_segment_rewrites_it() {
    let (mut v, mut s, id) = prompt_with(200, draft);
    let before: BTreeSet<Vec<u8>> = records_of(&s, RecordKind::PromptIndex)
        .into_iter()
        .collect();
    assert_eq!(before.len(), 3);
    let victim = v.history(id).unwrap()[5].id;
    let c = v.delete_version(id, victim, Timestamp(50_000)).unwrap();
    let retired = c.deletes.iter().filter(|k| k.starts_with("i.")).count();
    assert_eq!(retired, 1, "{:?}", c.deletes);
    s.apply(&c);
    let after: BTreeSet<Vec<u8>> = records_of(&s, RecordKind::PromptIndex)
        .into_iter()
        .collect();
    assert_eq!(before.intersection(&after).count(), 2);
    let back = reopen(&s).unwrap();
    assert_eq!(back.history(id).unwrap(), v.history(id).unwrap());
    assert_eq!(back.summary(id).unwrap().version_count, 199);
    // Keep 10: every segment goes, the 10 newest stay in the tail.
    let c = v.prune_history(id, 10, Timestamp(60_000)).unwrap();
    s.apply(&c);
    assert!(records_of(&s, RecordKind::PromptIndex).is_empty());
    assert_eq!(reopen(&s).unwrap().history(id).unwrap().len(), 10);
}

/// Two devices cut different segments from the same tail; merging either
/// way gives the same index, and a second exchange writes nothing.
#[test]
fn concurrent_segments_merge_and_converge() {
    let (a, s0, id) = prompt_with(60, draft);
    let (mut a, mut sa) = (a, s0.clone());
    let mut b = reopen(&s0).unwrap();
    let mut sb = s0.clone();
    for i in 0..10 {
        let (_, c) = a
            .add_version(id, &draft(100 + i), Timestamp(10_000 + i as u64))
            .unwrap();
        sa.apply(&c);
        let (_, c) = b
            .add_version(id, &draft(200 + i), Timestamp(20_000 + i as u64))
            .unwrap();
        sb.apply(&c);
    }
    // Each side sealed its own segment holding the shared first 60.
    let seg_a: BTreeSet<Vec<u8>> = records_of(&sa, RecordKind::PromptIndex)
        .into_iter()
        .collect();
    let seg_b: BTreeSet<Vec<u8>> = records_of(&sb, RecordKind::PromptIndex)
        .into_iter()
        .collect();
    assert_eq!((seg_a.len(), seg_b.len()), (1, 1));
    assert!(seg_a.is_disjoint(&seg_b));

    let ra = a.merge(sb.record_bytes()).unwrap();
    sa.apply(&ra.changes);
    let rb = b.merge(sa.record_bytes()).unwrap();
    sb.apply(&rb.changes);
    assert_eq!(a.history(id).unwrap(), b.history(id).unwrap());
    assert_eq!(a.history(id).unwrap().len(), 80);
    for s in [&sa, &sb] {
        assert_eq!(
            reopen(s).unwrap().history(id).unwrap(),
            a.history(id).unwrap()
        );
    }
    // Settled: another exchange changes nothing on either side.
    let again = a.merge(sb.record_bytes()).unwrap();
    assert_eq!(
        again
            .changes
            .puts
            .iter()
            .filter(|r| r.kind() == RecordKind::PromptMeta)
            .count(),
        0
    );
    let again = b.merge(sa.record_bytes()).unwrap();
    assert_eq!(
        again
            .changes
            .puts
            .iter()
            .filter(|r| r.kind() == RecordKind::PromptMeta)
            .count(),
        0
    );
}

/// Rotation re-seals every segment under the new generation with the same
/// id, and an interrupted rotation still opens.
#[test]
fn rotation_reseals_segments() {
    let (mut v, mut s, id) = prompt_with(150, draft);
    let keys: BTreeSet<String> = s
        .records()
        .filter(|r| r.kind() == RecordKind::PromptIndex)
        .map(promptvault::SealedRecord::storage_key)
        .collect();
    let (_, c) = v.rotate(&pw()).unwrap();
    let mut half = s.clone();
    let mut partial = c.clone();
    partial.puts.retain(|r| {
        r.kind() != RecordKind::PromptIndex || r.storage_key() == *keys.first().unwrap()
    });
    partial.deletes.clear();
    half.apply(&partial);
    let mut h = reopen(&half).unwrap();
    assert_eq!(h.history(id).unwrap(), v.history(id).unwrap());
    assert!(h.rotation_pending());
    half.apply(&h.finish_rotation().unwrap());
    s.apply(&c);
    s.apply(&v.finish_rotation().unwrap());
    for store in [&s, &half] {
        let segs: Vec<_> = store
            .records()
            .filter(|r| r.kind() == RecordKind::PromptIndex)
            .collect();
        assert_eq!(segs.len(), 2);
        assert!(segs.iter().all(|r| r.header().key_generation() == 2));
        let after: BTreeSet<String> = segs.iter().map(|r| r.storage_key()).collect();
        assert_eq!(after, keys);
        let back = reopen(store).unwrap();
        assert!(!back.rotation_pending());
        assert_eq!(back.history(id).unwrap(), v.history(id).unwrap());
    }
}

/// Versions written before their metadata arrives are adopted, segments or
/// not, and the next edit files them in the index.
#[test]
fn versions_before_their_metadata_are_adopted() {
    let (mut v, mut s, id) = prompt_with(10, draft);
    let mut late = s.clone();
    let mut c_all = promptvault::Changeset::default();
    for i in 0..100 {
        let (_, c) = v
            .add_version(id, &draft(300 + i), Timestamp(30_000 + i as u64))
            .unwrap();
        c_all.extend(c);
    }
    s.apply(&c_all);
    // Only the version records reach `late`, not the metadata or segments.
    let mut versions_only = c_all.clone();
    versions_only
        .puts
        .retain(|r| r.kind() == RecordKind::PromptVersion);
    late.apply(&versions_only);
    let mut back = reopen(&late).unwrap();
    assert_eq!(back.history(id).unwrap().len(), 110);
    let (_, c) = back
        .add_version(id, &draft(999), Timestamp(40_000))
        .unwrap();
    late.apply(&c);
    assert!(!records_of(&late, RecordKind::PromptIndex).is_empty());
    let again = reopen(&late).unwrap();
    assert_eq!(again.history(id).unwrap(), back.history(id).unwrap());
    assert!(meta_body(&late) <= 4096);
}

/// Device `seed` of a prompt: a copy of `base` that adds `n` versions with
/// long titles.
fn device(base: &MemoryStore, id: PromptId, seed: usize, n: usize) -> (Vault, MemoryStore) {
    let mut v = reopen(base).unwrap();
    let mut s = base.clone();
    for i in 0..n {
        let k = seed * 10_000 + i;
        let (_, c) = v
            .add_version(id, &long_draft(k), Timestamp(1_000_000 + k as u64))
            .unwrap();
        s.apply(&c);
    }
    (v, s)
}

/// The failing case: two sides of 600+ long-titled versions each
/// merge, import and export.
#[test]
fn two_sides_of_600_long_titled_versions_merge() {
    let (_, base, id) = prompt_with(1, long_draft);
    let (mut a, mut sa) = device(&base, id, 1, 650);
    let (b, sb) = device(&base, id, 2, 650);
    let r = a.merge(sb.record_bytes()).unwrap();
    sa.apply(&r.changes);
    assert_eq!(a.summary(id).unwrap().version_count, 1301);
    assert!(meta_body(&sa) <= 4096);
    let back = reopen(&sa).unwrap();
    assert_eq!(back.history(id).unwrap(), a.history(id).unwrap());
    let file = b.export(&pw(), fast()).unwrap();
    let rep = a.import(&file, &pw(), Timestamp(5)).unwrap();
    assert_eq!(rep.versions_added, 0);
    assert!(rep.refused.is_empty());
}

/// No state an edit, import or merge can reach is unwritable: a prompt at
/// the merged limit (4000 versions) with 1024-byte titles, built by merging
/// two sides of about 2000, has its metadata edited, is merged with
/// another device's 4000-version copy, exported, imported and pruned,
/// every record within its limits and re-read whole; one version more is
/// refused.
#[test]
fn the_largest_history_stays_writable() {
    let (_, base, id) = prompt_with(1, long_draft);
    // Devices of 999 new versions each (1000 with the first), and one of 3:
    // sides of 2002 and 1999, 4000 together.
    let (mut a, mut sa) = device(&base, id, 1, 999);
    let (_, sb) = device(&base, id, 2, 999);
    let (mut c, mut sc) = device(&base, id, 3, 999);
    let (_, sd) = device(&base, id, 4, 999);
    let (_, se) = device(&base, id, 5, 3);
    for s in [&sb, &se] {
        let r = a.merge(s.record_bytes()).unwrap();
        sa.apply(&r.changes);
    }
    let r = c.merge(sd.record_bytes()).unwrap();
    sc.apply(&r.changes);
    assert_eq!(a.summary(id).unwrap().version_count, 2002);
    assert_eq!(c.summary(id).unwrap().version_count, 1999);
    let r = a.merge(sc.record_bytes()).unwrap();
    sa.apply(&r.changes);
    assert_eq!(a.summary(id).unwrap().version_count, MAX_MERGED_VERSIONS);

    // Edits at the limit: metadata (local adds stop at the local limit).
    assert!(matches!(
        a.add_version(id, &long_draft(1), Timestamp(9)),
        Err(Error::LimitExceeded { .. })
    ));
    sa.apply(&a.add_tags(id, &["x".repeat(64)], Timestamp(10)).unwrap());
    sa.apply(&a.set_archived(id, true, Timestamp(11)).unwrap());

    // The other side reaches 4000 too, edits its own metadata, and the two
    // 4000-version copies merge both ways.
    let r = c.merge(sa.record_bytes()).unwrap();
    sc.apply(&r.changes);
    sc.apply(&c.set_favorite(id, true, Timestamp(12)).unwrap());
    let r = a.merge(sc.record_bytes()).unwrap();
    sa.apply(&r.changes);
    let r = c.merge(sa.record_bytes()).unwrap();
    sc.apply(&r.changes);
    assert_eq!(c.history(id).unwrap(), a.history(id).unwrap());
    assert_eq!(a.summary(id).unwrap(), c.summary(id).unwrap());
    assert!(a.summary(id).unwrap().favorite);

    // Every record within its kind's limits; the metadata small.
    for s in [&sa, &sc] {
        for r in s.records() {
            let (h, body) = parse_record(r.as_bytes()).unwrap();
            assert!(body.len() <= h.kind().max_body_len());
        }
        assert!(meta_body(s) <= 8192, "{}", meta_body(s));
        let segments = records_of(s, RecordKind::PromptIndex).len();
        assert!((4000 / 64..=MAX_SEGMENTS).contains(&segments), "{segments}");
        let back = reopen(s).unwrap();
        assert_eq!(back.history(id).unwrap(), a.history(id).unwrap());
        back.verify().unwrap();
    }
    // What the merges and edits built passes the full check.
    assert_eq!(a.records().unwrap().len(), sa.len());
    assert_eq!(c.records().unwrap().len(), sc.len());

    // One version more than the limit is refused, and nothing changes.
    let (_, sf) = device(&base, id, 6, 1);
    let before = a.history(id).unwrap();
    assert!(matches!(
        a.merge(sf.record_bytes()),
        Err(Error::LimitExceeded { .. })
    ));
    assert_eq!(a.history(id).unwrap(), before);

    // Export and import into a fresh vault: the same history, all of it.
    let file = a.export(&pw(), fast()).unwrap();
    let (mut fresh, mut fs) = new_vault();
    let rep = fresh.import(&file, &pw(), Timestamp(13)).unwrap();
    assert!(rep.refused.is_empty(), "{:?}", rep.refused);
    assert_eq!(rep.versions_added, MAX_MERGED_VERSIONS);
    fs.apply(&rep.changes);
    assert!(meta_body(&fs) <= 8192);
    assert_eq!(reopen(&fs).unwrap().history(id).unwrap(), before);
    // And into the vault it came from: nothing new.
    let rep = a.import(&file, &pw(), Timestamp(14)).unwrap();
    assert_eq!(rep.versions_added, 0);

    // Pruning one version inside a segment at the limit.
    let oldest = before[1].id;
    sa.apply(&a.delete_version(id, oldest, Timestamp(15)).unwrap());
    let back = reopen(&sa).unwrap();
    assert_eq!(
        back.summary(id).unwrap().version_count,
        MAX_MERGED_VERSIONS - 1
    );
    assert_eq!(back.history(id).unwrap(), a.history(id).unwrap());
}

/// An authentic segment that breaks a rule (SPEC §6.4) damages its prompt
/// only (SPEC §6.3): the rest of the vault opens, and the damaged prompt is
/// exported as far as readable and deleted with its segment records.
#[test]
fn a_rule_breaking_segment_damages_its_prompt_only() {
    use promptvault::SegmentId;
    use promptvault::format::text;
    let (mut v, mut s, bad) = prompt_with(3, draft);
    let (good, c) = v
        .create_prompt(&draft(7), &[], false, Timestamp(5))
        .unwrap();
    s.apply(&c);
    let sid = SegmentId::from_bytes([0x5e; 16]);
    // Two entries out of order: authentic, but not a segment a writer makes.
    let h = v.history(bad).unwrap();
    let mut plain = Vec::new();
    for e in [&h[2], &h[1]] {
        plain.extend_from_slice(e.id.as_bytes());
        plain.extend_from_slice(&e.created.0.to_le_bytes());
    }
    s.apply(&v.unchecked_segment_for_tests(bad, sid, &plain).unwrap());
    let mut meta: serde_json::Value =
        serde_json::from_slice(&v.meta_json_for_tests(bad).unwrap()).unwrap();
    // The tail keeps the first entry; the segment lists the other two.
    let tail = text::decode(meta["versions"].as_str().unwrap()).unwrap();
    meta["versions"] = serde_json::json!(text::encode(&tail[..24]));
    meta["segments"] = serde_json::json!(text::encode(sid.as_bytes()));
    s.apply(
        &v.unchecked_meta_for_tests(bad, &serde_json::to_vec(&meta).unwrap())
            .unwrap(),
    );
    let mut back = reopen(&s).unwrap();
    assert_eq!(back.prompt_ids(), [good]);
    let damaged = back.damaged_prompts();
    assert_eq!(damaged.len(), 1);
    assert_eq!(damaged[0].id, bad);
    assert!(matches!(damaged[0].reason, Error::Malformed { .. }));
    back.verify().unwrap();
    // Exported as far as readable: rebuilt from its three versions.
    let file = back.export(&pw(), fast()).unwrap();
    let (mut fresh, _) = new_vault();
    let rep = fresh.import(&file, &pw(), Timestamp(9)).unwrap();
    assert!(rep.refused.is_empty());
    assert_eq!(fresh.history(bad).unwrap().len(), 3);
    // Deleted with every record, the segment included.
    let c = back.delete_prompt(bad).unwrap();
    assert!(
        c.deletes.iter().any(|k| k.starts_with("i.")),
        "{:?}",
        c.deletes
    );
    s.apply(&c);
    assert!(records_of(&s, RecordKind::PromptIndex).is_empty());
    assert_eq!(reopen(&s).unwrap().prompt_ids(), [good]);
}

/// One device's random step on the shared prompt.
#[derive(Clone, Debug)]
enum Step {
    Add,
    Tag(u8),
    Delete(usize),
}

fn step() -> impl proptest::strategy::Strategy<Value = Step> {
    use proptest::prelude::*;
    prop_oneof![
        6 => Just(Step::Add),
        1 => any::<u8>().prop_map(Step::Tag),
        1 => any::<usize>().prop_map(Step::Delete),
    ]
}

fn run(v: &mut Vault, s: &mut MemoryStore, id: PromptId, steps: &[Step], dev: u64) {
    for (t, st) in steps.iter().enumerate() {
        let now = Timestamp(100_000 * (dev + 1) + t as u64);
        let c = match st {
            Step::Add => v.add_version(id, &draft(t), now).unwrap().1,
            Step::Tag(x) => v.add_tags(id, &[format!("t{x}")], now).unwrap(),
            Step::Delete(k) => {
                let h = v.history(id).unwrap();
                if h.len() < 2 {
                    continue;
                }
                v.delete_version(id, h[k % h.len()].id, now).unwrap()
            }
        };
        s.apply(&c);
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 8, ..proptest::prelude::ProptestConfig::default() })]

    /// Two devices edit, tag and prune one prompt around the 64-entry
    /// boundary offline; after exchanging stores both ways they agree,
    /// their stores reopen to the same history, every store holds exactly
    /// the versions listed, and a further exchange writes no metadata.
    #[test]
    fn devices_editing_across_segment_boundaries_converge(
        start in 50usize..70,
        a_steps in proptest::collection::vec(step(), 0..80),
        b_steps in proptest::collection::vec(step(), 0..80),
    ) {
        let (_, s0, id) = prompt_with(start, draft);
        let (mut a, mut sa) = (reopen(&s0).unwrap(), s0.clone());
        let (mut b, mut sb) = (reopen(&s0).unwrap(), s0.clone());
        run(&mut a, &mut sa, id, &a_steps, 0);
        run(&mut b, &mut sb, id, &b_steps, 1);
        for _ in 0..2 {
            let r = a.merge(sb.record_bytes()).unwrap();
            sa.apply(&r.changes);
            let r = b.merge(sa.record_bytes()).unwrap();
            sb.apply(&r.changes);
        }
        proptest::prop_assert_eq!(a.history(id).unwrap(), b.history(id).unwrap());
        for (v, s) in [(&a, &sa), (&b, &sb)] {
            let back = reopen(s).unwrap();
            proptest::prop_assert_eq!(back.history(id).unwrap(), v.history(id).unwrap());
            back.verify().unwrap();
            let listed: BTreeSet<_> = v.history(id).unwrap().into_iter().map(|e| e.id).collect();
            let stored: BTreeSet<_> = s
                .records()
                .filter(|r| r.kind() == RecordKind::PromptVersion)
                .map(|r| r.header().version_id().unwrap())
                .collect();
            proptest::prop_assert_eq!(listed, stored);
            v.records().unwrap();
        }
        let again = a.merge(sb.record_bytes()).unwrap();
        proptest::prop_assert!(again.changes.puts.iter().all(|r| r.kind() != RecordKind::PromptMeta));
    }
}

/// A segment a merge stops listing is not deleted: another device may
/// still list it and win a later merge. X cuts segment S; Y adopts it;
/// Z, diverged before S, cuts an overlapping one and wins X's merge, so X
/// stops listing S; then Y, whose metadata is newer, merges X's result,
/// keeps S, and the shared store still opens.
#[test]
fn a_segment_no_longer_listed_here_may_still_be_listed_elsewhere() {
    let (_, s0, id) = prompt_with(60, draft);
    let mut server = s0.clone();
    let mut x = reopen(&s0).unwrap();
    let mut z = reopen(&s0).unwrap();
    for i in 0..4 {
        server.apply(
            &x.add_version(id, &draft(100 + i), Timestamp(10_000 + i as u64))
                .unwrap()
                .1,
        );
    }
    let s_x: Vec<Vec<u8>> = records_of(&server, RecordKind::PromptIndex);
    assert_eq!(s_x.len(), 1);
    // Y takes X's state, S included.
    let mut y = reopen(&server).unwrap();
    // Z edits more (a higher revision) from before S: its own segment.
    let mut zs = s0.clone();
    for i in 0..6 {
        zs.apply(
            &z.add_version(id, &draft(200 + i), Timestamp(20_000 + i as u64))
                .unwrap()
                .1,
        );
    }
    let r = x.merge(zs.record_bytes()).unwrap();
    server.apply(&zs_changes(&zs));
    server.apply(&r.changes);
    assert!(
        r.changes.deletes.iter().all(|k| !k.starts_with("i.")),
        "{:?}",
        r.changes.deletes
    );
    // Y, offline, edits further (the newest revision) and then merges.
    for i in 0..8 {
        let (_, c) = y
            .add_version(id, &draft(300 + i), Timestamp(30_000 + i as u64))
            .unwrap();
        server.apply(&c);
    }
    let r = y.merge(server.record_bytes()).unwrap();
    server.apply(&r.changes);
    let back = reopen(&server).unwrap();
    assert_eq!(back.history(id).unwrap(), y.history(id).unwrap());
    assert_eq!(back.history(id).unwrap().len(), 60 + 4 + 6 + 8);
}

/// Every record of a store, as one changeset of puts.
fn zs_changes(s: &MemoryStore) -> promptvault::Changeset {
    let mut c = promptvault::Changeset::default();
    c.puts.extend(s.records().cloned());
    c
}
