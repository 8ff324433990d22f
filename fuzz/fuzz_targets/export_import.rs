#![no_main]
//! Import of an arbitrary export file into an open vault.
use libfuzzer_sys::fuzz_target;
use promptvault::Timestamp;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let mut v = common::open_fixture(true);
    let pw = promptvault::Password::new(common::EXPORT_PASSWORD).unwrap();
    let _ = v.import(data, &pw, Timestamp(5));
});
