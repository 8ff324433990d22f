//! The generator of `tables.rs` and the guard that the tables and the
//! algorithms of `unicode.rs` agree with `unicode-normalization` and
//! `caseless` (dev-dependencies, the implementation the frozen vectors
//! were made with) on every code point.
//!
//! Regenerate after bumping either crate:
//! `PV_REGENERATE_UNICODE=1 cargo test -p promptvault --lib unicode::`

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use caseless::Caseless;
use proptest::prelude::*;
use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::{canonical_combining_class, compose, decompose_canonical};

use super::{fold, nfc};

const TABLES: &str = "src/unicode/tables.rs";

fn all_chars() -> impl Iterator<Item = char> {
    (0..=0x10FFFF_u32).filter_map(char::from_u32)
}

fn is_hangul_syllable(c: char) -> bool {
    (0xAC00..0xAC00 + 11172).contains(&u32::from(c))
}

/// Full canonical decompositions, as the crate computes them, but for
/// ASCII and Hangul syllables (done by arithmetic).
fn decompositions() -> BTreeMap<char, Vec<char>> {
    all_chars()
        .filter(|&c| !c.is_ascii() && !is_hangul_syllable(c))
        .filter_map(|c| {
            let mut d = Vec::new();
            decompose_canonical(c, |x| d.push(x));
            (d != [c]).then_some((c, d))
        })
        .collect()
}

/// Every pair `compose` joins, but Hangul: a pair (a, b) → c needs
/// NFD(a)·b canonically equivalent to NFD(c), so b is a char of NFD(c) and
/// NFD(a) is NFD(c) without it; each candidate is checked with the crate.
fn compositions(decomposed: &BTreeMap<char, Vec<char>>) -> BTreeMap<(char, char), char> {
    let mut by_decomposition: BTreeMap<&[char], Vec<char>> = BTreeMap::new();
    for (&c, d) in decomposed {
        by_decomposition.entry(d.as_slice()).or_default().push(c);
    }
    let mut pairs = BTreeMap::new();
    for (&c, d) in decomposed {
        for i in 0..d.len() {
            let b = d[i];
            let rest: Vec<char> = d
                .iter()
                .enumerate()
                .filter(|&(j, _)| j != i)
                .map(|(_, &x)| x)
                .collect();
            let mut firsts = by_decomposition
                .get(rest.as_slice())
                .cloned()
                .unwrap_or_default();
            if let [single] = rest.as_slice() {
                firsts.push(*single);
            }
            for a in firsts {
                if compose(a, b) == Some(c) {
                    pairs.insert((a, b), c);
                }
            }
        }
    }
    pairs
}

fn case_foldings() -> BTreeMap<char, Vec<char>> {
    all_chars()
        .filter_map(|c| {
            let f: Vec<char> = std::iter::once(c).default_case_fold().collect();
            (f != [c]).then_some((c, f))
        })
        .collect()
}

fn write_array(out: &mut String, doc: &str, decl: &str, items: &[String]) {
    writeln!(out, "{doc}").unwrap();
    writeln!(out, "pub(super) static {decl} = [").unwrap();
    for line in items.chunks(10) {
        writeln!(out, "    {},", line.join(", ")).unwrap();
    }
    writeln!(out, "];\n").unwrap();
}

/// Writes `map` as one table per value width (`{name}{width}_KEYS` and
/// `_CHARS`); with `deltas`, width 1 as offsets from the key
/// (`{name}1_DELTAS`), which compress far better.
fn write_map(
    out: &mut String,
    name: &str,
    doc: &str,
    map: &BTreeMap<char, Vec<char>>,
    deltas: bool,
) {
    let widths: BTreeSet<usize> = map.values().map(Vec::len).collect();
    for width in widths {
        let entries: Vec<(&char, &Vec<char>)> =
            map.iter().filter(|(_, v)| v.len() == width).collect();
        let n = entries.len();
        let keys: Vec<String> = entries
            .iter()
            .map(|(c, _)| format!("{:#X}", u32::from(**c)))
            .collect();
        write_array(
            out,
            &format!("{doc} ({width} char)"),
            &format!("{name}{width}_KEYS: [u32; {n}]"),
            &keys,
        );
        if deltas && width == 1 {
            let d: Vec<String> = entries
                .iter()
                .map(|(c, v)| (i64::from(u32::from(v[0])) - i64::from(u32::from(**c))).to_string())
                .collect();
            write_array(
                out,
                "/// Each value minus its key.",
                &format!("{name}1_DELTAS: [i32; {n}]"),
                &d,
            );
        } else {
            let chars: Vec<String> = entries
                .iter()
                .flat_map(|(_, v)| v.iter())
                .map(|c| format!("'\\u{{{:X}}}'", u32::from(*c)))
                .collect();
            write_array(
                out,
                "/// The values.",
                &format!("{name}{width}_CHARS: [char; {}]", n * width),
                &chars,
            );
        }
    }
}

fn generate() -> String {
    let decomposed = decompositions();
    let pairs = compositions(&decomposed);
    let folded = case_foldings();
    let mut classes = Vec::new();
    let mut last = 0;
    for c in 0..=0x10FFFF_u32 {
        let class = char::from_u32(c).map_or(last, canonical_combining_class);
        if class != last {
            classes.push(format!("{:#X}", (c << 8) | u32::from(class)));
            last = class;
        }
    }
    let (un, cl) = (
        unicode_normalization::UNICODE_VERSION,
        caseless::UNICODE_VERSION,
    );
    let mut out = format!(
        "// @generated by core/src/unicode/tests.rs from the unicode-normalization \
         (Unicode {}.{}.{})\n// and caseless (Unicode {}.{}.{}) crates pinned in Cargo.lock: \
         do not edit.\n// `PV_REGENERATE_UNICODE=1 cargo test -p promptvault --lib unicode::`\n\n",
        un.0, un.1, un.2, cl.0, cl.1, cl.2
    );
    write_map(
        &mut out,
        "DECOMPOSITION",
        "/// Full canonical decompositions (not ASCII, not Hangul syllables)",
        &decomposed,
        false,
    );
    write_array(
        &mut out,
        "/// Canonical combining classes: runs, each `first code point << 8 | class`.",
        &format!("COMBINING_CLASS: [u32; {}]", classes.len()),
        &classes,
    );
    let keys: Vec<String> = pairs
        .keys()
        .map(|&(a, b)| {
            format!(
                "{:#X}",
                (u64::from(u32::from(a)) << 21) | u64::from(u32::from(b))
            )
        })
        .collect();
    let results: Vec<String> = pairs
        .values()
        .map(|&c| format!("'\\u{{{:X}}}'", u32::from(c)))
        .collect();
    write_array(
        &mut out,
        "/// Primary composites but Hangul: the pairs, each `first << 21 | second`, sorted.",
        &format!("COMPOSITION_PAIRS: [u64; {}]", keys.len()),
        &keys,
    );
    write_array(
        &mut out,
        "/// The composite of each pair.",
        &format!("COMPOSITION_RESULTS: [char; {}]", results.len()),
        &results,
    );
    write_map(
        &mut out,
        "CASE_FOLDING",
        "/// Full default case folding (CaseFolding.txt, statuses C and F)",
        &folded,
        true,
    );
    out.truncate(out.trim_end().len());
    out.push('\n');
    out
}

#[test]
fn tables_are_generated_from_the_pinned_crates() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(TABLES);
    let generated = generate();
    if std::env::var_os("PV_REGENERATE_UNICODE").is_some() {
        std::fs::write(&path, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap();
    assert!(
        committed == generated,
        "{TABLES} is stale: PV_REGENERATE_UNICODE=1 cargo test -p promptvault --lib unicode::"
    );
}

fn old_nfc(s: &str) -> String {
    s.nfc().collect()
}

fn old_fold(s: &str) -> String {
    s.nfd().default_case_fold().nfc().collect()
}

#[test]
fn every_code_point_normalises_and_folds_as_the_crates_do() {
    let mut s = String::new();
    for c in all_chars() {
        s.clear();
        s.push(c);
        assert_eq!(nfc(&s), old_nfc(&s), "NFC of U+{:04X}", u32::from(c));
        assert_eq!(fold(&s), old_fold(&s), "fold of U+{:04X}", u32::from(c));
        assert_eq!(super::combining_class(c), canonical_combining_class(c));
    }
}

/// Every pair that could compose (see [`compositions`]) composes as the
/// crate says, Hangul included.
#[test]
fn every_candidate_pair_composes_as_the_crate_does() {
    let decomposed = decompositions();
    let mut seconds: BTreeSet<char> = decomposed
        .values()
        .flat_map(|d| d.iter().skip(1).copied())
        .collect();
    seconds.extend(
        (0x1161..0x1176)
            .chain(0x11A7..0x11C3)
            .filter_map(char::from_u32),
    );
    let mut firsts: BTreeSet<char> = decomposed.keys().copied().collect();
    firsts.extend(decomposed.values().flatten().copied());
    firsts.extend(
        (0x1100..0x1113)
            .chain((0xAC00..0xD7A4).step_by(7))
            .filter_map(char::from_u32),
    );
    for &a in &firsts {
        for &b in &seconds {
            assert_eq!(
                super::compose(a, b),
                compose(a, b),
                "U+{:04X} U+{:04X}",
                u32::from(a),
                u32::from(b)
            );
        }
    }
}

/// Chars where normalisation and folding interact: marks of every class
/// (in and out of order), starters that compose, Hangul jamo, Greek with
/// ypogegrammeni, ß, İ, ligatures, and ASCII.
fn interesting() -> impl Strategy<Value = char> {
    prop_oneof![
        proptest::char::range('A', 'z'),
        proptest::char::range('\u{300}', '\u{36F}'),
        proptest::char::range('\u{0591}', '\u{05C7}'),
        proptest::char::range('\u{1F00}', '\u{1FFF}'),
        proptest::char::range('\u{1100}', '\u{11FF}'),
        proptest::char::range('\u{AC00}', '\u{AC40}'),
        proptest::char::range('\u{00C0}', '\u{024F}'),
        proptest::char::range('\u{0900}', '\u{09FF}'),
        proptest::char::range('\u{0B00}', '\u{0BFF}'),
        proptest::char::range('\u{3099}', '\u{30FF}'),
        proptest::char::range('\u{FB00}', '\u{FB4F}'),
        proptest::char::range('\u{1D15E}', '\u{1D1C0}'),
        proptest::char::range('\u{11099}', '\u{1113F}'),
        Just('\u{345}'),
        Just('\u{130}'),
        Just('\u{DF}'),
        Just('\u{1E9E}'),
        Just('\u{212B}'),
        Just('\u{2126}'),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(20_000))]
    #[test]
    fn ascii_normalises_and_folds_as_the_crates_do(s in "[\\x00-\\x7f]{0,24}") {
        prop_assert_eq!(nfc(&s), old_nfc(&s));
        prop_assert_eq!(fold(&s), old_fold(&s));
    }

    #[test]
    fn strings_normalise_and_fold_as_the_crates_do(chars in proptest::collection::vec(interesting(), 0..12)) {
        let s: String = chars.into_iter().collect();
        prop_assert_eq!(nfc(&s), old_nfc(&s));
        prop_assert_eq!(fold(&s), old_fold(&s));
    }
}
