//! Project Wycheproof AES-GCM vectors (Apache-2.0, see
//! `third_party/LICENSE-wycheproof`) for the only shape promptvault uses:
//! 256-bit keys, 96-bit nonces, 128-bit tags. The library draws its own
//! nonces, so the vectors check the open direction: every valid case
//! decrypts to its message, every invalid case fails.
// Test code: unwrap/expect/indexing/panic are how a test fails, and failing
// loudly is the point; the library itself denies them (workspace lints).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    missing_docs
)]

use promptvault::hazmat::{Key, aead};
use serde_json::Value;

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn wycheproof_aes_256_gcm() {
    let text = include_str!("third_party/aes_gcm_test.json");
    let doc: Value = serde_json::from_str(text).unwrap();
    let (mut valid, mut invalid) = (0, 0);
    for group in doc["testGroups"].as_array().unwrap() {
        if group["keySize"] != 256 || group["ivSize"] != 96 || group["tagSize"] != 128 {
            continue;
        }
        for t in group["tests"].as_array().unwrap() {
            let key = Key::from_slice(&hex(t["key"].as_str().unwrap())).unwrap();
            let mut sealed = hex(t["iv"].as_str().unwrap());
            sealed.extend(hex(t["ct"].as_str().unwrap()));
            sealed.extend(hex(t["tag"].as_str().unwrap()));
            let aad = hex(t["aad"].as_str().unwrap());
            let got = aead::open(&key, &aad, &sealed);
            match t["result"].as_str().unwrap() {
                "valid" | "acceptable" => {
                    assert_eq!(
                        got.unwrap(),
                        hex(t["msg"].as_str().unwrap()),
                        "tcId {}",
                        t["tcId"]
                    );
                    valid += 1;
                }
                _ => {
                    assert!(got.is_err(), "tcId {} must fail", t["tcId"]);
                    invalid += 1;
                }
            }
        }
    }
    assert_eq!(valid + invalid, 66, "Wycheproof cases run");
    assert!(invalid > 0 && valid > 0);
}
