//! Canonical encoding of record headers.

use super::{FORMAT_VERSION, HEADER_LEN, MAGIC, RecordHeader, SUITE_V1};

/// Encodes the 72-byte cleartext header.
#[must_use]
pub fn encode_header(h: &RecordHeader) -> [u8; HEADER_LEN] {
    let mut out = [0u8; HEADER_LEN];
    let fields: [&[u8]; 11] = [
        &MAGIC,
        &[FORMAT_VERSION],
        &[h.kind as u8],
        &[SUITE_V1],
        &[0],
        &h.key_gen.to_le_bytes(),
        h.vault_id.as_bytes(),
        &h.id1,
        &h.id2,
        &h.revision.to_le_bytes(),
        &h.body_len.to_le_bytes(),
    ];
    let mut at = out.iter_mut();
    for byte in fields.iter().flat_map(|f| f.iter()) {
        if let Some(slot) = at.next() {
            *slot = *byte;
        }
    }
    out
}
