//! Hostile lengths, counts and KDF parameters are refused before any large
//! allocation: a counting global allocator measures every byte allocated
//! while each hostile input is handled. One test function, so no other test
//! thread allocates while a region is measured.
// Test code: unwrap/expect/indexing/panic are how a test fails, and failing
// loudly is the point; the library itself denies them (workspace lints).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    missing_docs
)]

use std::alloc::System;

use promptvault::{Credential, Error, KdfParams, MemoryStore, Password, Timestamp, Vault};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Bytes allocated while running `f`.
fn allocated<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let region = Region::new(GLOBAL);
    let out = f();
    (out, region.change().bytes_allocated)
}

const SMALL: usize = 64 * 1024;

#[test]
fn hostile_inputs_are_refused_before_allocation() {
    let pw = Password::new("pw").unwrap();
    let created = Vault::create(
        &pw,
        KdfParams::new(KdfParams::MIN_M_COST_KIB, 1, 1).unwrap(),
    )
    .unwrap();
    let mut store = MemoryStore::new();
    store.apply(&created.changes);
    let mut vault = created.vault;
    let (_, c) = vault
        .create_prompt(
            &promptvault::Draft {
                title: "t".into(),
                ..Default::default()
            },
            &[],
            false,
            Timestamp(1),
        )
        .unwrap();
    store.apply(&c);
    let header = store.header().unwrap().to_vec();

    // The counter works: a genuine unlock allocates the 19 MiB Argon2 area.
    let (ok, n) =
        allocated(|| Vault::open(&header, store.record_bytes(), Credential::Password(&pw)));
    ok.unwrap();
    assert!(n >= 19 << 20, "a real unlock allocated only {n} bytes");

    // KDF parameters far out of bounds.
    for (offset, value) in [
        (72usize, u32::MAX),
        (72, 4 << 20),
        (76, 1000),
        (80, 1 << 20),
    ] {
        let mut bad = header.clone();
        bad[offset..offset + 4].copy_from_slice(&value.to_le_bytes());
        let (r, n) =
            allocated(|| Vault::open(&bad, Vec::<Vec<u8>>::new(), Credential::Password(&pw)));
        assert!(matches!(r, Err(Error::KdfParamsOutOfBounds { .. })));
        assert!(n < SMALL, "hostile KDF header: {n} bytes allocated");
    }

    // A record header claiming a 4 GiB body, with no body behind it.
    let rec = store.records().next().unwrap().as_bytes().to_vec();
    let mut huge = rec[..72].to_vec();
    huge[68..72].copy_from_slice(&u32::MAX.to_le_bytes());
    let (r, n) = allocated(|| promptvault::inspect::inspect(&huge));
    assert!(matches!(r, Err(Error::LimitExceeded { .. })));
    assert!(n < SMALL, "hostile body length: {n} bytes");
    let (r, n) = allocated(|| vault.merge([&huge]));
    assert!(r.is_err());
    assert!(n < SMALL, "hostile record in merge: {n} bytes");

    // A bundle whose second record claims a huge body.
    let mut bundle = header.clone();
    bundle.extend_from_slice(&huge);
    let (r, n) = allocated(|| MemoryStore::from_bundle(&bundle));
    assert!(r.is_err());
    assert!(n < SMALL, "hostile bundle: {n} bytes");

    // Oversized text is refused before decoding.
    let text = "A".repeat(promptvault::format::MAX_RECORD_LEN / 3 * 4 + 8);
    let (r, n) = allocated(|| promptvault::SealedRecord::from_text(&text));
    assert!(matches!(r, Err(Error::LimitExceeded { .. })));
    assert!(n < SMALL, "oversized text: {n} bytes");

    // An export file with a hostile KDF header.
    let export = vault
        .export(
            &pw,
            KdfParams::new(KdfParams::MIN_M_COST_KIB, 1, 1).unwrap(),
        )
        .unwrap();
    let mut bad = export.clone();
    bad[72..76].copy_from_slice(&u32::MAX.to_le_bytes());
    let (r, n) = allocated(|| vault.import(&bad, &pw, Timestamp(2)));
    assert!(matches!(r, Err(Error::KdfParamsOutOfBounds { .. })));
    assert!(
        n < SMALL + export.len() * 2,
        "hostile export header: {n} bytes"
    );

    // A hostile recovery key string of any length.
    let long = "0".repeat(1 << 20);
    let (r, n) = allocated(|| promptvault::RecoveryKey::parse(&long));
    assert!(r.is_err());
    assert!(n < SMALL, "long recovery key: {n} bytes");
}
