#![no_main]
//! Import of an arbitrary export file into an open vault. Beyond "no
//! crash": after a successful import, the store with its changes applied
//! opens, and lists what the vault that imported lists ("what we write we
//! can open", issue 12).
use libfuzzer_sys::fuzz_target;
use promptvault::Timestamp;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let mut v = common::open_fixture(true);
    let pw = promptvault::Password::new(common::EXPORT_PASSWORD).unwrap();
    if let Ok(report) = v.import(data, &pw, Timestamp(5)) {
        common::assert_reopens(common::fixture_store(true), &report.changes, &v);
    }
});
