#![no_main]
//! Sealed-record parsing: binary and text forms, and the keyless inspection.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = promptvault::SealedRecord::from_bytes(data.to_vec());
    let _ = promptvault::inspect::inspect(data);
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = promptvault::SealedRecord::from_text(text);
        let _ = promptvault::RecoveryKey::parse(text);
    }
    let _ = promptvault::format::read::parse_prefix(data);
});
