#![no_main]
//! Vault-header parsing followed by an unlock with a fixed password.
use libfuzzer_sys::fuzz_target;
use promptvault::{Credential, Vault};

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let pw = common::password();
    let _ = Vault::open(data, Vec::<Vec<u8>>::new(), Credential::Password(&pw));
});
