//! The crate-internal seal and open of sealed record kinds (`unlock`
//! feature): AES-256-GCM under an item, vault or export key, with the
//! record's cleartext header as associated data.

use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::format::{self, HEADER_LEN, RecordHeader, SEALED_OVERHEAD, padding};
use crate::hazmat::{self, Key};
use crate::record::SealedRecord;

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
    Ok(SealedRecord::from_parts(header, bytes))
}

/// Opens a sealed record: authenticates the header and body under `key` and
/// returns the payload.
///
/// # Errors
///
/// [`Error::Authentication`] for a wrong key or any modified byte.
pub(crate) fn open(key: &Key, record: &SealedRecord) -> Result<Zeroizing<Vec<u8>>> {
    let (aad, body) = record
        .as_bytes()
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
    use crate::format::RecordKind;
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
