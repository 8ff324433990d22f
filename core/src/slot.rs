//! Key-committing key slots (SPEC §4.1).
//!
//! AES-GCM is not key-committing: one ciphertext and tag can be built to
//! open under many keys at once (Len, Grubbs and Ristenpart, "Partitioning
//! Oracle Attacks", USENIX Security 2021). A hostile server could then serve
//! a header whose password slot opens under a whole set of passwords, and
//! learn from each unlock which set the password is in.
//!
//! A committed slot therefore stores, before the AEAD slot, a commitment to
//! the key-encryption key (KEK). Two values are derived from the KEK with
//! keyed BLAKE2b-256 (RFC 7693), each under its own label and over the slot's
//! associated data:
//!
//! ```text
//! slot key   = BLAKE2b-256(key = KEK, "promptvault v1 slot key"        ‖ 00 ‖ aad)
//! commitment = BLAKE2b-256(key = KEK, "promptvault v1 slot commitment" ‖ 00 ‖ aad)
//! slot       = commitment ‖ nonce ‖ AES-256-GCM(slot key, nonce, aad, key)
//! ```
//!
//! A reader recomputes the commitment, compares it in constant time, and
//! opens the AEAD only if it matches; a mismatch is the same opaque
//! [`Error::Authentication`] as a wrong tag. Finding a second KEK with the same
//! commitment is a BLAKE2b collision, so a slot opens under one KEK only; and
//! since the AEAD key is derived separately, the commitment reveals nothing
//! about it.

use blake2::Blake2bMac;
use blake2::digest::consts::U32;
use blake2::digest::{KeyInit, Mac};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::format::{COMMITMENT_LEN, COMMITTED_SLOT_LEN};
use crate::hazmat::{self, Key};

/// Label of the derived AEAD key.
const KEY_LABEL: &[u8] = b"promptvault v1 slot key";
/// Label of the commitment.
const COMMIT_LABEL: &[u8] = b"promptvault v1 slot commitment";

pub(crate) use crate::key_header::CommittedSlot;

fn prf(kek: &Key, label: &[u8], aad: &[u8]) -> Result<Zeroizing<[u8; 32]>> {
    let mut mac = <Blake2bMac<U32> as KeyInit>::new_from_slice(kek.expose_secret())
        .map_err(|_| Error::malformed("BLAKE2b key length"))?;
    mac.update(label);
    mac.update(&[0]);
    mac.update(aad);
    let mut out = Zeroizing::new([0u8; 32]);
    out.copy_from_slice(&mac.finalize().into_bytes());
    Ok(out)
}

/// The AEAD key of a slot, derived from its KEK and associated data.
pub(crate) fn derive_slot_key(kek: &Key, aad: &[u8]) -> Result<Key> {
    prf(kek, KEY_LABEL, aad).map(|k| Key::from_bytes(*k))
}

/// The commitment to a slot's KEK.
pub(crate) fn derive_commitment(kek: &Key, aad: &[u8]) -> Result<[u8; COMMITMENT_LEN]> {
    prf(kek, COMMIT_LABEL, aad).map(|c| *c)
}

/// Wraps `key` under `kek` in a committed slot.
///
/// # Errors
///
/// [`Error::Randomness`] if no nonce can be drawn.
pub(crate) fn wrap(kek: &Key, aad: &[u8], key: &Key) -> Result<CommittedSlot> {
    let mut out = Vec::with_capacity(COMMITTED_SLOT_LEN);
    out.extend_from_slice(&derive_commitment(kek, aad)?);
    hazmat::aead::seal_into(
        &derive_slot_key(kek, aad)?,
        aad,
        key.expose_secret(),
        &mut out,
    )?;
    out.try_into()
        .map_err(|_| Error::malformed("committed slot length"))
}

/// Checks the commitment, then unwraps the key.
///
/// # Errors
///
/// [`Error::Authentication`] for a commitment that does not match `kek`
/// (checked first, in constant time) or a slot that does not open.
///
/// # Security
///
/// The commitment is checked before the AEAD is opened, so a slot built to
/// open under several keys (a multi-key collision) is refused under all but
/// the one KEK it commits to.
pub(crate) fn unwrap(kek: &Key, aad: &[u8], slot: &CommittedSlot) -> Result<Key> {
    let (commitment, sealed) = slot
        .split_at_checked(COMMITMENT_LEN)
        .ok_or(Error::Authentication)?;
    let expected = derive_commitment(kek, aad)?;
    if !bool::from(expected.ct_eq(commitment)) {
        return Err(Error::Authentication);
    }
    let raw = Zeroizing::new(hazmat::aead::open(
        &derive_slot_key(kek, aad)?,
        aad,
        sealed,
    )?);
    Key::from_slice(&raw).map_err(|_| Error::Authentication)
}

#[cfg(test)]
mod tests;
