//! What a client persists between syncs: the cursor, and what it last saw
//! the server hold under every storage key.

use std::collections::BTreeMap;

use blake2::digest::consts::U32;
use blake2::{Blake2b, Digest as _};
use serde::{Deserialize, Serialize};

use crate::format::text;
use crate::ids::VaultId;

/// BLAKE2b-256 of a record's bytes (base64url in JSON).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Digest([u8; 32]);

impl Serialize for Digest {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&text::encode(&self.0))
    }
}

impl<'de> Deserialize<'de> for Digest {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let t = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        crate::protocol::decode_fixed::<32>(&t)
            .map(Digest)
            .map_err(serde::de::Error::custom)
    }
}

/// The digest a client keeps of a record's bytes.
pub(crate) fn digest(bytes: &[u8]) -> Digest {
    Digest(Blake2b::<U32>::digest(bytes).into())
}

/// Digests of local records, so a sync does not hash every record of the
/// store each time it looks for changes: an entry is reused while the
/// record under that key keeps its length and its last 32 bytes (the
/// AEAD tag, or the header's seal). Only for the device's own store, which
/// is trusted; never persisted, never compared.
#[derive(Clone, Debug, Default)]
pub(crate) struct LocalDigests(BTreeMap<String, (usize, [u8; 32], Digest)>);

impl PartialEq for LocalDigests {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}
impl Eq for LocalDigests {}

impl LocalDigests {
    pub(crate) fn of(&mut self, key: &str, bytes: &[u8]) -> Digest {
        let mut tail = [0u8; 32];
        let n = bytes.len().min(32);
        if let (Some(dst), Some(src)) = (tail.get_mut(..n), bytes.get(bytes.len() - n..)) {
            dst.copy_from_slice(src);
        }
        if let Some((len, t, d)) = self.0.get(key) {
            if *len == bytes.len() && *t == tail {
                return *d;
            }
        }
        let d = digest(bytes);
        self.0.insert(key.to_owned(), (bytes.len(), tail, d));
        d
    }
}

/// One live row on the server, as this client last saw it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Row {
    /// The commit that wrote it.
    pub seq: u64,
    /// BLAKE2b-256 of its bytes.
    pub digest: Digest,
    /// Its record header's revision (headers, metadata, checkpoint; else 0).
    pub revision: u64,
    /// Whether the local store held exactly these bytes when this client
    /// last finished a step: a key that is synced and then missing locally
    /// was deleted here, and the deletion is pushed.
    pub synced: bool,
}

/// The sync state of one vault on one server. Persist it after every
/// successful step (it is public data: keys, sequence numbers, digests of
/// ciphertext) and never share it between devices.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SyncState {
    /// The vault this state belongs to (set by the first step).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) vault: Option<VaultId>,
    /// Every row of the server's vault up to this cursor has been merged.
    pub(crate) cursor: u64,
    /// The highest checkpoint revision ever seen from this server (kept
    /// through a start-over, so a server cannot roll it back).
    pub(crate) checkpoint_seen: u64,
    /// The key generation the server's checkpoint is sealed under (a
    /// rotation makes the next commit re-seal it).
    #[serde(default)]
    pub(crate) checkpoint_generation: u32,
    /// The server's live rows as last seen, by storage key.
    pub(crate) rows: BTreeMap<String, Row>,
    /// The `seq` of tombstones seen under keys the local store still holds
    /// (a prompt deleted elsewhere and kept here because it changed here):
    /// a put under such a key must name it as seen (SPEC §12.5).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub(crate) tombstones: BTreeMap<String, u64>,
    #[serde(skip)]
    pub(crate) local: LocalDigests,
}

impl SyncState {
    /// A state for a vault never synced with this server.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// The cursor: every commit up to it has been pulled and merged.
    #[must_use]
    pub fn cursor(&self) -> u64 {
        self.cursor
    }

    /// How many live rows the server holds, as last seen.
    #[must_use]
    pub fn server_rows(&self) -> usize {
        self.rows.len()
    }

    /// The vault this state belongs to, once a step ran.
    #[must_use]
    pub fn vault_id(&self) -> Option<VaultId> {
        self.vault
    }
}
