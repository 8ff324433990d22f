//! Sealed records: an owned, structurally validated record
//! ([`SealedRecord`]), keyless. Sealing and opening one is
//! `crate::sealing`'s (`unlock` feature).

use crate::error::Result;
use crate::format::{self, RecordHeader, RecordKind};

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
    /// [`crate::Error::Encoding`] or [`crate::Error::LimitExceeded`] for bad text, then as
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

/// The JSON transport form: `{"key", "kind", "text"}` — the storage key,
/// the kind's name and the canonical text form (SPEC §5).
impl serde::Serialize for SealedRecord {
    fn serialize<S: serde::Serializer>(&self, s: S) -> core::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct as _;
        let mut st = s.serialize_struct("SealedRecord", 3)?;
        st.serialize_field("key", &self.storage_key())?;
        st.serialize_field("kind", self.kind().name())?;
        st.serialize_field("text", &self.to_text())?;
        st.end()
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
