//! AES-256-GCM with a random 96-bit nonce drawn by the library.
//!
//! The sealed form is `nonce (12) ‖ ciphertext ‖ tag (16)`. There is no nonce
//! parameter: every call to [`seal`] draws a fresh one from the OS.
//!
//! # Security
//!
//! Random 96-bit nonces are safe for at most 2^32 messages per key. The vault
//! keeps every key far below that: each prompt has its own item key, and the
//! vault key only wraps item keys.

use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce, Tag};
use core::fmt;
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::error::{Error, Result};
use crate::rng;

// Defined with the format (keyless), which sizes slots and bodies by them.
pub use crate::format::{KEY_LEN, NONCE_LEN, TAG_LEN};

/// A 256-bit symmetric key: zeroized on drop, redacted in `Debug`, compared
/// in constant time, and readable only through [`Key::expose_secret`].
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct Key([u8; KEY_LEN]);

impl Key {
    /// Draws a fresh random key.
    ///
    /// # Errors
    ///
    /// [`Error::Randomness`] if the OS generator fails.
    pub fn generate() -> Result<Self> {
        rng::array().map(Key)
    }

    /// Wraps existing key bytes.
    #[must_use]
    pub fn from_bytes(bytes: [u8; KEY_LEN]) -> Self {
        Key(bytes)
    }

    /// Builds a key from a slice of exactly [`KEY_LEN`] bytes.
    ///
    /// # Errors
    ///
    /// [`Error::Malformed`] if the slice has another length.
    pub fn from_slice(bytes: &[u8]) -> Result<Self> {
        let arr: [u8; KEY_LEN] = bytes
            .try_into()
            .map_err(|_| Error::malformed("key length"))?;
        Ok(Key(arr))
    }

    /// The raw key bytes.
    ///
    /// # Security
    ///
    /// Whatever you copy them into is not zeroized for you.
    #[must_use]
    pub fn expose_secret(&self) -> &[u8; KEY_LEN] {
        &self.0
    }

    fn cipher(&self) -> Aes256Gcm {
        Aes256Gcm::new(&self.0.into())
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Key([REDACTED])")
    }
}

impl PartialEq for Key {
    fn eq(&self, other: &Self) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}
impl Eq for Key {}

/// Length of the sealed form of a `plaintext_len`-byte message.
#[must_use]
pub const fn sealed_len(plaintext_len: usize) -> usize {
    NONCE_LEN + plaintext_len + TAG_LEN
}

/// Encrypts `plaintext` under `key` with associated data `aad`, appending
/// `nonce ‖ ciphertext ‖ tag` to `out`.
///
/// # Errors
///
/// [`Error::Randomness`] if no nonce can be drawn; [`Error::LimitExceeded`]
/// for a message larger than GCM allows.
pub fn seal_into(key: &Key, aad: &[u8], plaintext: &[u8], out: &mut Vec<u8>) -> Result<()> {
    out.reserve(sealed_len(plaintext.len()));
    seal_appended(key, aad, out, |buf| {
        buf.extend_from_slice(plaintext);
        Ok(())
    })
}

/// As [`seal_into`], with the plaintext appended to `out` by `write` (after
/// the nonce) and encrypted in place, so no plaintext copy is left to wipe.
/// If `write` fails, `out` is truncated back and the error returned.
pub(crate) fn seal_appended(
    key: &Key,
    aad: &[u8],
    out: &mut Vec<u8>,
    write: impl FnOnce(&mut Vec<u8>) -> Result<()>,
) -> Result<()> {
    let nonce_bytes: [u8; NONCE_LEN] = rng::array()?;
    let start = out.len();
    out.extend_from_slice(&nonce_bytes);
    if let Err(e) = write(out) {
        if let Some(tail) = out.get_mut(start..) {
            tail.zeroize();
        }
        out.truncate(start);
        return Err(e);
    }
    let body = out
        .get_mut(start + NONCE_LEN..)
        .ok_or(Error::malformed("seal buffer"))?;
    let len = body.len();
    let tag = key
        .cipher()
        .encrypt_inout_detached(&Nonce::from(nonce_bytes), aad, body.into())
        .map_err(|_| Error::too_large("AES-GCM message", usize::MAX, len))?;
    out.extend_from_slice(tag.as_slice());
    Ok(())
}

/// Encrypts and returns `nonce ‖ ciphertext ‖ tag`.
///
/// # Errors
///
/// As [`seal_into`].
pub fn seal(key: &Key, aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    seal_into(key, aad, plaintext, &mut out)?;
    Ok(out)
}

/// Decrypts `nonce ‖ ciphertext ‖ tag`, returning the plaintext.
///
/// # Errors
///
/// [`Error::Authentication`] for a wrong key, wrong `aad`, any modified byte
/// or a too-short input. The plaintext is released only after the tag checks.
pub fn open(key: &Key, aad: &[u8], sealed: &[u8]) -> Result<Vec<u8>> {
    if sealed.len() < NONCE_LEN + TAG_LEN {
        return Err(Error::Authentication);
    }
    let (nonce, rest) = sealed.split_at(NONCE_LEN);
    let (ct, tag) = rest.split_at(rest.len() - TAG_LEN);
    let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| Error::Authentication)?;
    let tag: [u8; TAG_LEN] = tag.try_into().map_err(|_| Error::Authentication)?;
    let mut buf = ct.to_vec();
    match key.cipher().decrypt_inout_detached(
        &Nonce::from(nonce),
        aad,
        buf.as_mut_slice().into(),
        &Tag::from(tag),
    ) {
        Ok(()) => Ok(buf),
        Err(_) => {
            buf.zeroize();
            Err(Error::Authentication)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_every_flip_fails() {
        let key = Key::generate().unwrap();
        let sealed = seal(&key, b"ad", b"hello").unwrap();
        assert_eq!(sealed.len(), sealed_len(5));
        assert_eq!(open(&key, b"ad", &sealed).unwrap(), b"hello");
        assert_eq!(open(&key, b"ax", &sealed), Err(Error::Authentication));
        for i in 0..sealed.len() {
            let mut bad = sealed.clone();
            bad[i] ^= 0x01;
            assert_eq!(open(&key, b"ad", &bad), Err(Error::Authentication));
        }
        assert_eq!(open(&key, b"ad", &sealed[..27]), Err(Error::Authentication));
    }

    #[test]
    fn nonces_are_fresh() {
        let key = Key::generate().unwrap();
        let a = seal(&key, b"", b"x").unwrap();
        let b = seal(&key, b"", b"x").unwrap();
        assert_ne!(a[..NONCE_LEN], b[..NONCE_LEN]);
    }

    #[test]
    fn debug_is_redacted() {
        let key = Key::from_bytes([0xAB; 32]);
        let s = format!("{key:?}");
        assert!(!s.contains("171") && !s.to_lowercase().contains("ab,"));
        assert_eq!(s, "Key([REDACTED])");
    }
}
