//! Seal and open of one record at 64 B, 1 KiB, 16 KiB and 1 MiB of payload
//! (the core's record path through its public format and hazmat calls, see
//! `src/record.rs`), with a raw aes-gcm seal of the same bytes alongside.
// Bench setup aborts on the first error; a panic is the right report there.
#![allow(clippy::unwrap_used, missing_docs)]

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use promptvault_benches::anchors::RawAesGcm;
use promptvault_benches::record::RecordBench;
use promptvault_benches::{corpus, fixture};
use std::hint::black_box;

const SIZES: [(usize, &str); 4] = [
    (64, "64B"),
    (1024, "1KiB"),
    (16 * 1024, "16KiB"),
    (1024 * 1024, "1MiB"),
];

fn record(c: &mut Criterion) {
    let f = fixture::standard(1).unwrap();
    let template = f.records.iter().find(|r| r.get(5) == Some(&4)).unwrap();
    let mut g = c.benchmark_group("record");
    for (size, name) in SIZES {
        let payload = corpus::payload(size);
        let rb = RecordBench::new(template, size).unwrap();
        let raw = RawAesGcm::new(rb.key().expose_secret());
        let sealed = rb.seal(&payload).unwrap();
        g.throughput(Throughput::Bytes(size as u64));
        if size >= 1024 * 1024 {
            g.sample_size(20);
        }
        g.bench_function(format!("seal/{name}"), |b| {
            b.iter(|| rb.seal(black_box(&payload)).unwrap());
        });
        g.bench_function(format!("open/{name}"), |b| {
            b.iter_batched(
                || sealed.clone(),
                |bytes| rb.parse_and_open(bytes).unwrap(),
                BatchSize::SmallInput,
            );
        });
        g.bench_function(format!("raw_aes_gcm_seal/{name}"), |b| {
            b.iter(|| raw.seal(black_box(&payload)).unwrap());
        });
    }
    g.finish();
}

criterion_group!(benches, record);
criterion_main!(benches);
