//! Plaintext framing and Padmé padding.
//!
//! A sealed plaintext is framed as `len (u32 LE) ‖ data ‖ zero bytes`, with
//! total length `P = max(MIN_PADDED, padme(4 + len))`. Padmé (Nikitin et al.,
//! PETS 2019) rounds a length `L` so that at most `O(log log L)` low bits vary,
//! leaking at most ~12% size overhead while hiding the exact length.

use crate::error::{Error, Result};

/// Smallest padded plaintext, in bytes.
pub const MIN_PADDED: usize = 64;
/// Length of the length prefix.
pub const LEN_PREFIX: usize = 4;

/// Padmé: the padded length of `len` bytes.
#[must_use]
pub const fn padme(len: usize) -> usize {
    if len < 2 {
        return len;
    }
    let e = usize::BITS - 1 - len.leading_zeros(); // floor(log2 len)
    let s = u32::BITS - e.leading_zeros(); // floor(log2 e) + 1
    let last_bits = e - s;
    let mask = (1usize << last_bits) - 1;
    len.saturating_add(mask) & !mask
}

/// The padded length for `data_len` bytes of payload.
#[must_use]
pub const fn padded_len(data_len: usize) -> usize {
    let p = padme(data_len.saturating_add(LEN_PREFIX));
    if p < MIN_PADDED { MIN_PADDED } else { p }
}

/// Whether `n` is a length that [`padded_len`] can produce.
#[must_use]
pub fn is_canonical_padded_len(n: usize) -> bool {
    n >= MIN_PADDED && padme(n) == n
}

/// Frames and pads `data`.
///
/// # Errors
///
/// [`Error::LimitExceeded`] if `data` does not fit a `u32` length prefix.
pub fn pad(data: &[u8]) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(padded_len(data.len()));
    pad_into(data, &mut out)?;
    Ok(out)
}

/// Appends the framed and padded `data` to `out` (so a sealer can encrypt
/// it in place, with no intermediate plaintext copy to wipe). On error
/// nothing is appended.
pub(crate) fn pad_into(data: &[u8], out: &mut Vec<u8>) -> Result<()> {
    let len = u32::try_from(data.len())
        .map_err(|_| Error::too_large("plaintext", u32::MAX as usize, data.len()))?;
    let total = padded_len(data.len());
    let end = out.len().saturating_add(total);
    out.reserve(total);
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(data);
    out.resize(end, 0);
    Ok(())
}

/// Checks the framing and padding of a decrypted plaintext and returns the payload.
///
/// # Errors
///
/// [`Error::Authentication`] for a non-canonical framing. (The plaintext has
/// already been authenticated, so this only fires for a buggy writer; it is
/// reported like any other unopenable record.)
pub fn unpad(padded: &[u8]) -> Result<&[u8]> {
    let (prefix, rest) = padded
        .split_at_checked(LEN_PREFIX)
        .ok_or(Error::Authentication)?;
    let prefix: [u8; LEN_PREFIX] = prefix.try_into().map_err(|_| Error::Authentication)?;
    let len = usize::try_from(u32::from_le_bytes(prefix)).map_err(|_| Error::Authentication)?;
    if padded_len(len) != padded.len() {
        return Err(Error::Authentication);
    }
    let (data, zeros) = rest.split_at_checked(len).ok_or(Error::Authentication)?;
    if zeros.iter().any(|&b| b != 0) {
        return Err(Error::Authentication);
    }
    Ok(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padme_matches_the_paper() {
        // Values from the Padmé definition: at most log2(log2 L) + 1 low bits vary.
        assert_eq!(padme(0), 0);
        assert_eq!(padme(64), 64);
        assert_eq!(padme(65), 72);
        assert_eq!(padme(100), 104);
        assert_eq!(padme(1000), 1024);
        assert_eq!(padme(1025), 1088);
        assert_eq!(padme(1_000_000), 1_015_808);
        for l in 2..5000 {
            let p = padme(l);
            assert!(p >= l && p - l <= l / 8 + 1, "{l} -> {p}");
            assert_eq!(padme(p), p);
        }
    }

    #[test]
    fn pad_unpad_round_trip_and_strictness() {
        for n in [0usize, 1, 59, 60, 61, 200, 4096] {
            let data = vec![0x5a; n];
            let padded = pad(&data).unwrap();
            assert!(is_canonical_padded_len(padded.len()));
            assert_eq!(unpad(&padded).unwrap(), &data[..]);
        }
        let mut bad = pad(b"abc").unwrap();
        *bad.last_mut().unwrap() = 1;
        assert!(unpad(&bad).is_err());
        let mut bad = pad(b"abc").unwrap();
        bad[0] = 200;
        assert!(unpad(&bad).is_err());
    }
}
