#![no_main]
//! Merging arbitrary records into an open vault, then reading everything.
//! Beyond "no crash": after a successful merge, a store holding what the
//! merge asked to write opens, with the same prompts and the same damaged
//! prompts ("what we write we can open", issue 12).
use libfuzzer_sys::fuzz_target;
use promptvault::Query;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let mut v = common::open_fixture(false);
    let records = common::split(data);
    if let Ok(report) = v.merge(&records) {
        let _ = v.verify();
        let _ = v.list(&Query::default());
        let _ = v.tags();
        common::assert_reopens(common::fixture_store(false), &report.changes, &v);
    }
});
