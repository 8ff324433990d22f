//! Keyless inspect throughput: what a server does to every record it
//! accepts (strict parse, limits, routing fields), binary and text forms.
// Bench setup aborts on the first error; a panic is the right report there.
#![allow(clippy::unwrap_used, missing_docs)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use promptvault::format::text;
use promptvault::inspect;
use promptvault_benches::fixture;
use std::hint::black_box;

fn inspect_bench(c: &mut Criterion) {
    let f = fixture::standard(200).unwrap();
    // A server sees the header too: keep it in the mix (it is the one kind
    // whose KDF parameters are checked).
    let mut all: Vec<Vec<u8>> = vec![f.header.clone()];
    all.extend(f.records.iter().cloned());
    let bytes: u64 = all.iter().map(|r| r.len() as u64).sum();
    let texts: Vec<String> = all.iter().map(|r| text::encode(r)).collect();
    let mut g = c.benchmark_group("inspect");
    g.throughput(Throughput::Elements(all.len() as u64));
    g.bench_function(format!("binary/{}_records", all.len()), |b| {
        b.iter(|| {
            for r in &all {
                black_box(inspect::inspect(black_box(r)).unwrap());
            }
        });
    });
    g.bench_function(format!("text/{}_records", all.len()), |b| {
        b.iter(|| {
            for t in &texts {
                black_box(inspect::inspect_text(black_box(t)).unwrap());
            }
        });
    });
    g.throughput(Throughput::Bytes(bytes));
    g.bench_function(format!("binary_bytes/{}_records", all.len()), |b| {
        b.iter(|| {
            for r in &all {
                black_box(inspect::inspect(black_box(r)).unwrap());
            }
        });
    });
    g.finish();
}

criterion_group!(benches, inspect_bench);
criterion_main!(benches);
