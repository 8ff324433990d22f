//! Sealed records: an owned, validated record ([`SealedRecord`]) and the
//! crate-internal seal/open of sealed kinds.

use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::format::{self, HEADER_LEN, RecordHeader, RecordKind, SEALED_OVERHEAD, padding};
use crate::hazmat::{self, Key};

/// One stored object in its canonical binary form, structurally validated.
///
/// Holding a `SealedRecord` proves only that the bytes parse (magic, version,
/// kind rules, exact length, limits); authenticity is checked when a key
/// opens it.
#[derive(Clone, PartialEq, Eq)]
pub struct SealedRecord {
    header: RecordHeader,
    bytes: Vec<u8>,
}

impl SealedRecord {
    /// Validates and takes ownership of the binary form.
    ///
    /// # Errors
    ///
    /// As [`format::read::parse_record`].
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self> {
        let (header, _) = format::read::parse_record(&bytes)?;
        Ok(SealedRecord { header, bytes })
    }

    /// Parses the base64url text form.
    ///
    /// # Errors
    ///
    /// [`Error::Encoding`] or [`Error::LimitExceeded`] for bad text, then as
    /// [`SealedRecord::from_bytes`].
    pub fn from_text(text: &str) -> Result<Self> {
        Self::from_bytes(format::text::decode(text)?)
    }

    /// The public header.
    #[must_use]
    pub fn header(&self) -> &RecordHeader {
        &self.header
    }

    /// The record kind.
    #[must_use]
    pub fn kind(&self) -> RecordKind {
        self.header.kind
    }

    /// The key under which a store keeps this record (see [`RecordHeader::storage_key`]).
    #[must_use]
    pub fn storage_key(&self) -> String {
        self.header.storage_key()
    }

    /// The canonical binary form.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Consumes the record, returning its binary form.
    #[must_use]
    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }

    /// The canonical text form (unpadded base64url).
    #[must_use]
    pub fn to_text(&self) -> String {
        format::text::encode(&self.bytes)
    }

    pub(crate) fn from_parts(header: RecordHeader, bytes: Vec<u8>) -> Self {
        SealedRecord { header, bytes }
    }
}

impl core::fmt::Debug for SealedRecord {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SealedRecord")
            .field("header", &self.header)
            .field("len", &self.bytes.len())
            .finish()
    }
}

/// Seals `payload` as a record with `header` (its `body_len` is filled in).
pub(crate) fn seal(key: &Key, mut header: RecordHeader, payload: &[u8]) -> Result<SealedRecord> {
    let max = header.kind.max_plaintext();
    if payload.len() > max {
        return Err(Error::too_large(header.kind.name(), max, payload.len()));
    }
    let body_len = SEALED_OVERHEAD + padding::padded_len(payload.len());
    header.body_len = u32::try_from(body_len)
        .map_err(|_| Error::too_large("record body", u32::MAX as usize, body_len))?;
    let aad = format::write::encode_header(&header);
    let mut bytes = Vec::with_capacity(HEADER_LEN + body_len);
    bytes.extend_from_slice(&aad);
    // The padded plaintext is written once, straight into the record, and
    // encrypted there: no intermediate copy to allocate and wipe.
    hazmat::aead::seal_appended(key, &aad, &mut bytes, |buf| padding::pad_into(payload, buf))?;
    Ok(SealedRecord { header, bytes })
}

/// Opens a sealed record: authenticates the header and body under `key` and
/// returns the payload.
///
/// # Errors
///
/// [`Error::Authentication`] for a wrong key or any modified byte.
pub(crate) fn open(key: &Key, record: &SealedRecord) -> Result<Zeroizing<Vec<u8>>> {
    let (aad, body) = record
        .bytes
        .split_at_checked(HEADER_LEN)
        .ok_or(Error::Authentication)?;
    let mut plain = Zeroizing::new(hazmat::aead::open(key, aad, body)?);
    let len = padding::unpad(&plain)?.len();
    // Strip the length prefix and the zero padding in place rather than
    // copying the payload out: the spare capacity left behind is wiped with
    // the rest when the `Zeroizing` drops.
    plain.drain(..padding::LEN_PREFIX);
    plain.truncate(len);
    Ok(plain)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use super::*;
    use crate::ids::{ID_LEN, VaultId};

    /// SPEC §3 (D1): an item key's 32 bytes are framed and padded like
    /// every sealed plaintext: `20 00 00 00 ‖ key ‖ 28 zero bytes`, body 92.
    #[test]
    fn item_key_plaintext_is_framed_and_padded() {
        let vk = Key::generate().unwrap();
        let item = Key::generate().unwrap();
        let header = RecordHeader {
            kind: RecordKind::ItemKey,
            key_gen: 1,
            vault_id: VaultId::from_bytes([1; ID_LEN]),
            id1: [2; ID_LEN],
            id2: [0; ID_LEN],
            revision: 0,
            body_len: 0,
        };
        let rec = seal(&vk, header, item.expose_secret()).unwrap();
        assert_eq!(rec.as_bytes().len(), HEADER_LEN + 92);
        let (aad, body) = rec.as_bytes().split_at(HEADER_LEN);
        let padded = hazmat::aead::open(&vk, aad, body).unwrap();
        assert_eq!(padded.len(), 64);
        assert_eq!(padded[..4], [32, 0, 0, 0]);
        assert_eq!(&padded[4..36], item.expose_secret());
        assert!(padded[36..].iter().all(|b| *b == 0));
        assert_eq!(open(&vk, &rec).unwrap().as_slice(), item.expose_secret());
    }
}
