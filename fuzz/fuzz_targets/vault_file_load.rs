#![no_main]
//! What the CLI does with a vault file: parse the bundle, unlock, verify.
use libfuzzer_sys::fuzz_target;
use promptvault::{Credential, MemoryStore, Vault};

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    if let Ok(store) = MemoryStore::from_bundle(data) {
        let pw = common::password();
        if let Some(h) = store.header() {
            if let Ok(v) = Vault::open(h, store.record_bytes(), Credential::Password(&pw)) {
                let _ = v.verify();
            }
        }
    }
});
