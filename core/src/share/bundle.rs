//! Public identity bundles and their fingerprints (SPEC §13.1–13.2),
//! keylessly: parsing, the self-signature check, the bundle hash, the key
//! id and the fingerprint. A server needs exactly this to accept a
//! published bundle; a client pins one by its fingerprint.

use core::fmt;

use blake2::Blake2b;
use blake2::digest::Digest;
use blake2::digest::consts::U32;
use ed25519_dalek::{Signature, VerifyingKey};

use crate::crockford::{ALPHABET, decode_char};
use crate::error::{Error, Result};
use crate::format::read::Reader;
use crate::format::text;
use crate::ids::{ID_LEN, Timestamp};
use crate::protocol::{MAX_ACCOUNT_LEN, check_account};

/// The four magic bytes that start a bundle: `PVID`.
pub const BUNDLE_MAGIC: [u8; 4] = *b"PVID";
/// The bundle format version this release writes and reads.
pub const BUNDLE_VERSION: u8 = 1;
/// Sharing suite 1: HPKE (RFC 9180) mode base with the X-Wing KEM
/// (0x647a), HKDF-SHA256 (0x0001) and ChaCha20-Poly1305 (0x0003); Ed25519
/// signatures (RFC 8032, verified strictly).
pub const SHARING_SUITE_V1: u8 = 1;
/// Length of an Ed25519 public key.
pub const SIGNING_KEY_LEN: usize = 32;
/// Length of an X-Wing public (encapsulation) key.
pub const KEM_PUBLIC_KEY_LEN: usize = 1216;
/// Length of an Ed25519 signature.
pub const SIGNATURE_LEN: usize = 64;
/// Length of a bundle hash (BLAKE2b-256).
pub const BUNDLE_HASH_LEN: usize = 32;
/// Length of a fingerprint in bytes (160 bits; the first bytes of the hash).
pub const FINGERPRINT_LEN: usize = 20;
/// Length of a key id (the first 16 bytes of the bundle hash): how a
/// key-delivery record's cleartext header names its sender and recipient.
pub const KEY_ID_LEN: usize = ID_LEN;
/// Characters of a fingerprint's text form, without separators.
pub const FINGERPRINT_CHARS: usize = FINGERPRINT_LEN * 8 / 5;
/// Signature context of a bundle (followed by a zero byte).
pub const BUNDLE_SIGNATURE_CONTEXT: &[u8] = b"promptvault v1 identity bundle";
/// Hash context of a bundle (followed by a zero byte).
pub const BUNDLE_HASH_CONTEXT: &[u8] = b"promptvault v1 identity hash";

/// magic, version, suite, flags, account length, created.
const FIXED_LEN: usize = 4 + 1 + 1 + 1 + 1 + 8;
const KEYS_AND_SIGNATURE: usize = SIGNING_KEY_LEN + KEM_PUBLIC_KEY_LEN + SIGNATURE_LEN;
/// Smallest bundle (a one-byte account name).
pub const MIN_BUNDLE_LEN: usize = FIXED_LEN + 1 + KEYS_AND_SIGNATURE;
/// Largest bundle (a [`MAX_ACCOUNT_LEN`]-byte account name).
pub const MAX_BUNDLE_LEN: usize = FIXED_LEN + MAX_ACCOUNT_LEN + KEYS_AND_SIGNATURE;

const GROUP: usize = 4;

/// An account's public identity: its account name, creation time, Ed25519
/// verifying key and X-Wing public key, self-signed by the Ed25519 key.
///
/// Holding a `PublicBundle` proves the bytes parse and the self-signature
/// verifies; it proves nothing about who made it. That is what the
/// [`Fingerprint`], compared once between two people, is for.
#[derive(Clone, PartialEq, Eq)]
pub struct PublicBundle {
    bytes: Vec<u8>,
    account_len: usize,
    created: Timestamp,
    hash: [u8; BUNDLE_HASH_LEN],
}

impl PublicBundle {
    /// Parses a bundle and verifies its self-signature.
    ///
    /// # Errors
    ///
    /// [`Error::LimitExceeded`] for more than [`MAX_BUNDLE_LEN`] bytes
    /// (before anything is read); [`Error::Malformed`] for bad framing, a
    /// bad account name, a time beyond 2^53 − 1 or a weak Ed25519 key;
    /// [`Error::UnsupportedVersion`] / [`Error::UnsupportedSuite`] for a
    /// newer bundle; [`Error::BadSignature`] when the self-signature does
    /// not verify.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        if bytes.len() > MAX_BUNDLE_LEN {
            return Err(Error::too_large(
                "identity bundle",
                MAX_BUNDLE_LEN,
                bytes.len(),
            ));
        }
        let mut r = Reader::new(bytes);
        if r.array::<4>().ok() != Some(BUNDLE_MAGIC) {
            return Err(Error::malformed("magic (not an identity bundle)"));
        }
        let version = r.u8()?;
        if version > BUNDLE_VERSION {
            return Err(Error::UnsupportedVersion { found: version });
        }
        if version != BUNDLE_VERSION {
            return Err(Error::malformed("bundle version 0 does not exist"));
        }
        let suite = r.u8()?;
        if suite != SHARING_SUITE_V1 {
            return Err(Error::UnsupportedSuite { found: suite });
        }
        if r.u8()? != 0 {
            return Err(Error::malformed("reserved bundle flags are not zero"));
        }
        let account_len = usize::from(r.u8()?);
        let created = r.u64()?;
        if bytes.len() != FIXED_LEN + account_len + KEYS_AND_SIGNATURE {
            return Err(Error::malformed("identity bundle length"));
        }
        if created > Timestamp::MAX.as_millis() {
            return Err(Error::malformed("bundle time beyond 2^53 - 1"));
        }
        let account = core::str::from_utf8(r.take(account_len)?)
            .map_err(|_| Error::malformed("bundle account name"))?;
        check_account(account).map_err(|_| Error::malformed("bundle account name"))?;
        let signing: [u8; SIGNING_KEY_LEN] = r.array()?;
        let vk = VerifyingKey::from_bytes(&signing)
            .map_err(|_| Error::malformed("bundle signing key"))?;
        if vk.is_weak() {
            return Err(Error::malformed("bundle signing key has small order"));
        }
        r.take(KEM_PUBLIC_KEY_LEN)?;
        let signature: [u8; SIGNATURE_LEN] = r.array()?;
        if !r.is_empty() {
            return Err(Error::malformed("trailing bytes after the bundle"));
        }
        let signed = bytes
            .get(..bytes.len() - SIGNATURE_LEN)
            .ok_or(Error::malformed("identity bundle length"))?;
        vk.verify_strict(
            &signature_message(signed),
            &Signature::from_bytes(&signature),
        )
        .map_err(|_| Error::BadSignature {
            what: "identity bundle",
        })?;
        Ok(PublicBundle {
            bytes: bytes.to_vec(),
            account_len,
            created: Timestamp(created),
            hash: bundle_hash(signed),
        })
    }

    /// Parses the text form (base64url, SPEC §5).
    ///
    /// # Errors
    ///
    /// [`Error::Encoding`] for bad text, then as [`PublicBundle::from_bytes`].
    pub fn from_text(text: &str) -> Result<Self> {
        if text.len() > MAX_BUNDLE_LEN.div_ceil(3) * 4 {
            return Err(Error::too_large(
                "identity bundle text",
                MAX_BUNDLE_LEN.div_ceil(3) * 4,
                text.len(),
            ));
        }
        Self::from_bytes(&text::decode(text)?)
    }

    /// The canonical bytes (the signature included).
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The text form (unpadded base64url).
    #[must_use]
    pub fn to_text(&self) -> String {
        text::encode(&self.bytes)
    }

    /// The account name the bundle was made for.
    #[must_use]
    pub fn account(&self) -> &str {
        self.bytes
            .get(FIXED_LEN..FIXED_LEN + self.account_len)
            .and_then(|b| core::str::from_utf8(b).ok())
            .unwrap_or_default()
    }

    /// When the identity was made (milliseconds since the Unix epoch, as
    /// the caller supplied it).
    #[must_use]
    pub fn created(&self) -> Timestamp {
        self.created
    }

    /// The bundle hash: BLAKE2b-256 of the hash context, a zero byte and
    /// every byte before the signature (SPEC §13.2).
    #[must_use]
    pub fn hash(&self) -> &[u8; BUNDLE_HASH_LEN] {
        &self.hash
    }

    /// The key id: the first [`KEY_ID_LEN`] bytes of the hash.
    #[must_use]
    pub fn key_id(&self) -> [u8; KEY_ID_LEN] {
        let mut out = [0u8; KEY_ID_LEN];
        out.copy_from_slice(self.hash.get(..KEY_ID_LEN).unwrap_or(&[0; KEY_ID_LEN]));
        out
    }

    /// The fingerprint people compare: the first [`FINGERPRINT_LEN`] bytes
    /// of the hash.
    #[must_use]
    pub fn fingerprint(&self) -> Fingerprint {
        let mut out = [0u8; FINGERPRINT_LEN];
        out.copy_from_slice(
            self.hash
                .get(..FINGERPRINT_LEN)
                .unwrap_or(&[0; FINGERPRINT_LEN]),
        );
        Fingerprint(out)
    }

    /// Checks the bundle against a fingerprint the user typed or pasted
    /// (read as [`Fingerprint::parse`] reads it).
    ///
    /// # Errors
    ///
    /// [`Error::WrongFingerprint`] unless `expected` denotes exactly this
    /// bundle's fingerprint (text that does not parse included).
    pub fn verify_fingerprint(&self, expected: &str) -> Result<()> {
        match Fingerprint::parse(expected) {
            Ok(fp) if fp == self.fingerprint() => Ok(()),
            _ => Err(Error::WrongFingerprint),
        }
    }

    /// The Ed25519 verifying key's bytes.
    #[must_use]
    pub fn signing_key_bytes(&self) -> &[u8] {
        let start = FIXED_LEN + self.account_len;
        self.bytes
            .get(start..start + SIGNING_KEY_LEN)
            .unwrap_or_default()
    }

    /// The X-Wing public key's bytes.
    #[must_use]
    pub fn kem_public_key_bytes(&self) -> &[u8] {
        let start = FIXED_LEN + self.account_len + SIGNING_KEY_LEN;
        self.bytes
            .get(start..start + KEM_PUBLIC_KEY_LEN)
            .unwrap_or_default()
    }

    /// The verifying key (checked when the bundle was parsed).
    pub(crate) fn verifying_key(&self) -> Result<VerifyingKey> {
        let raw: [u8; SIGNING_KEY_LEN] = self
            .signing_key_bytes()
            .try_into()
            .map_err(|_| Error::malformed("bundle signing key"))?;
        VerifyingKey::from_bytes(&raw).map_err(|_| Error::malformed("bundle signing key"))
    }

    /// Verifies `signature` over `message` under this bundle's signing key.
    pub(crate) fn verify(
        &self,
        message: &[u8],
        signature: &[u8; SIGNATURE_LEN],
        what: &'static str,
    ) -> Result<()> {
        self.verifying_key()?
            .verify_strict(message, &Signature::from_bytes(signature))
            .map_err(|_| Error::BadSignature { what })
    }
}

impl fmt::Debug for PublicBundle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PublicBundle")
            .field("account", &self.account())
            .field("created", &self.created)
            .field("fingerprint", &self.fingerprint().to_string())
            .finish()
    }
}

/// The bytes of a bundle before its signature, for the signer
/// (`crate::share::identity`): every field of SPEC §13.1.
#[cfg(feature = "sharing")]
pub(crate) fn unsigned_bundle(
    account: &str,
    created: Timestamp,
    signing_key: &[u8; SIGNING_KEY_LEN],
    kem_public_key: &[u8],
) -> Result<Vec<u8>> {
    check_account(account)?;
    if created > Timestamp::MAX {
        return Err(Error::invalid("a creation time is at most 2^53 - 1"));
    }
    let account_len =
        u8::try_from(account.len()).map_err(|_| Error::invalid("account name too long"))?;
    if kem_public_key.len() != KEM_PUBLIC_KEY_LEN {
        return Err(Error::invalid("X-Wing public key length"));
    }
    let mut out = Vec::with_capacity(MAX_BUNDLE_LEN);
    out.extend_from_slice(&BUNDLE_MAGIC);
    out.extend_from_slice(&[BUNDLE_VERSION, SHARING_SUITE_V1, 0, account_len]);
    out.extend_from_slice(&created.as_millis().to_le_bytes());
    out.extend_from_slice(account.as_bytes());
    out.extend_from_slice(signing_key);
    out.extend_from_slice(kem_public_key);
    Ok(out)
}

/// What a bundle's Ed25519 key signs: the context, a zero byte, and every
/// byte of the bundle before the signature.
pub(crate) fn signature_message(unsigned: &[u8]) -> Vec<u8> {
    let mut msg = Vec::with_capacity(BUNDLE_SIGNATURE_CONTEXT.len() + 1 + unsigned.len());
    msg.extend_from_slice(BUNDLE_SIGNATURE_CONTEXT);
    msg.push(0);
    msg.extend_from_slice(unsigned);
    msg
}

fn bundle_hash(unsigned: &[u8]) -> [u8; BUNDLE_HASH_LEN] {
    Blake2b::<U32>::new()
        .chain_update(BUNDLE_HASH_CONTEXT)
        .chain_update([0u8])
        .chain_update(unsigned)
        .finalize()
        .into()
}

/// A short, human-comparable digest of a [`PublicBundle`]: 160 bits,
/// written as 32 Crockford base32 characters in 8 groups of 4
/// (`7K3Q-…`). Two people compare it once, out of band; a client then pins
/// the bundle.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fingerprint([u8; FINGERPRINT_LEN]);

impl Fingerprint {
    /// Reads a fingerprint as people type it: ASCII case, `-` and white
    /// space are ignored; `O` reads as `0`, `I` and `L` as `1` (the
    /// recovery key's rules, SPEC §1.2).
    ///
    /// # Errors
    ///
    /// [`Error::Encoding`] for a character outside the alphabet or a length
    /// other than [`FINGERPRINT_CHARS`] symbols.
    pub fn parse(text: &str) -> Result<Self> {
        let bad = || Error::Encoding {
            what: "fingerprint",
        };
        if text.len() > 8 * FINGERPRINT_CHARS {
            return Err(bad());
        }
        let mut out = [0u8; FINGERPRINT_LEN];
        let mut acc: u32 = 0;
        let mut bits = 0u32;
        let mut n = 0usize;
        let mut written = 0usize;
        for c in text.chars() {
            if c == '-' || c.is_whitespace() {
                continue;
            }
            let v = decode_char(c).ok_or_else(bad)?;
            n += 1;
            if n > FINGERPRINT_CHARS {
                return Err(bad());
            }
            acc = ((acc << 5) | u32::from(v)) & 0xFFF;
            bits += 5;
            if bits >= 8 {
                bits -= 8;
                *out.get_mut(written).ok_or_else(bad)? = ((acc >> bits) & 0xff) as u8;
                written += 1;
            }
        }
        if n != FINGERPRINT_CHARS || written != FINGERPRINT_LEN {
            return Err(bad());
        }
        Ok(Fingerprint(out))
    }

    /// The 20 bytes.
    #[must_use]
    pub const fn as_bytes(&self) -> &[u8; FINGERPRINT_LEN] {
        &self.0
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut acc: u32 = 0;
        let mut bits = 0u32;
        let mut written = 0usize;
        for &byte in &self.0 {
            acc = ((acc << 8) | u32::from(byte)) & 0xFFF;
            bits += 8;
            while bits >= 5 {
                bits -= 5;
                if written > 0 && written.is_multiple_of(GROUP) {
                    f.write_str("-")?;
                }
                let idx = ((acc >> bits) & 31) as usize;
                write!(f, "{}", char::from(*ALPHABET.get(idx).unwrap_or(&b'0')))?;
                written += 1;
            }
        }
        Ok(())
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fingerprint({self})")
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use super::*;

    #[test]
    fn fingerprint_text_round_trips_and_is_lenient_like_the_recovery_key() {
        let fp = Fingerprint([0xA5; FINGERPRINT_LEN]);
        let text = fp.to_string();
        assert_eq!(
            text.len(),
            FINGERPRINT_CHARS + FINGERPRINT_CHARS / GROUP - 1
        );
        assert_eq!(Fingerprint::parse(&text).unwrap(), fp);
        let sloppy = text.to_lowercase().replace('-', " ");
        assert_eq!(Fingerprint::parse(&sloppy).unwrap(), fp);
        let short = &text[..text.len() - 1];
        assert!(matches!(
            Fingerprint::parse(short),
            Err(Error::Encoding { .. })
        ));
        assert!(matches!(
            Fingerprint::parse(&format!("{text}0")),
            Err(Error::Encoding { .. })
        ));
        assert!(matches!(
            Fingerprint::parse(&text.replacen(|c: char| c != '-', "U", 1)),
            Err(Error::Encoding { .. })
        ));
        // Every bit matters: 32 symbols × 5 bits = 160 bits exactly.
        for i in 0..FINGERPRINT_LEN {
            let mut b = [0u8; FINGERPRINT_LEN];
            b[i] = 1;
            let t = Fingerprint(b).to_string();
            assert_eq!(Fingerprint::parse(&t).unwrap(), Fingerprint(b));
            assert_ne!(Fingerprint(b), Fingerprint([0; FINGERPRINT_LEN]));
        }
    }

    #[test]
    fn garbage_is_refused_before_any_signature_work() {
        assert!(matches!(
            PublicBundle::from_bytes(&[0u8; MAX_BUNDLE_LEN + 1]),
            Err(Error::LimitExceeded { .. })
        ));
        assert!(matches!(
            PublicBundle::from_bytes(b"PVLT"),
            Err(Error::Malformed { .. })
        ));
        assert!(matches!(
            PublicBundle::from_bytes(&[]),
            Err(Error::Malformed { .. })
        ));
    }
}
