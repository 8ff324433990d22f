//! Issue 11 B: the cost of adding a version must not grow with the
//! prompt's history. One prompt with 10, 100 and 1000 versions (200-byte
//! titles, 1 KiB bodies); each sample adds one version to a fresh copy of
//! that vault (the copy is made outside the timed part).
//!
//! Before format v1 final, the metadata carried every version's title and
//! an edit re-sealed all of them (the issue measured 0.47 ms at 21 versions
//! and 3.8 ms at 519 in WASM); then it carried a 24-byte index entry per
//! version and the current title only; now (SPEC §6.4) it carries the open
//! tail of the index (under 64 entries) and the ids of sealed index
//! segments, so an edit re-seals the same amount whatever the history.
//! `960` is the one edit in 64 that also seals a new segment (its prompt
//! has 959 versions: 14 segments and a tail of 63).
//!
//! Run: `cargo bench -p promptvault-benches --bench history --
//! --warm-up-time 1 --measurement-time 3`.
// Bench setup aborts on the first error; a panic is the right report there.
#![allow(clippy::unwrap_used, missing_docs)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use promptvault::{Draft, PromptId, Timestamp, Vault};
use promptvault_benches::fixture;

fn draft(i: usize) -> Draft {
    Draft {
        title: format!("{i:05} {}", "a long and descriptive title ".repeat(7)),
        body: "a lighthouse in a storm at night, oil painting, ".repeat(21),
        settings: None,
        note: String::new(),
    }
}

fn vault_with_history(n: usize) -> (Vault, PromptId) {
    let pw = fixture::password().unwrap();
    let mut v = Vault::create(&pw, fixture::fast_params().unwrap())
        .unwrap()
        .vault;
    let (id, _) = v
        .create_prompt(&draft(0), &[], false, Timestamp(1_700_000_000_000))
        .unwrap();
    for i in 1..n {
        v.add_version(id, &draft(i), Timestamp(1_700_000_000_000 + i as u64))
            .unwrap();
    }
    (v, id)
}

fn add_version(c: &mut Criterion) {
    let mut g = c.benchmark_group("add_version_history");
    for n in [10usize, 100, 960, 1000] {
        // The prompt keeps n - 1 versions so one more fits under the limit.
        let (base, id) = vault_with_history(n - 1);
        let next = draft(n);
        g.bench_function(format!("{n}"), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for i in 0..iters {
                    let mut v = base.clone();
                    let t0 = Instant::now();
                    black_box(
                        v.add_version(id, &next, Timestamp(1_800_000_000_000 + i))
                            .unwrap(),
                    );
                    total += t0.elapsed();
                }
                total
            });
        });
    }
    g.finish();
}

criterion_group!(benches, add_version);
criterion_main!(benches);
