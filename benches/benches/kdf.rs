//! The KDF at the default parameters (Argon2id, m = 64 MiB, t = 3, p = 1),
//! through the public unlock: `Vault::open` of a header with no records is
//! the KDF plus one 32-byte key unwrap.
// Bench setup aborts on the first error; a panic is the right report there.
#![allow(clippy::unwrap_used, missing_docs)]

use criterion::{Criterion, criterion_group, criterion_main};
use promptvault::{Credential, KdfParams, Vault};
use promptvault_benches::fixture;
use std::hint::black_box;

fn kdf(c: &mut Criterion) {
    let pw = fixture::password().unwrap();
    let mut g = c.benchmark_group("kdf");
    g.sample_size(10);
    for (name, params) in [
        ("default_64MiB_t3_p1", KdfParams::DEFAULT),
        ("minimum_19MiB_t1_p1", fixture::fast_params().unwrap()),
    ] {
        let header = Vault::create(&pw, params)
            .unwrap()
            .vault
            .header_bytes()
            .to_vec();
        let none: [&[u8]; 0] = [];
        g.bench_function(format!("unlock/{name}"), |b| {
            b.iter(|| Vault::open(black_box(&header), none, Credential::Password(&pw)).unwrap());
        });
    }
    g.finish();
}

criterion_group!(benches, kdf);
criterion_main!(benches);
