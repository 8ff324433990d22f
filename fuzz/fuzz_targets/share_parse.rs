//! Untrusted sharing bytes (SPEC §13): public bundles, key deliveries and
//! fingerprint text. Invariants: no panic; whatever parses re-encodes to
//! the same bytes and parses again to the same value; a fingerprint that
//! parses prints to text that parses back to it; a delivery opens only if
//! its keyless check (addressing and the sender's signature) passes.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use promptvault::Timestamp;
use promptvault::share::{Fingerprint, Identity, KeyDelivery, PublicBundle};

struct Pair {
    sender: Identity,
    recipient: Identity,
}

fn pair() -> &'static Pair {
    static CELL: OnceLock<Pair> = OnceLock::new();
    CELL.get_or_init(|| Pair {
        sender: Identity::from_seeds(&[1; 32], &[2; 32], "alice", Timestamp(1)).unwrap(),
        recipient: Identity::from_seeds(&[3; 32], &[4; 32], "bob", Timestamp(2)).unwrap(),
    })
}

fuzz_target!(|data: &[u8]| {
    if let Ok(bundle) = PublicBundle::from_bytes(data) {
        assert_eq!(bundle.as_bytes(), data);
        let again = PublicBundle::from_text(&bundle.to_text()).unwrap();
        assert_eq!(again, bundle);
        let fp = bundle.fingerprint();
        assert_eq!(Fingerprint::parse(&fp.to_string()).unwrap(), fp);
        bundle.verify_fingerprint(&fp.to_string()).unwrap();
        assert_eq!(&bundle.hash()[..16], &bundle.key_id()[..]);
    }
    if let Ok(text) = core::str::from_utf8(data) {
        if let Ok(fp) = Fingerprint::parse(text) {
            assert_eq!(Fingerprint::parse(&fp.to_string()).unwrap(), fp);
        }
        let _ = PublicBundle::from_text(text);
        let _ = KeyDelivery::from_text(text);
    }
    if let Ok(delivery) = KeyDelivery::from_bytes(data.to_vec()) {
        assert_eq!(delivery.record().as_bytes(), data);
        let p = pair();
        let checked = delivery.verify(p.sender.bundle(), p.recipient.bundle());
        if p.recipient.accept(&delivery, p.sender.bundle()).is_ok() {
            assert!(
                checked.is_ok(),
                "opened without a valid signature: {checked:?}"
            );
        }
    }
});
