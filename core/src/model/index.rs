//! The compact encodings of the version index (SPEC §6.1, §6.4): the
//! metadata's open tail of index entries, its tombstones and its segment
//! ids, each one base64url string of fixed-size items, and the binary
//! plaintext of a `prompt-index` segment record.

use serde::{Deserializer, Serializer};

use super::IndexEntry;
use crate::error::Error;
use crate::format::text;
use crate::ids::{ID_LEN, SegmentId, Timestamp, VersionId};

/// Bytes per index entry: id (16) ‖ created (u64 little-endian, 8).
pub(crate) const ENTRY_LEN: usize = crate::format::INDEX_ENTRY_LEN;

/// Appends the binary form of `entries` (`id ‖ created` each) to `out`.
///
/// # Errors
///
/// [`Error::InvalidInput`] for a time above 2^53 − 1.
fn put_entries(out: &mut Vec<u8>, entries: &[IndexEntry]) -> crate::error::Result<()> {
    for e in entries {
        if e.created > Timestamp::MAX {
            return Err(Error::invalid("timestamp above 2^53 - 1"));
        }
        out.extend_from_slice(e.id.as_bytes());
        out.extend_from_slice(&e.created.0.to_le_bytes());
    }
    Ok(())
}

/// Reads one binary index entry (exactly [`ENTRY_LEN`] bytes).
fn entry_of(chunk: &[u8]) -> Option<IndexEntry> {
    let id = id_of(chunk)?;
    let created = chunk
        .get(ID_LEN..)
        .and_then(|b| <[u8; 8]>::try_from(b).ok())
        .map(|b| Timestamp(u64::from_le_bytes(b)))
        .filter(|t| *t <= Timestamp::MAX)?;
    Some(IndexEntry { created, id })
}

/// The plaintext of a `prompt-index` segment record (SPEC §6.4): its
/// entries, concatenated, with no framing (the record's padding frame
/// carries the length).
///
/// # Errors
///
/// [`Error::InvalidInput`] for a time above 2^53 − 1.
pub(crate) fn segment_plaintext(entries: &[IndexEntry]) -> crate::error::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(entries.len() * ENTRY_LEN);
    put_entries(&mut out, entries)?;
    Ok(out)
}

/// Parses a segment plaintext into its entries (the rules on them are
/// [`crate::rules::check_segment`]'s).
///
/// # Errors
///
/// [`Error::Malformed`] for a length that is not a whole number of
/// entries, or a time above 2^53 − 1.
pub(crate) fn parse_segment(plain: &[u8]) -> crate::error::Result<Vec<IndexEntry>> {
    if !plain.len().is_multiple_of(ENTRY_LEN) {
        return Err(Error::malformed("index segment length"));
    }
    plain
        .chunks_exact(ENTRY_LEN)
        .map(|c| entry_of(c).ok_or(Error::malformed("index segment entry")))
        .collect()
}

/// Reads a base64url string, borrowed (from the plaintext) or owned (from
/// a parsed JSON value, as an import reads each prompt).
struct Base64Url;

impl serde::de::Visitor<'_> for Base64Url {
    type Value = Vec<u8>;

    fn expecting(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("a base64url string")
    }

    fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<Vec<u8>, E> {
        text::decode(s).map_err(|_| E::custom("not base64url"))
    }
}

fn decode<'de, D: Deserializer<'de>>(d: D, unit: usize) -> Result<Vec<u8>, D::Error> {
    let bytes = d.deserialize_str(Base64Url)?;
    if bytes.len() % unit != 0 {
        return Err(serde::de::Error::custom("index length"));
    }
    Ok(bytes)
}

fn id_of(chunk: &[u8]) -> Option<VersionId> {
    chunk
        .get(..ID_LEN)
        .and_then(|b| <[u8; ID_LEN]>::try_from(b).ok())
        .map(VersionId::from_bytes)
}

/// `versions`: `id ‖ created` per entry, in index order.
pub(crate) mod entries {
    use super::*;

    /// The base64url text of an index.
    pub(crate) fn encode(v: &[IndexEntry]) -> crate::error::Result<String> {
        let mut bytes = Vec::with_capacity(v.len() * ENTRY_LEN);
        put_entries(&mut bytes, v)?;
        Ok(text::encode(&bytes))
    }

    pub(crate) fn serialize<S: Serializer>(v: &[IndexEntry], s: S) -> Result<S::Ok, S::Error> {
        let text = encode(v).map_err(serde::ser::Error::custom)?;
        s.serialize_str(&text)
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Vec<IndexEntry>, D::Error> {
        let bytes = decode(d, ENTRY_LEN)?;
        bytes
            .chunks_exact(ENTRY_LEN)
            .map(|c| entry_of(c).ok_or_else(|| serde::de::Error::custom("index entry")))
            .collect()
    }
}

/// `deleted`: 16-byte ids.
pub(crate) mod tombstones {
    use super::*;

    /// The base64url text of a tombstone list.
    pub(crate) fn encode(v: &[VersionId]) -> String {
        let mut bytes = Vec::with_capacity(v.len() * ID_LEN);
        for id in v {
            bytes.extend_from_slice(id.as_bytes());
        }
        text::encode(&bytes)
    }

    pub(crate) fn serialize<S: Serializer>(v: &[VersionId], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&encode(v))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<VersionId>, D::Error> {
        decode(d, ID_LEN)?
            .chunks_exact(ID_LEN)
            .map(|c| id_of(c).ok_or_else(|| serde::de::Error::custom("tombstone")))
            .collect()
    }
}

/// `segments`: 16-byte segment ids.
pub(crate) mod segment_ids {
    use super::*;

    /// The base64url text of a segment id list.
    pub(crate) fn encode<'a>(v: impl IntoIterator<Item = &'a SegmentId>) -> String {
        let mut bytes = Vec::new();
        for id in v {
            bytes.extend_from_slice(id.as_bytes());
        }
        text::encode(&bytes)
    }

    pub(crate) fn serialize<S: Serializer>(v: &[SegmentId], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&encode(v))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<SegmentId>, D::Error> {
        decode(d, ID_LEN)?
            .chunks_exact(ID_LEN)
            .map(|c| {
                <[u8; ID_LEN]>::try_from(c)
                    .map(SegmentId::from_bytes)
                    .map_err(|_| serde::de::Error::custom("segment id"))
            })
            .collect()
    }
}
