//! The canonical text form of any record: unpadded base64url (RFC 4648 §5)
//! of the binary form, for JSON transport. Decoding is strict: no padding,
//! no whitespace, no non-zero trailing bits, and a length limit checked
//! before decoding.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::MAX_RECORD_LEN;
use crate::error::{Error, Result};

/// Encodes bytes as unpadded base64url.
#[must_use]
pub fn encode(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Decodes unpadded base64url, refusing text longer than a maximal record.
///
/// # Errors
///
/// [`Error::LimitExceeded`] for oversized text; [`Error::Encoding`] for
/// anything that is not canonical unpadded base64url.
pub fn decode(text: &str) -> Result<Vec<u8>> {
    let max_text = MAX_RECORD_LEN.div_ceil(3) * 4;
    if text.len() > max_text {
        return Err(Error::too_large("record text", max_text, text.len()));
    }
    URL_SAFE_NO_PAD
        .decode(text)
        .map_err(|_| Error::Encoding { what: "base64url" })
}
