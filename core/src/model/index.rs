//! The compact encodings inside a metadata plaintext (SPEC §6.1): the
//! version index and the tombstones, each one base64url string of
//! fixed-size entries, so a thousand versions cost 32 KB of JSON and no
//! title is re-sealed by an edit.

use serde::{Deserializer, Serializer};

use super::IndexEntry;
use crate::format::text;
use crate::ids::{ID_LEN, Timestamp, VersionId};

/// Bytes per index entry: id (16) ‖ created (u64 little-endian, 8).
pub(crate) const ENTRY_LEN: usize = ID_LEN + 8;

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
        for e in v {
            if e.created > Timestamp::MAX {
                return Err(crate::error::Error::invalid("timestamp above 2^53 - 1"));
            }
            bytes.extend_from_slice(e.id.as_bytes());
            bytes.extend_from_slice(&e.created.0.to_le_bytes());
        }
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
            .map(|c| {
                let id = id_of(c);
                let created = c
                    .get(ID_LEN..)
                    .and_then(|b| <[u8; 8]>::try_from(b).ok())
                    .map(|b| Timestamp(u64::from_le_bytes(b)))
                    .filter(|t| *t <= Timestamp::MAX);
                match (id, created) {
                    (Some(id), Some(created)) => Ok(IndexEntry { created, id }),
                    _ => Err(serde::de::Error::custom("index entry")),
                }
            })
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
