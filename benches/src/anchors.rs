//! The anchors ours is compared against: a raw `aes-gcm` seal, `ring`'s
//! AES-256-GCM, the bare `argon2` crate, and the reference C libargon2.
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

/// The reference C implementation, libargon2 (Debian's `libargon2-1`),
/// loaded at run time so that building this crate needs no C library.
pub struct LibArgon2 {
    // Keeps the library mapped while `hash` is usable.
    _lib: libloading::Library,
    hash: Argon2idHashRaw,
    /// The file that was loaded.
    pub path: String,
}

impl core::fmt::Debug for LibArgon2 {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("LibArgon2")
            .field("path", &self.path)
            .finish()
    }
}

/// `int argon2id_hash_raw(uint32_t t_cost, uint32_t m_cost, uint32_t
/// parallelism, const void *pwd, size_t pwdlen, const void *salt, size_t
/// saltlen, void *hash, size_t hashlen)` from `argon2.h`.
type Argon2idHashRaw = unsafe extern "C" fn(
    u32,
    u32,
    u32,
    *const core::ffi::c_void,
    usize,
    *const core::ffi::c_void,
    usize,
    *mut core::ffi::c_void,
    usize,
) -> core::ffi::c_int;

/// Where Debian installs the shared library (runtime package first).
const LIBARGON2: &[&str] = &[
    "libargon2.so.1",
    "/usr/lib/x86_64-linux-gnu/libargon2.so.1",
    "/usr/lib/aarch64-linux-gnu/libargon2.so.1",
    "libargon2.so",
];

#[allow(unsafe_code)]
impl LibArgon2 {
    /// Loads libargon2.
    ///
    /// # Errors
    ///
    /// When no libargon2 is installed (`apt-get install libargon2-1`).
    pub fn load() -> BoxResult<Self> {
        let mut last = String::new();
        for path in LIBARGON2 {
            // SAFETY: loading libargon2 runs no initialisers with
            // preconditions (it has none); the library is a plain C library.
            match unsafe { libloading::Library::new(path) } {
                Ok(lib) => {
                    // SAFETY: the symbol has the C signature declared in
                    // `Argon2idHashRaw` (argon2.h, stable since 2016); the
                    // copied function pointer is only used while `_lib` is alive.
                    let hash: Argon2idHashRaw =
                        unsafe { *lib.get::<Argon2idHashRaw>(b"argon2id_hash_raw\0")? };
                    return Ok(LibArgon2 {
                        _lib: lib,
                        hash,
                        path: (*path).to_owned(),
                    });
                }
                Err(e) => last = e.to_string(),
            }
        }
        Err(format!("libargon2 not found (apt-get install libargon2-1): {last}").into())
    }

    /// Argon2id v0x13 into `out`.
    ///
    /// # Errors
    ///
    /// With libargon2's error code.
    pub fn hash(
        &self,
        password: &[u8],
        salt: &[u8],
        m_kib: u32,
        t: u32,
        p: u32,
        out: &mut [u8],
    ) -> BoxResult<()> {
        // SAFETY: every pointer comes from a live slice with its exact
        // length; libargon2 reads `pwdlen`/`saltlen` bytes and writes
        // `hashlen` bytes, and keeps no pointer after returning.
        let rc = unsafe {
            (self.hash)(
                t,
                m_kib,
                p,
                password.as_ptr().cast(),
                password.len(),
                salt.as_ptr().cast(),
                salt.len(),
                out.as_mut_ptr().cast(),
                out.len(),
            )
        };
        if rc == 0 {
            Ok(())
        } else {
            Err(format!("libargon2 error {rc}").into())
        }
    }
}
