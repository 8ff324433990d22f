#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use super::*;
use crate::format::json::{from_canonical, to_canonical};

fn meta(title: &str, tags: &[&str], n: usize, dead: usize) -> Meta {
    let versions: Vec<IndexEntry> = (0..n)
        .map(|i| IndexEntry {
            created: Timestamp(1_700_000_000_000 + i as u64),
            id: VersionId::from_bytes([u8::try_from(i % 251).unwrap(); 16]),
        })
        .collect();
    Meta {
        archived: n % 2 == 0,
        created: Timestamp(0),
        current: versions
            .first()
            .map_or(VersionId::from_bytes([9; 16]), |e| e.id),
        deleted: (0..dead)
            .map(|i| VersionId::from_bytes([u8::try_from(i % 256).unwrap(); 16]))
            .collect(),
        favorite: n % 3 == 0,
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
        let fast = meta_json(&m).unwrap();
        assert_eq!(fast, to_canonical(&m).unwrap(), "{t:?}");
        let back: Meta = from_canonical(&fast, "meta").unwrap();
        assert_eq!(back, m);
    }
    let mut m = meta("t", &[], 1, 0);
    m.updated = Timestamp(Timestamp::MAX.0 + 1);
    assert!(meta_json(&m).is_err());
}
