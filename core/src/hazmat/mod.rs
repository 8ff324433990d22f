//! # ⚠️ Hazardous materials
//!
//! Raw primitives under the vault: a 256-bit key type and AES-256-GCM with a
//! library-drawn nonce. Everything here is sound on its own, but misuse (one
//! key for too many messages, associated data that does not bind the
//! context) silently breaks the guarantees the safe layer gives. Prefer
//! [`crate::Vault`]; reach for this module only to build a compatible
//! implementation or to test one.
//!
//! Needs the `unlock` cargo feature (on by default).

pub mod aead;

pub use aead::{KEY_LEN, Key, NONCE_LEN, TAG_LEN};
