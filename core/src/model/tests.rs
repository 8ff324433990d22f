#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use super::*;
use crate::format::json::{from_canonical, to_canonical};

fn meta(title: &str, tags: &[&str], n: usize, dead: usize) -> StoredMeta {
    let versions: Vec<IndexEntry> = (0..n)
        .map(|i| IndexEntry {
            created: Timestamp(1_700_000_000_000 + i as u64),
            id: VersionId::from_bytes([u8::try_from(i % 251).unwrap(); 16]),
        })
        .collect();
    StoredMeta {
        archived: n.is_multiple_of(2),
        created: Timestamp(0),
        current: versions
            .first()
            .map_or(VersionId::from_bytes([9; 16]), |e| e.id),
        deleted: (0..dead)
            .map(|i| VersionId::from_bytes([u8::try_from(i % 256).unwrap(); 16]))
            .collect(),
        favorite: n.is_multiple_of(3),
        segments: (0..n % 7)
            .map(|i| SegmentId::from_bytes([u8::try_from(i).unwrap(); 16]))
            .collect(),
        tags: tags.iter().map(|t| (*t).to_owned()).collect(),
        title: title.to_owned(),
        updated: Timestamp::MAX,
        versions,
    }
}

/// The direct metadata writer produces exactly the general RFC 8785
/// serialiser's bytes, which the reader accepts and parses back.
#[test]
fn meta_writer_is_canonical() {
    let titles = [
        "plain",
        "quote \" backslash \\ slash /",
        "\u{0}\u{1}\u{8}\u{9}\u{a}\u{b}\u{c}\u{d}\u{1f}\u{7f}",
        "é ß 😀 \u{2028} \u{fffd} \u{ff61}",
    ];
    for (i, t) in titles.iter().enumerate() {
        let m = meta(t, &["Art", "Straße", "a\"b", "😀"][..i], i * 333, i * 100);
        let fast = meta_json(&m.view()).unwrap();
        assert_eq!(fast, to_canonical(&m).unwrap(), "{t:?}");
        let back: StoredMeta = from_canonical(&fast, "meta").unwrap();
        assert_eq!(back, m);
    }
    let mut m = meta("t", &[], 1, 0);
    m.updated = Timestamp(Timestamp::MAX.0 + 1);
    assert!(meta_json(&m.view()).is_err());
}

/// A segment plaintext is its entries, 24 bytes each, and reads back.
#[test]
fn segment_plaintext_round_trips() {
    let entries: Vec<IndexEntry> = (0..64u8)
        .map(|i| IndexEntry {
            created: Timestamp(u64::from(i)),
            id: VersionId::from_bytes([i; 16]),
        })
        .collect();
    let plain = index::segment_plaintext(&entries).unwrap();
    assert_eq!(plain.len(), 64 * 24);
    assert_eq!(plain[..16], [0; 16]);
    assert_eq!(plain[24..40], [1; 16]);
    assert_eq!(plain[40..48], 1u64.to_le_bytes());
    assert_eq!(index::parse_segment(&plain).unwrap(), entries);
    assert!(index::parse_segment(&plain[..23]).is_err());
    let mut late = plain.clone();
    late[16..24].copy_from_slice(&(Timestamp::MAX.0 + 1).to_le_bytes());
    assert!(index::parse_segment(&late).is_err());
}
