//! The vault: opening 1k, 10k and 100k prompts (3 versions each) with the
//! KDF excluded, search over 10k prompts, adding a version, and opening one
//! version.
//!
//! KDF excluded: the public API has no way to open with a pre-derived key
//! (and gets none for a bench: raw keys stay inside the core). `Vault::merge`
//! of the stored records into an unlocked, empty vault with the same id and
//! keys runs the same staging code as `Vault::open` (`vault/sync.rs`), plus
//! building the merge report's changeset; so it is an upper bound on the
//! open without its KDF. `open_min_kdf` is the plain `Vault::open` with the
//! KDF at the minimum parameters (19 MiB, t = 1), nothing subtracted.
// Bench setup aborts on the first error; a panic is the right report there.
#![allow(clippy::unwrap_used, missing_docs)]

use std::time::{Duration, Instant};

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use promptvault::{Credential, Draft, Query, Timestamp, Vault};
use promptvault_benches::{corpus, fixture};
use std::hint::black_box;

fn open(c: &mut Criterion) {
    let pw = fixture::password().unwrap();
    let mut g = c.benchmark_group("vault_open");
    g.sample_size(10);
    for n in [1_000usize, 10_000, 100_000] {
        let f = fixture::standard(promptvault_benches::fixture_size(n)).unwrap();
        let twin = f.empty_twin().unwrap();
        g.throughput(Throughput::Elements(n as u64));
        if n >= 100_000 {
            g.measurement_time(Duration::from_secs(20));
        }
        g.bench_function(format!("merge_into_empty/{n}"), |b| {
            b.iter_batched(
                || twin.clone(),
                |mut v| {
                    let r = v.merge(f.records.iter()).unwrap();
                    (v, r)
                },
                BatchSize::PerIteration,
            );
        });
        if n <= 10_000 {
            g.bench_function(format!("open_min_kdf/{n}"), |b| {
                b.iter(|| {
                    Vault::open(
                        black_box(&f.header),
                        f.records.iter(),
                        Credential::Password(&pw),
                    )
                    .unwrap()
                });
            });
        }
    }
    g.finish();
}

fn search(c: &mut Criterion) {
    let n = 10_000;
    let f = fixture::standard(promptvault_benches::fixture_size(n)).unwrap();
    let mut g = c.benchmark_group("search");
    g.sample_size(10);
    g.throughput(Throughput::Elements(n as u64));
    let queries = [
        // Text: decrypts the current version of every candidate.
        (
            "text",
            Query {
                text: Some("lighthouse storm".into()),
                ..Query::default()
            },
        ),
        // Tags and flags: metadata only, nothing decrypted.
        (
            "tag_any",
            Query {
                tags: vec!["art".into(), "STRASSE".into()],
                ..Query::default()
            },
        ),
        (
            "favorites",
            Query {
                favorites_only: true,
                ..Query::default()
            },
        ),
        ("list_all", Query::default()),
    ];
    for (name, q) in &queries {
        g.bench_function(format!("{name}/{n}"), |b| {
            b.iter(|| f.vault.list(black_box(q)).unwrap());
        });
    }
    g.finish();
}

fn versions(c: &mut Criterion) {
    let f = fixture::standard(promptvault_benches::fixture_size(1_000)).unwrap();
    let specs = corpus::prompts(1, 1, 42);
    let draft: Draft = specs
        .first()
        .and_then(|s| s.versions.first())
        .map(|(d, _)| d.clone())
        .unwrap();
    let mut g = c.benchmark_group("version");
    // Round-robin over the fixture's prompts so no prompt nears its
    // version limit; the vault copy is made outside the timed part.
    g.bench_function("add_version/1k_prompt_vault", |b| {
        b.iter_custom(|iters| {
            let mut v = f.vault.clone();
            let mut total = Duration::ZERO;
            for (i, id) in (0..iters).zip(f.ids.iter().cycle()) {
                let t0 = Instant::now();
                black_box(
                    v.add_version(*id, &draft, Timestamp(2_000_000_000_000 + i))
                        .unwrap(),
                );
                total += t0.elapsed();
            }
            total
        });
    });
    g.bench_function("open_current_version/1k_prompt_vault", |b| {
        let mut ids = f.ids.iter().cycle();
        b.iter(|| f.vault.version(*ids.next().unwrap(), None).unwrap());
    });
    g.finish();
}

criterion_group!(benches, open, search, versions);
criterion_main!(benches);
