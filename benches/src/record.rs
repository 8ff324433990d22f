//! Sealing and opening one record of a chosen payload size.
//!
//! The core keeps `record::seal`/`record::open` crate-private (callers seal
//! through the vault), and this crate adds no API to it. So the record path
//! is reproduced here step for step from `core/src/record.rs` and
//! `core/src/hazmat/aead.rs`, with the core's *public* format calls where
//! they exist: the 72-byte header ([`write::encode_header`]) as associated
//! data; a nonce from the OS; the Padmé-framed plaintext written once
//! straight into the record after the nonce (as `padding::pad_into` does)
//! and encrypted there with `aes-gcm` under the key expanded for this call
//! (as `hazmat::aead::seal_appended` does). Opening is the core's public
//! calls: strict parsing ([`SealedRecord::from_bytes`]), [`aead::open`],
//! [`padding::unpad`]. The header is a real prompt-version header written by
//! the vault, with only its body length set for the payload size, and is
//! validated by the core's parser; every sealed record opens with the
//! core's own open path (`compare` checks it).
//!
//! The vault-level benches (`add_version`, `version`) measure the same
//! records through the public API, JSON and metadata included.

use promptvault::format::{HEADER_LEN, RecordHeader, SEALED_OVERHEAD, padding, read, write};
use promptvault::hazmat::{Key, aead};
use promptvault::{RecordKind, SealedRecord};
use zeroize::Zeroizing;

use crate::BoxResult;

/// Byte offset of the body length in the record header (see `SPEC.md`).
const BODY_LEN_AT: usize = 68;

/// Seals and opens records of one payload size under one item key.
pub struct RecordBench {
    key: Key,
    header: RecordHeader,
    body_len: usize,
}

impl core::fmt::Debug for RecordBench {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("RecordBench")
            .field("header", &self.header)
            .finish_non_exhaustive()
    }
}

impl RecordBench {
    /// A sealer for payloads of `payload_len` bytes, with a fresh random key
    /// and the header of a real version record from `template` (any
    /// prompt-version record, e.g. from a fixture).
    ///
    /// # Errors
    ///
    /// If `template` is not a prompt-version record or the size is refused.
    pub fn new(template: &[u8], payload_len: usize) -> BoxResult<Self> {
        let found = read::parse_header(template)?;
        if found.kind() != RecordKind::PromptVersion {
            return Err("the template is not a prompt-version record".into());
        }
        let mut head: [u8; HEADER_LEN] = template
            .get(..HEADER_LEN)
            .ok_or("short template")?
            .try_into()?;
        let body_len = SEALED_OVERHEAD + padding::padded_len(payload_len);
        let field = head
            .get_mut(BODY_LEN_AT..HEADER_LEN)
            .ok_or("header layout")?;
        field.copy_from_slice(&u32::try_from(body_len)?.to_le_bytes());
        let header = read::parse_header(&head)?;
        Ok(RecordBench {
            key: Key::generate()?,
            header,
            body_len,
        })
    }

    /// The key (so an anchor can encrypt under the same key).
    #[must_use]
    pub fn key(&self) -> &Key {
        &self.key
    }

    /// Seals `payload` (which must have the size given to
    /// [`RecordBench::new`]) the way `record::seal` does.
    ///
    /// # Errors
    ///
    /// If no nonce can be drawn, or for a payload over 4 GiB.
    pub fn seal(&self, payload: &[u8]) -> BoxResult<Vec<u8>> {
        use aes_gcm::aead::{AeadInOut, KeyInit};
        let len = u32::try_from(payload.len())?;
        let aad = write::encode_header(&self.header);
        let mut nonce = [0u8; aead::NONCE_LEN];
        getrandom::fill(&mut nonce).map_err(|e| e.to_string())?;
        let mut bytes = Vec::with_capacity(HEADER_LEN + self.body_len);
        bytes.extend_from_slice(&aad);
        bytes.extend_from_slice(&nonce);
        bytes.extend_from_slice(&len.to_le_bytes());
        bytes.extend_from_slice(payload);
        bytes.resize(HEADER_LEN + self.body_len - aead::TAG_LEN, 0);
        let body = bytes
            .get_mut(HEADER_LEN + aead::NONCE_LEN..)
            .ok_or("buffer")?;
        let cipher = aes_gcm::Aes256Gcm::new(self.key.expose_secret().into());
        let tag = cipher
            .encrypt_inout_detached(&nonce.into(), &aad, body.into())
            .map_err(|_| "seal")?;
        bytes.extend_from_slice(tag.as_slice());
        Ok(bytes)
    }

    /// Opens a record this sealer wrote: strict parse, authenticate, unpad.
    ///
    /// # Errors
    ///
    /// `Authentication` for a modified record.
    pub fn open(&self, record: &SealedRecord) -> BoxResult<Zeroizing<Vec<u8>>> {
        let (aad, body) = record
            .as_bytes()
            .split_at_checked(HEADER_LEN)
            .ok_or("short record")?;
        let mut plain = Zeroizing::new(aead::open(&self.key, aad, body)?);
        let len = padding::unpad(&plain)?.len();
        plain.drain(..padding::LEN_PREFIX);
        plain.truncate(len);
        Ok(plain)
    }

    /// Parses the binary form (what a store hands back), then opens it.
    ///
    /// # Errors
    ///
    /// As [`SealedRecord::from_bytes`] and [`RecordBench::open`].
    pub fn parse_and_open(&self, bytes: Vec<u8>) -> BoxResult<Zeroizing<Vec<u8>>> {
        self.open(&SealedRecord::from_bytes(bytes)?)
    }
}
