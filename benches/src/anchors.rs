//! The anchors ours is compared against: a raw `aes-gcm` seal, `ring`'s
//! AES-256-GCM, the bare `argon2` crate, and the reference C Argon2.
//!
//! Each AEAD anchor is written the way a careful user of that library would
//! write a seal: the key expanded once, a fresh 96-bit nonce drawn from the
//! OS for every message (as ours does), the ciphertext and tag in a new
//! buffer.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce as RingNonce, UnboundKey};

use crate::BoxResult;

/// A raw `aes-gcm` (the crate the core uses) AES-256-GCM sealer.
pub struct RawAesGcm(Aes256Gcm);

impl core::fmt::Debug for RawAesGcm {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("RawAesGcm")
    }
}

impl RawAesGcm {
    /// Expands `key` once.
    #[must_use]
    pub fn new(key: &[u8; 32]) -> Self {
        RawAesGcm(Aes256Gcm::new(key.into()))
    }

    /// Draws a nonce and returns `nonce ‖ ciphertext ‖ tag` of `msg` (no AAD).
    ///
    /// # Errors
    ///
    /// If the OS generator fails.
    pub fn seal(&self, msg: &[u8]) -> BoxResult<Vec<u8>> {
        let mut nonce = [0u8; 12];
        getrandom::fill(&mut nonce).map_err(|e| e.to_string())?;
        let ct = self
            .0
            .encrypt(&Nonce::from(nonce), Payload { msg, aad: &[] })
            .map_err(|_| "aes-gcm seal")?;
        let mut out = Vec::with_capacity(12 + ct.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ct);
        Ok(out)
    }

    /// As [`RawAesGcm::seal`], expanding `key` for this one message (as
    /// the core does with each item key): isolates the key-schedule cost.
    ///
    /// # Errors
    ///
    /// If the OS generator fails.
    pub fn seal_with_fresh_key(key: &[u8; 32], msg: &[u8]) -> BoxResult<Vec<u8>> {
        RawAesGcm::new(key).seal(msg)
    }

    /// Opens `nonce ‖ ciphertext ‖ tag`.
    ///
    /// # Errors
    ///
    /// For a modified input.
    pub fn open(&self, sealed: &[u8]) -> BoxResult<Vec<u8>> {
        let (nonce, ct) = sealed.split_at_checked(12).ok_or("short")?;
        let nonce: [u8; 12] = nonce.try_into()?;
        Ok(self
            .0
            .decrypt(&Nonce::from(nonce), ct)
            .map_err(|_| "aes-gcm open")?)
    }
}

/// `ring`'s AES-256-GCM.
pub struct RingAesGcm(LessSafeKey);

impl core::fmt::Debug for RingAesGcm {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("RingAesGcm")
    }
}

impl RingAesGcm {
    /// Expands `key` once.
    ///
    /// # Errors
    ///
    /// Never for a 32-byte key.
    pub fn new(key: &[u8; 32]) -> BoxResult<Self> {
        let k = UnboundKey::new(&AES_256_GCM, key).map_err(|_| "ring key")?;
        Ok(RingAesGcm(LessSafeKey::new(k)))
    }

    /// Draws a nonce and returns `nonce ‖ ciphertext ‖ tag` of `msg` (no AAD).
    ///
    /// # Errors
    ///
    /// If the OS generator fails.
    pub fn seal(&self, msg: &[u8]) -> BoxResult<Vec<u8>> {
        let mut nonce = [0u8; 12];
        getrandom::fill(&mut nonce).map_err(|e| e.to_string())?;
        let mut out = Vec::with_capacity(12 + msg.len() + 16);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(msg);
        let body = out.get_mut(12..).ok_or("buffer")?;
        let tag = self
            .0
            .seal_in_place_separate_tag(RingNonce::assume_unique_for_key(nonce), Aad::empty(), body)
            .map_err(|_| "ring seal")?;
        out.extend_from_slice(tag.as_ref());
        Ok(out)
    }
}

/// Argon2id with the bare `argon2` crate (what the core wraps), into `out`.
///
/// # Errors
///
/// For parameters the crate refuses.
pub fn argon2_crate(
    password: &[u8],
    salt: &[u8],
    m_kib: u32,
    t: u32,
    p: u32,
    out: &mut [u8],
) -> BoxResult<()> {
    let params = argon2::Params::new(m_kib, t, p, Some(out.len())).map_err(|e| e.to_string())?;
    argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
        .hash_password_into(password, salt, out)
        .map_err(|e| e.to_string())?;
    Ok(())
}

/// The reference C implementation of Argon2 (phc-winner-argon2 20190702,
/// the release Debian's libargon2 is built from), compiled at -O3 with its
/// SSE2 `opt.c` path by the `argon2-kdf` crate, whose safe API keeps the
/// FFI (and its unsafe code) out of this crate.
#[derive(Debug)]
pub struct LibArgon2 {
    /// Where the implementation comes from.
    pub path: String,
}

impl LibArgon2 {
    /// The vendored reference implementation (always available).
    ///
    /// # Errors
    ///
    /// Never; kept fallible for symmetry with other anchors.
    pub fn load() -> BoxResult<Self> {
        Ok(LibArgon2 {
            path: "phc-winner-argon2 20190702 (argon2-kdf, -O3, opt.c)".to_owned(),
        })
    }

    /// Argon2id v0x13 into `out`.
    ///
    /// # Errors
    ///
    /// With the C library's error.
    pub fn hash(
        &self,
        password: &[u8],
        salt: &[u8],
        m_kib: u32,
        t: u32,
        p: u32,
        out: &mut [u8],
    ) -> BoxResult<()> {
        let hash = argon2_kdf::Hasher::new()
            .algorithm(argon2_kdf::Algorithm::Argon2id)
            .custom_salt(salt)
            .hash_length(u32::try_from(out.len())?)
            .iterations(t)
            .memory_cost_kib(m_kib)
            .threads(p)
            .hash(password)
            .map_err(|e| format!("reference argon2: {e}"))?;
        if hash.as_bytes().len() != out.len() {
            return Err("reference argon2: wrong output length".into());
        }
        out.copy_from_slice(hash.as_bytes());
        Ok(())
    }
}
