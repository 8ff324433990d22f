#![no_main]
//! Merging arbitrary records into an open vault, then reading everything.
use libfuzzer_sys::fuzz_target;
use promptvault::Query;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let mut v = common::open_fixture(false);
    let records = common::split(data);
    if v.merge(&records).is_ok() {
        let _ = v.verify();
        let _ = v.list(&Query::default());
        let _ = v.tags();
    }
});
