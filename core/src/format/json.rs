//! The one canonical JSON form of every sealed plaintext: RFC 8785, the
//! JSON Canonicalization Scheme (JCS).
//!
//! JCS fixes everything a byte comparison depends on: no whitespace, object
//! members sorted by the UTF-16 code units of their names, strings escaped
//! minimally (`\b \t \n \f \r \" \\`, other controls as `\u00xx` lowercase,
//! everything else as UTF-8), and numbers as IEEE doubles printed by the
//! ECMAScript `Number.prototype.toString` rules (`2.50` → `2.5`, `1e3` →
//! `1000`, `1E30` → `1e+30`). Writers emit it; readers refuse any plaintext
//! that is not in it, so a plaintext has exactly one encoding and the merge
//! tie-break (SPEC §8) compares the same bytes in every implementation.

use serde::Serialize;
use serde::de::DeserializeOwned;
use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// Largest integer a JCS number holds exactly: 2^53 − 1.
pub const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// Serialises `value` in RFC 8785 canonical form.
///
/// # Errors
///
/// [`Error::InvalidInput`] for a value JSON cannot hold (a non-finite
/// number, a timestamp above 2^53 − 1).
pub fn to_canonical<T: Serialize>(value: &T) -> Result<Vec<u8>> {
    serde_json_canonicalizer::to_vec(value)
        .map_err(|_| Error::invalid("value cannot be serialised as canonical JSON"))
}

/// Parses a plaintext and checks that it is in canonical form.
///
/// # Errors
///
/// [`Error::Malformed`] naming `what` for text that is not JSON of the
/// expected shape, or not in RFC 8785 form.
pub fn from_canonical<T: Serialize + DeserializeOwned>(
    bytes: &[u8],
    what: &'static str,
) -> Result<T> {
    let value: T = serde_json::from_slice(bytes).map_err(|_| Error::Malformed { what })?;
    let again = Zeroizing::new(to_canonical(&value).map_err(|_| Error::Malformed { what })?);
    if again.as_slice() == bytes {
        Ok(value)
    } else {
        Err(Error::Malformed { what })
    }
}

/// Whether every number in `value` survives the trip through an IEEE
/// double unchanged (integers within ±(2^53 − 1); every float does).
#[must_use]
pub fn numbers_are_exact(value: &serde_json::Value) -> bool {
    match value {
        serde_json::Value::Number(n) => {
            n.as_u64().is_none_or(|u| u <= MAX_SAFE_INTEGER)
                && n.as_i64()
                    .is_none_or(|i| i.unsigned_abs() <= MAX_SAFE_INTEGER)
        }
        serde_json::Value::Array(a) => a.iter().all(numbers_are_exact),
        serde_json::Value::Object(o) => o.values().all(numbers_are_exact),
        _ => true,
    }
}

#[cfg(test)]
mod tests;
