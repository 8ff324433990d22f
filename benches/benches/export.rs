//! Export and import of 10k prompts (3 versions each). Both include one KDF
//! run, at the minimum parameters (19 MiB, t = 1), as the API requires: the
//! export file has its own password.
// Bench setup aborts on the first error; a panic is the right report there.
#![allow(clippy::unwrap_used, missing_docs)]

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use promptvault::{Timestamp, Vault};
use promptvault_benches::fixture;
use std::hint::black_box;

fn export(c: &mut Criterion) {
    let n = 10_000;
    let f = fixture::standard(promptvault_benches::fixture_size(n)).unwrap();
    let pw = fixture::password().unwrap();
    let params = fixture::fast_params().unwrap();
    let file = f.vault.export(&pw, params).unwrap();
    let mut g = c.benchmark_group("export");
    g.sample_size(10);
    g.bench_function(format!("export/{n}_prompts"), |b| {
        b.iter(|| f.vault.export(black_box(&pw), params).unwrap());
    });
    // Import into a fresh vault each time (created untimed).
    g.bench_function(format!("import/{n}_prompts_into_empty"), |b| {
        b.iter_batched(
            || Vault::create(&pw, params).unwrap().vault,
            |mut v| {
                let r = v.import(black_box(&file), &pw, Timestamp(1)).unwrap();
                (v, r)
            },
            BatchSize::PerIteration,
        );
    });
    // Importing the same file again adds nothing (idempotence path).
    g.bench_function(format!("import/{n}_prompts_again"), |b| {
        b.iter_batched(
            || f.vault.clone(),
            |mut v| {
                let r = v.import(black_box(&file), &pw, Timestamp(1)).unwrap();
                (v, r)
            },
            BatchSize::PerIteration,
        );
    });
    g.finish();
}

criterion_group!(benches, export);
criterion_main!(benches);
