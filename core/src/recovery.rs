//! The recovery key: 256 random bits, shown to the user once, typed back in
//! to unlock when the password is lost.
//!
//! Text form: the 32 key bytes followed by a 3-byte checksum
//! (`BLAKE2b-512("promptvault recovery key v1" ‖ key)[0..3]`), 35 bytes in
//! Crockford base32 (56 characters, alphabet `0-9A-Z` without `I L O U`),
//! printed as seven groups of eight separated by `-`. Parsing ignores case,
//! spaces and hyphens and reads `O` as `0` and `I`/`L` as `1`, so a typo is
//! caught by the checksum before any key derivation runs.

use blake2::{Blake2b512, Digest};
use core::fmt;
use zeroize::{Zeroize, Zeroizing};

use crate::crockford::{ALPHABET, decode_char};
use crate::error::{Error, Result};
use crate::hazmat::{KEY_LEN, Key};

const CHECKSUM_LEN: usize = 3;
const PAYLOAD_LEN: usize = KEY_LEN + CHECKSUM_LEN; // 35 bytes = 280 bits = 56 chars
const CHARS: usize = PAYLOAD_LEN * 8 / 5;
const GROUP: usize = 8;
const DOMAIN: &[u8] = b"promptvault recovery key v1";

/// A vault recovery key. Zeroized on drop; `Debug` prints nothing of it.
#[derive(Clone, PartialEq, Eq)]
pub struct RecoveryKey(Key);

impl RecoveryKey {
    /// Draws a new random recovery key.
    ///
    /// # Errors
    ///
    /// [`Error::Randomness`] if the OS generator fails.
    pub(crate) fn generate() -> Result<Self> {
        Key::generate().map(RecoveryKey)
    }

    pub(crate) fn key(&self) -> &Key {
        &self.0
    }

    /// Parses the text form (as shown by [`RecoveryKey::to_display_string`]).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidRecoveryKey`] for a wrong length, a character outside
    /// the alphabet, or a checksum mismatch (a typo).
    pub fn parse(text: &str) -> Result<Self> {
        if text.len() > 4 * CHARS {
            return Err(Error::InvalidRecoveryKey);
        }
        let mut payload = Zeroizing::new([0u8; PAYLOAD_LEN]);
        let mut acc: u32 = 0;
        let mut bits = 0u32;
        let mut n_chars = 0usize;
        let mut out = 0usize;
        for c in text.chars() {
            if c == '-' || c.is_whitespace() {
                continue;
            }
            let v = decode_char(c).ok_or(Error::InvalidRecoveryKey)?;
            n_chars += 1;
            if n_chars > CHARS {
                return Err(Error::InvalidRecoveryKey);
            }
            acc = (acc << 5) | u32::from(v);
            bits += 5;
            if bits >= 8 {
                bits -= 8;
                let byte = ((acc >> bits) & 0xff) as u8;
                *payload.get_mut(out).ok_or(Error::InvalidRecoveryKey)? = byte;
                out += 1;
            }
        }
        acc.zeroize();
        if n_chars != CHARS || out != PAYLOAD_LEN {
            return Err(Error::InvalidRecoveryKey);
        }
        let (key_bytes, check) = payload.split_at(KEY_LEN);
        if checksum(key_bytes).as_slice() != check {
            return Err(Error::InvalidRecoveryKey);
        }
        Ok(RecoveryKey(Key::from_slice(key_bytes)?))
    }

    /// The text form to show the user once: 56 characters in 7 groups.
    ///
    /// # Security
    ///
    /// This is the secret. Show it once, never log it; the returned string is
    /// zeroized on drop.
    #[must_use]
    pub fn to_display_string(&self) -> Zeroizing<String> {
        let mut payload = Zeroizing::new([0u8; PAYLOAD_LEN]);
        let (k, c) = payload.split_at_mut(KEY_LEN);
        k.copy_from_slice(self.0.expose_secret());
        c.copy_from_slice(&checksum(self.0.expose_secret()));
        let mut out = Zeroizing::new(String::with_capacity(CHARS + CHARS / GROUP));
        let mut acc: u32 = 0;
        let mut bits = 0u32;
        let mut written = 0usize;
        for &byte in payload.iter() {
            acc = (acc << 8) | u32::from(byte);
            bits += 8;
            while bits >= 5 {
                bits -= 5;
                let idx = ((acc >> bits) & 31) as usize;
                if written > 0 && written.is_multiple_of(GROUP) {
                    out.push('-');
                }
                out.push(char::from(*ALPHABET.get(idx).unwrap_or(&b'0')));
                written += 1;
            }
        }
        acc.zeroize();
        out
    }
}

impl fmt::Debug for RecoveryKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RecoveryKey([REDACTED])")
    }
}

fn checksum(key: &[u8]) -> [u8; CHECKSUM_LEN] {
    let digest = Blake2b512::new()
        .chain_update(DOMAIN)
        .chain_update(key)
        .finalize();
    let mut out = [0u8; CHECKSUM_LEN];
    for (o, d) in out.iter_mut().zip(digest.iter()) {
        *o = *d;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_typos_are_caught() {
        let rk = RecoveryKey::generate().unwrap();
        let text = rk.to_display_string();
        assert_eq!(text.len(), 56 + 6);
        assert_eq!(RecoveryKey::parse(&text).unwrap(), rk);
        assert_eq!(
            RecoveryKey::parse(&text.to_lowercase().replace('-', " ")).unwrap(),
            rk
        );
        // Every single-character substitution is caught by the checksum or the alphabet.
        let chars: Vec<char> = text.chars().collect();
        for i in (0..chars.len()).filter(|&i| chars[i] != '-') {
            let mut bad = chars.clone();
            bad[i] = if bad[i] == 'A' { 'B' } else { 'A' };
            let bad: String = bad.into_iter().collect();
            assert_eq!(
                RecoveryKey::parse(&bad),
                Err(Error::InvalidRecoveryKey),
                "{i}"
            );
        }
        assert_eq!(
            RecoveryKey::parse(&text[..text.len() - 1]),
            Err(Error::InvalidRecoveryKey)
        );
        assert_eq!(RecoveryKey::parse(""), Err(Error::InvalidRecoveryKey));
        assert_eq!(format!("{rk:?}"), "RecoveryKey([REDACTED])");
    }
}
