//! Argon2id parameters and salt length (keyless: a vault header carries
//! them in cleartext). The derivation itself is in `crate::argon`, with
//! the `unlock` feature.
//!
//! Parameters are validated against fixed, documented bounds *before* any
//! memory is allocated or any hashing starts, so a hostile header cannot make
//! a client burn unbounded memory or time.

use crate::error::{Error, Result};

/// Length of the Argon2 salt in bytes.
pub const SALT_LEN: usize = 16;

/// Validated Argon2id parameters: the one shape every binding and message
/// uses (`{"mCostKib", "tCost", "pCost"}` in JSON).
///
/// Fields are private; build with [`KdfParams::new`], which enforces the
/// bounds below. Deserialising runs the same check (unknown fields and
/// out-of-range values are refused), so no caller holds unchecked
/// parameters. The defaults (64 MiB, t = 3, p = 1) are fixed and never
/// calibrated to the device that creates the vault, so a vault made on a
/// fast laptop opens on a phone and in single-threaded WASM.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "camelCase")]
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

    /// Parses the JSON form `{"mCostKib", "tCost", "pCost"}` (what a
    /// binding receives), keeping [`KdfParams::new`]'s error codes.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] for JSON that is not that object (a missing
    /// or unknown field, a value that is not a whole number);
    /// [`Error::KdfParamsOutOfBounds`] as [`KdfParams::new`].
    pub fn from_json(text: &str) -> Result<Self> {
        let raw: RawKdfParams = serde_json::from_str(text).map_err(|_| {
            Error::invalid(
                "KDF parameters must be {mCostKib, tCost, pCost}, each a whole number and nothing else",
            )
        })?;
        KdfParams::new(raw.m_cost_kib, raw.t_cost, raw.p_cost)
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

/// The unchecked wire form of [`KdfParams`], checked by `TryFrom`.
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawKdfParams {
    m_cost_kib: u32,
    t_cost: u32,
    p_cost: u32,
}

/// Deserialises the JSON form through [`KdfParams::new`]; a value out of
/// range fails with [`Error::js_message`]'s text (the wire names).
impl<'de> serde::Deserialize<'de> for KdfParams {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> core::result::Result<Self, D::Error> {
        let raw = <RawKdfParams as serde::Deserialize>::deserialize(d)?;
        KdfParams::new(raw.m_cost_kib, raw.t_cost, raw.p_cost)
            .map_err(|e| serde::de::Error::custom(e.js_message()))
    }
}

impl Default for KdfParams {
    fn default() -> Self {
        Self::DEFAULT
    }
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
    fn serde_is_checked() {
        let json = serde_json::to_string(&KdfParams::DEFAULT).unwrap();
        assert_eq!(json, r#"{"mCostKib":65536,"tCost":3,"pCost":1}"#);
        let back: KdfParams = serde_json::from_str(&json).unwrap();
        assert_eq!(back, KdfParams::DEFAULT);
        let low = serde_json::from_str::<KdfParams>(r#"{"mCostKib":1000,"tCost":3,"pCost":1}"#);
        let low = low.unwrap_err().to_string();
        assert!(
            low.contains("mCostKib is 1000") && low.contains("19456 to 1048576"),
            "{low}"
        );
        assert!(serde_json::from_str::<KdfParams>(r#"{"mCostKib":65536,"tCost":3}"#).is_err());
        assert!(
            serde_json::from_str::<KdfParams>(r#"{"mCostKib":65536,"tCost":3,"pCost":1,"x":1}"#)
                .is_err()
        );
        let code = |t: &str| KdfParams::from_json(t).unwrap_err().code();
        assert_eq!(
            code(r#"{"mCostKib":1000,"tCost":3,"pCost":1}"#),
            crate::ErrorCode::KdfParamsOutOfBounds
        );
        assert_eq!(
            code(r#"{"mCostKib":65536,"tCost":3}"#),
            crate::ErrorCode::InvalidInput
        );
        assert_eq!(KdfParams::from_json(&json).unwrap(), KdfParams::DEFAULT);
    }
}
