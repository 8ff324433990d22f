//! Sharing prompts between accounts (SPEC §13): identities, public
//! bundles and fingerprints, spaces, and key deliveries.
//!
//! ```text
//! account identity ── X-Wing key pair (receives space keys, HPKE RFC 9180)
//!                  └─ Ed25519 key pair (signs its bundle and its deliveries)
//! space ── a vault of its own; its header's recovery slot opens under the
//!          space key of the current generation
//! key delivery ── space key (generation N) HPKE-sealed to one member's
//!                 pinned X-Wing key, signed by the sender
//! ```
//!
//! The modules, by what they hold:
//! - `bundle`: the public bundle, its hash, key id and fingerprint
//!   (keyless: a server can check a bundle's self-signature);
//! - `delivery`: the key-delivery record's structure and signature
//!   (keyless);
//! - `identity` (`sharing` feature): the secret identity, its sealed record,
//!   and delivering and accepting space keys;
//! - `space` (`sharing` feature): space keys, creating, opening and
//!   rotating spaces, sharing a prompt into one;
//! - `suite` (`sharing` feature): HPKE with X-Wing, HKDF-SHA256 and
//!   ChaCha20-Poly1305.

mod bundle;
mod delivery;
#[cfg(feature = "sharing")]
mod identity;
#[cfg(feature = "sharing")]
mod space;
#[cfg(feature = "sharing")]
mod suite;

pub use bundle::{
    BUNDLE_HASH_CONTEXT, BUNDLE_HASH_LEN, BUNDLE_MAGIC, BUNDLE_SIGNATURE_CONTEXT, BUNDLE_VERSION,
    FINGERPRINT_CHARS, FINGERPRINT_LEN, Fingerprint, KEM_PUBLIC_KEY_LEN, KEY_ID_LEN,
    MAX_BUNDLE_LEN, MIN_BUNDLE_LEN, PublicBundle, SHARING_SUITE_V1, SIGNATURE_LEN, SIGNING_KEY_LEN,
};
pub use delivery::{
    DELIVERY_CIPHERTEXT_LEN, DELIVERY_CONTEXT, KEM_ENC_LEN, KEY_DELIVERY_BODY_LEN, KeyDelivery,
};
#[cfg(feature = "sharing")]
pub use identity::{Identity, SEED_LEN};
#[cfg(feature = "sharing")]
pub use space::{NewSpace, SpaceKey};

use crate::format::RecordKind;
use crate::record::SealedRecord;

/// Whether the account record `new` (an identity or space-key record,
/// kinds 9 and 11) supersedes `old` under the same storage key (SPEC
/// §13.3): the greater revision (a space key's generation; 0 for an
/// identity), then the greater key generation (re-sealed by a rotation of
/// the account's vault), then the smaller record bytes. A total order, so
/// every device keeps the same record after a merge, and keyless, so a
/// server can refuse a replacement that goes back (false for records of
/// other kinds or keys).
#[must_use]
pub fn supersedes(new: &SealedRecord, old: &SealedRecord) -> bool {
    let account =
        |r: &SealedRecord| matches!(r.kind(), RecordKind::Identity | RecordKind::SpaceKey);
    if !account(new) || !account(old) || new.storage_key() != old.storage_key() {
        return false;
    }
    let rank = |r: &SealedRecord| (r.header().revision(), r.header().key_generation());
    match rank(new).cmp(&rank(old)) {
        core::cmp::Ordering::Greater => true,
        core::cmp::Ordering::Less => false,
        core::cmp::Ordering::Equal => new.as_bytes() < old.as_bytes(),
    }
}
