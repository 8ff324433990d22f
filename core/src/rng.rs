//! The only source of randomness: the operating system (through `getrandom`;
//! in browsers, `crypto.getRandomValues`). Never a seeded PRNG.

use crate::error::{Error, Result};

/// Fills `buf` with random bytes.
///
/// # Errors
///
/// [`Error::Randomness`] when the system generator fails.
pub(crate) fn fill(buf: &mut [u8]) -> Result<()> {
    getrandom::fill(buf).map_err(|_| Error::Randomness)
}

/// Returns `N` random bytes.
///
/// # Errors
///
/// [`Error::Randomness`] when the system generator fails.
pub(crate) fn array<const N: usize>() -> Result<[u8; N]> {
    let mut out = [0u8; N];
    fill(&mut out)?;
    Ok(out)
}
