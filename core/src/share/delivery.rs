//! Key-delivery records (kind 10, SPEC §13.4), keylessly: the structure,
//! the names in the cleartext header, and the sender's signature. Sealing
//! and opening one (HPKE) is `crate::share::identity`'s (`sharing`
//! feature).

use crate::error::{Error, Result};
use crate::format::{HEADER_LEN, RecordKind};
use crate::ids::VaultId;
use crate::record::SealedRecord;

use super::bundle::{BUNDLE_HASH_LEN, KEY_ID_LEN, PublicBundle, SIGNATURE_LEN};

/// Length of an X-Wing encapsulation (HPKE `enc`).
pub const KEM_ENC_LEN: usize = 1120;
/// Length of the HPKE ciphertext of a 32-byte space key (ChaCha20-Poly1305
/// tag included).
pub const DELIVERY_CIPHERTEXT_LEN: usize = crate::format::KEY_LEN + 16;
/// Body length of a key-delivery record: `enc ‖ ciphertext ‖ signature`.
pub const KEY_DELIVERY_BODY_LEN: usize = KEM_ENC_LEN + DELIVERY_CIPHERTEXT_LEN + SIGNATURE_LEN;
/// The label that starts a delivery's HPKE `info` and its signed message
/// (followed by a zero byte).
pub const DELIVERY_CONTEXT: &[u8] = b"promptvault v1 key delivery";

/// A space key delivered to one member, as stored and sent: an owned,
/// structurally validated kind-10 record.
///
/// Its cleartext header names the space (vault id), the space-key
/// generation, the recipient's key id (prompt-id field) and the sender's
/// key id (version-id field); anyone can read those. The key itself is
/// HPKE-sealed to the recipient and the whole record is signed by the
/// sender.
#[derive(Clone, PartialEq, Eq)]
pub struct KeyDelivery {
    record: SealedRecord,
}

impl KeyDelivery {
    /// Validates a key-delivery record's structure (no key is needed).
    ///
    /// # Errors
    ///
    /// As [`SealedRecord::from_bytes`]; [`Error::WrongKind`] for a record
    /// of another kind.
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self> {
        Self::from_record(SealedRecord::from_bytes(bytes)?)
    }

    /// Parses the base64url text form.
    ///
    /// # Errors
    ///
    /// As [`SealedRecord::from_text`], then as [`KeyDelivery::from_bytes`].
    pub fn from_text(text: &str) -> Result<Self> {
        Self::from_record(SealedRecord::from_text(text)?)
    }

    /// Wraps a parsed record.
    ///
    /// # Errors
    ///
    /// [`Error::WrongKind`] for a record of another kind.
    pub fn from_record(record: SealedRecord) -> Result<Self> {
        if record.kind() != RecordKind::KeyDelivery {
            return Err(Error::WrongKind {
                found: record.kind() as u8,
            });
        }
        Ok(KeyDelivery { record })
    }

    /// The record.
    #[must_use]
    pub fn record(&self) -> &SealedRecord {
        &self.record
    }

    /// Consumes the delivery, returning its record.
    #[must_use]
    pub fn into_record(self) -> SealedRecord {
        self.record
    }

    /// The space whose key this delivers.
    #[must_use]
    pub fn space_id(&self) -> VaultId {
        self.record.header().vault_id
    }

    /// The space-key generation delivered.
    #[must_use]
    pub fn generation(&self) -> u32 {
        self.record.header().key_gen
    }

    /// The recipient's key id ([`PublicBundle::key_id`]).
    #[must_use]
    pub fn recipient_key_id(&self) -> [u8; KEY_ID_LEN] {
        self.record.header().id1
    }

    /// The sender's key id ([`PublicBundle::key_id`]).
    #[must_use]
    pub fn sender_key_id(&self) -> [u8; KEY_ID_LEN] {
        self.record.header().id2
    }

    /// Checks that the delivery is addressed from `sender` to `recipient`
    /// and that `sender` signed it — keylessly, so a server can refuse a
    /// forged invitation before it reaches an inbox.
    ///
    /// # Errors
    ///
    /// [`Error::NotAMember`] when the recipient key id is not
    /// `recipient`'s; [`Error::BadSignature`] when the sender key id is not
    /// `sender`'s or the signature does not verify under `sender`'s key.
    pub fn verify(&self, sender: &PublicBundle, recipient: &PublicBundle) -> Result<()> {
        if self.recipient_key_id() != recipient.key_id() {
            return Err(Error::NotAMember);
        }
        if self.sender_key_id() != sender.key_id() {
            return Err(Error::BadSignature {
                what: "key delivery (another sender)",
            });
        }
        let parts = self.parts()?;
        let msg = signed_message(
            parts.header,
            parts.enc,
            parts.ciphertext,
            sender.hash(),
            recipient.hash(),
        );
        sender.verify(&msg, &parts.signature, "key delivery")
    }

    /// The record split into its header and body fields.
    pub(crate) fn parts(&self) -> Result<Parts<'_>> {
        let bytes = self.record.as_bytes();
        let (header, body) = bytes
            .split_at_checked(HEADER_LEN)
            .ok_or(Error::malformed("key delivery length"))?;
        let (enc, rest) = body
            .split_at_checked(KEM_ENC_LEN)
            .ok_or(Error::malformed("key delivery length"))?;
        let (ciphertext, signature) = rest
            .split_at_checked(DELIVERY_CIPHERTEXT_LEN)
            .ok_or(Error::malformed("key delivery length"))?;
        let signature: [u8; SIGNATURE_LEN] = signature
            .try_into()
            .map_err(|_| Error::malformed("key delivery length"))?;
        Ok(Parts {
            header,
            enc,
            ciphertext,
            signature,
        })
    }
}

impl core::fmt::Debug for KeyDelivery {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("KeyDelivery")
            .field("space", &self.space_id())
            .field("generation", &self.generation())
            .finish_non_exhaustive()
    }
}

/// The fields of a key-delivery record.
pub(crate) struct Parts<'a> {
    pub(crate) header: &'a [u8],
    pub(crate) enc: &'a [u8],
    pub(crate) ciphertext: &'a [u8],
    pub(crate) signature: [u8; SIGNATURE_LEN],
}

/// What the sender signs (SPEC §13.4): the context, a zero byte, the
/// 72-byte record header, `enc`, the ciphertext, then the sender's and the
/// recipient's bundle hashes.
pub(crate) fn signed_message(
    header: &[u8],
    enc: &[u8],
    ciphertext: &[u8],
    sender: &[u8; BUNDLE_HASH_LEN],
    recipient: &[u8; BUNDLE_HASH_LEN],
) -> Vec<u8> {
    let mut msg = Vec::with_capacity(
        DELIVERY_CONTEXT.len() + 1 + header.len() + enc.len() + ciphertext.len() + 64,
    );
    msg.extend_from_slice(DELIVERY_CONTEXT);
    msg.push(0);
    msg.extend_from_slice(header);
    msg.extend_from_slice(enc);
    msg.extend_from_slice(ciphertext);
    msg.extend_from_slice(sender);
    msg.extend_from_slice(recipient);
    msg
}

/// The HPKE `info` of a delivery (SPEC §13.4): the context, a zero byte,
/// the space id, the generation (u32 LE), then the sender's and the
/// recipient's bundle hashes.
#[cfg(feature = "sharing")]
pub(crate) fn hpke_info(
    space: &VaultId,
    generation: u32,
    sender: &[u8; BUNDLE_HASH_LEN],
    recipient: &[u8; BUNDLE_HASH_LEN],
) -> Vec<u8> {
    let mut info = Vec::with_capacity(DELIVERY_CONTEXT.len() + 1 + 16 + 4 + 64);
    info.extend_from_slice(DELIVERY_CONTEXT);
    info.push(0);
    info.extend_from_slice(space.as_bytes());
    info.extend_from_slice(&generation.to_le_bytes());
    info.extend_from_slice(sender);
    info.extend_from_slice(recipient);
    info
}
