//! Key headers, keylessly: the layout of a vault header (kind 1) or an
//! export header (kind 5) and its strict parse. The slots stay opaque bytes
//! here; unwrapping them is `crate::header`'s (`unlock` feature).

use crate::error::{Error, Result};
use crate::format::read::Reader;
use crate::format::{self, COMMITTED_SLOT_LEN, RecordHeader, RecordKind, SEAL_LEN, SLOT_LEN};
use crate::kdf::{KdfParams, SALT_LEN};

/// A key slot: nonce, wrapped key, tag.
pub(crate) type Slot = [u8; SLOT_LEN];
/// A key-committing slot (SPEC §4.1): `commitment (32) ‖ nonce (12) ‖
/// ciphertext (32) ‖ tag (16)`.
pub(crate) type CommittedSlot = [u8; COMMITTED_SLOT_LEN];

/// A parsed key header (vault or export).
#[derive(Clone)]
pub(crate) struct KeyHeader {
    pub(crate) record: RecordHeader,
    pub(crate) kdf: KdfParams,
    pub(crate) salt: [u8; SALT_LEN],
    pub(crate) password_slot: CommittedSlot,
    /// Vault headers only.
    pub(crate) recovery_slot: CommittedSlot,
    /// Generation of the previous vault key wrapped in `prev_slot`, or 0.
    pub(crate) prev_gen: u32,
    pub(crate) prev_slot: Slot,
    pub(crate) bytes: Vec<u8>,
}

impl KeyHeader {
    /// Parses a vault or export header. KDF parameters are validated here,
    /// before any key derivation can be attempted.
    pub(crate) fn parse(bytes: &[u8], expect: RecordKind) -> Result<Self> {
        let (record, body) = format::read::parse_record(bytes)?;
        if record.kind != expect {
            return Err(Error::WrongKind {
                found: record.kind as u8,
            });
        }
        let mut r = Reader::new(body);
        let (m, t, p) = (r.u32()?, r.u32()?, r.u32()?);
        let kdf = KdfParams::new(m, t, p)?;
        let salt = r.array()?;
        let password_slot = r.array()?;
        let (recovery_slot, prev_gen, prev_slot) = if expect == RecordKind::VaultHeader {
            let recovery_slot = r.array()?;
            let prev_gen = r.u32()?;
            let prev_slot: Slot = r.array()?;
            if prev_gen == 0 && prev_slot != [0u8; SLOT_LEN] {
                return Err(Error::malformed("previous-key slot without a generation"));
            }
            if prev_gen >= record.key_gen {
                return Err(Error::malformed("previous key generation is not older"));
            }
            (recovery_slot, prev_gen, prev_slot)
        } else {
            ([0; COMMITTED_SLOT_LEN], 0, [0; SLOT_LEN])
        };
        let _seal: [u8; SEAL_LEN] = r.array()?;
        if !r.is_empty() {
            return Err(Error::malformed("trailing bytes in header body"));
        }
        Ok(KeyHeader {
            record,
            kdf,
            salt,
            password_slot,
            recovery_slot,
            prev_gen,
            prev_slot,
            bytes: bytes.to_vec(),
        })
    }
}
