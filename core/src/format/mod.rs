//! The sealed-record format, version 1: constants, record kinds, the
//! cleartext record header, limits, and the binary and text encodings.
//!
//! Every stored object starts with the same 72-byte cleartext header; for
//! sealed kinds, that header is the AES-GCM associated data, so no byte of it
//! can change without the record failing to open. `SPEC.md` is the normative
//! description; this module is its implementation, split into [`read`] and
//! [`write`].

pub mod json;
pub mod padding;
pub mod read;
pub mod text;
pub mod write;

use crate::ids::{ID_LEN, PromptId, SegmentId, VaultId, VersionId};

/// The four magic bytes that start every record: `PVLT`.
pub const MAGIC: [u8; 4] = *b"PVLT";
/// The format version this release writes (and the only one it reads).
pub const FORMAT_VERSION: u8 = 1;
/// Suite 1: AES-256-GCM with random 96-bit nonces, Argon2id v0x13.
pub const SUITE_V1: u8 = 1;
/// Length of the cleartext record header.
pub const HEADER_LEN: usize = 72;
/// Length of a key (vault, item, KEK) in bytes. Also
/// `hazmat::KEY_LEN` with the `unlock` feature.
pub const KEY_LEN: usize = 32;
/// Length of an AES-GCM nonce in bytes. Also `hazmat::NONCE_LEN`.
pub const NONCE_LEN: usize = 12;
/// Length of an AES-GCM tag in bytes. Also `hazmat::TAG_LEN`.
pub const TAG_LEN: usize = 16;
/// Length of a KDF block inside a header body: m, t, p (u32 LE each) and salt.
pub const KDF_BLOCK_LEN: usize = 12 + crate::kdf::SALT_LEN;
/// Length of a key slot: nonce, wrapped 32-byte key, tag.
pub const SLOT_LEN: usize = NONCE_LEN + KEY_LEN + TAG_LEN;
/// Length of a key commitment (SPEC §4.1).
pub const COMMITMENT_LEN: usize = 32;
/// Length of a key-committing slot (password, recovery, export password):
/// commitment, then a [`SLOT_LEN`]-byte slot.
pub const COMMITTED_SLOT_LEN: usize = COMMITMENT_LEN + SLOT_LEN;
/// Length of the header seal: nonce and tag over an empty plaintext.
pub const SEAL_LEN: usize = NONCE_LEN + TAG_LEN;
/// Body length of a vault header.
pub const VAULT_HEADER_BODY_LEN: usize =
    KDF_BLOCK_LEN + COMMITTED_SLOT_LEN + COMMITTED_SLOT_LEN + 4 + SLOT_LEN + SEAL_LEN;
/// Body length of an export header.
pub const EXPORT_HEADER_BODY_LEN: usize = KDF_BLOCK_LEN + COMMITTED_SLOT_LEN + SEAL_LEN;
/// Fixed sealing overhead of a sealed body (nonce and tag).
pub const SEALED_OVERHEAD: usize = NONCE_LEN + TAG_LEN;

/// Largest payload of a prompt-metadata record (256 KiB; every reachable
/// metadata fits, see [`crate::model::MAX_META_JSON`]).
pub const MAX_META_PLAINTEXT: usize = 256 << 10;
/// Largest payload of a prompt-version record (8 MiB; every version within
/// the field limits fits, see [`crate::model::MAX_VERSION_JSON`]).
pub const MAX_VERSION_PLAINTEXT: usize = 8 << 20;
/// Entries in a full segment of the version index, and the most one
/// `prompt-index` record holds (SPEC §6.4).
pub const SEGMENT_ENTRIES: usize = 64;
/// Bytes per version-index entry: version id (16) ‖ created (u64 LE, 8).
pub const INDEX_ENTRY_LEN: usize = ID_LEN + 8;
/// Largest payload of a prompt-index record: [`SEGMENT_ENTRIES`] entries
/// of [`INDEX_ENTRY_LEN`] bytes (1536).
pub const MAX_SEGMENT_PLAINTEXT: usize = SEGMENT_ENTRIES * INDEX_ENTRY_LEN;
/// Largest payload of a checkpoint record (24 MiB: the base64url of
/// [`crate::model::MAX_PROMPTS`] 16-byte prompt ids, and a little more).
pub const MAX_CHECKPOINT_PLAINTEXT: usize = 24 << 20;
/// Largest payload of an identity record (SPEC §13.3): the two 32-byte
/// secret seeds and the account's public bundle.
pub const MAX_IDENTITY_PLAINTEXT: usize = 2 * KEY_LEN + crate::share::MAX_BUNDLE_LEN;
/// Body length of a key-delivery record (SPEC §13.4): the X-Wing
/// encapsulation (1120), the HPKE ciphertext of a 32-byte key (48), the
/// sender's Ed25519 signature (64).
pub const KEY_DELIVERY_BODY_LEN: usize = crate::share::KEY_DELIVERY_BODY_LEN;
/// Largest payload of an export-payload record (256 MiB).
pub const MAX_EXPORT_PLAINTEXT: usize = 256 << 20;
/// Largest record of any kind, in bytes.
pub const MAX_RECORD_LEN: usize =
    HEADER_LEN + SEALED_OVERHEAD + padding::padded_len(MAX_EXPORT_PLAINTEXT);

/// What a record holds. The discriminant is the byte stored at offset 5.
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum RecordKind {
    /// The vault header: KDF parameters and key slots (cleartext, sealed by the vault key).
    VaultHeader = 1,
    /// A prompt's item key, wrapped by the vault key of its generation.
    ItemKey = 2,
    /// A prompt's mutable metadata, sealed by its item key.
    PromptMeta = 3,
    /// One immutable version of a prompt, sealed by its item key.
    PromptVersion = 4,
    /// The header of an export file: KDF parameters and one password slot.
    ExportHeader = 5,
    /// The payload of an export file, sealed by the export key.
    ExportPayload = 6,
    /// A write-once segment of a prompt's version index (up to 64 entries),
    /// sealed by its item key; the metadata lists the segments it uses.
    PromptIndex = 7,
    /// The sync checkpoint: the set of prompts a sync server must hold,
    /// sealed by the vault key (SPEC §12.10). Stored only on the server.
    Checkpoint = 8,
    /// The account's sharing identity: its secret X-Wing and Ed25519 seeds
    /// and its public bundle, sealed by the vault key (SPEC §13.3).
    Identity = 9,
    /// A space key delivered to one member: HPKE-sealed to the member's
    /// X-Wing key and signed by the sender (SPEC §13.4). Not AES-GCM sealed.
    KeyDelivery = 10,
    /// A space key kept by a member in their own vault, sealed by the vault
    /// key (SPEC §13.5).
    SpaceKey = 11,
}

impl RecordKind {
    /// The kind with this byte, if any.
    #[must_use]
    pub const fn from_u8(b: u8) -> Option<Self> {
        Some(match b {
            1 => RecordKind::VaultHeader,
            2 => RecordKind::ItemKey,
            3 => RecordKind::PromptMeta,
            4 => RecordKind::PromptVersion,
            5 => RecordKind::ExportHeader,
            6 => RecordKind::ExportPayload,
            7 => RecordKind::PromptIndex,
            8 => RecordKind::Checkpoint,
            9 => RecordKind::Identity,
            10 => RecordKind::KeyDelivery,
            11 => RecordKind::SpaceKey,
            _ => return None,
        })
    }

    /// A stable lowercase name (`"vault-header"`, `"item-key"`, …).
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            RecordKind::VaultHeader => "vault-header",
            RecordKind::ItemKey => "item-key",
            RecordKind::PromptMeta => "prompt-meta",
            RecordKind::PromptVersion => "prompt-version",
            RecordKind::ExportHeader => "export-header",
            RecordKind::ExportPayload => "export-payload",
            RecordKind::PromptIndex => "prompt-index",
            RecordKind::Checkpoint => "checkpoint",
            RecordKind::Identity => "identity",
            RecordKind::KeyDelivery => "key-delivery",
            RecordKind::SpaceKey => "space-key",
        }
    }

    /// Whether the body is `nonce ‖ ciphertext ‖ tag` (as opposed to a key-slot header).
    #[must_use]
    pub const fn is_sealed(self) -> bool {
        !matches!(
            self,
            RecordKind::VaultHeader | RecordKind::ExportHeader | RecordKind::KeyDelivery
        )
    }

    /// Largest plaintext payload accepted for this kind.
    #[must_use]
    pub const fn max_plaintext(self) -> usize {
        match self {
            RecordKind::ItemKey => KEY_LEN,
            RecordKind::PromptMeta => MAX_META_PLAINTEXT,
            RecordKind::PromptVersion => MAX_VERSION_PLAINTEXT,
            RecordKind::ExportPayload => MAX_EXPORT_PLAINTEXT,
            RecordKind::PromptIndex => MAX_SEGMENT_PLAINTEXT,
            RecordKind::Checkpoint => MAX_CHECKPOINT_PLAINTEXT,
            RecordKind::Identity => MAX_IDENTITY_PLAINTEXT,
            RecordKind::SpaceKey => KEY_LEN,
            RecordKind::VaultHeader | RecordKind::ExportHeader | RecordKind::KeyDelivery => 0,
        }
    }

    /// Largest body accepted for this kind.
    #[must_use]
    pub const fn max_body_len(self) -> usize {
        match self {
            RecordKind::VaultHeader => VAULT_HEADER_BODY_LEN,
            RecordKind::ExportHeader => EXPORT_HEADER_BODY_LEN,
            RecordKind::KeyDelivery => KEY_DELIVERY_BODY_LEN,
            RecordKind::ItemKey
            | RecordKind::Identity
            | RecordKind::SpaceKey
            | RecordKind::PromptMeta
            | RecordKind::PromptVersion
            | RecordKind::PromptIndex
            | RecordKind::ExportPayload
            | RecordKind::Checkpoint => SEALED_OVERHEAD + padding::padded_len(self.max_plaintext()),
        }
    }
}

/// The cleartext header of a record: public routing data that a server can
/// read without any key (see [`crate::inspect`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RecordHeader {
    pub(crate) kind: RecordKind,
    pub(crate) key_gen: u32,
    pub(crate) vault_id: VaultId,
    pub(crate) id1: [u8; ID_LEN],
    pub(crate) id2: [u8; ID_LEN],
    pub(crate) revision: u64,
    pub(crate) body_len: u32,
}

impl RecordHeader {
    /// The record kind.
    #[must_use]
    pub const fn kind(&self) -> RecordKind {
        self.kind
    }
    /// The key generation the record is sealed under.
    #[must_use]
    pub const fn key_generation(&self) -> u32 {
        self.key_gen
    }
    /// The vault (or export) the record belongs to.
    #[must_use]
    pub const fn vault_id(&self) -> VaultId {
        self.vault_id
    }
    /// The prompt the record belongs to (item keys, metadata, versions).
    #[must_use]
    pub fn prompt_id(&self) -> Option<PromptId> {
        let has_prompt = matches!(
            self.kind,
            RecordKind::ItemKey
                | RecordKind::PromptMeta
                | RecordKind::PromptVersion
                | RecordKind::PromptIndex
        );
        (has_prompt && self.id1 != [0; ID_LEN]).then(|| PromptId::from_bytes(self.id1))
    }
    /// The version a version record holds (`None` for other kinds).
    #[must_use]
    pub fn version_id(&self) -> Option<VersionId> {
        (self.kind == RecordKind::PromptVersion && self.id2 != [0; ID_LEN])
            .then(|| VersionId::from_bytes(self.id2))
    }
    /// The segment a prompt-index record holds (`None` for other kinds):
    /// the same header field as a version id.
    #[must_use]
    pub fn segment_id(&self) -> Option<SegmentId> {
        (self.kind == RecordKind::PromptIndex && self.id2 != [0; ID_LEN])
            .then(|| SegmentId::from_bytes(self.id2))
    }
    /// The revision (vault headers and metadata; 0 for other kinds).
    #[must_use]
    pub const fn revision(&self) -> u64 {
        self.revision
    }
    /// Length of the body after the header.
    #[must_use]
    pub const fn body_len(&self) -> u32 {
        self.body_len
    }
    /// Total encoded length of the record.
    #[must_use]
    pub fn total_len(&self) -> usize {
        HEADER_LEN + self.body_len as usize
    }

    /// The key under which a store should keep this record. Putting a record
    /// replaces the one with the same key (a newer metadata revision replaces
    /// the older one; a version is written once):
    ///
    /// - vault header: `h`
    /// - item key: `k.<prompt>.<generation>`
    /// - metadata: `m.<prompt>`
    /// - version: `v.<prompt>.<version>`
    /// - index segment: `i.<prompt>.<segment>` (written once, like a version)
    /// - export header / payload: `xh` / `xp`
    /// - sync checkpoint: `c`
    /// - identity: `id`
    /// - key delivery: `d.<space>.<generation>.<recipient key id>`
    /// - space key: `s.<space>`
    #[must_use]
    pub fn storage_key(&self) -> String {
        match self.kind {
            RecordKind::VaultHeader => "h".to_owned(),
            RecordKind::ItemKey => storage_key::item_key(&self.id1, self.key_gen),
            RecordKind::PromptMeta => storage_key::meta(&self.id1),
            RecordKind::PromptVersion => storage_key::version(&self.id1, &self.id2),
            RecordKind::ExportHeader => "xh".to_owned(),
            RecordKind::ExportPayload => "xp".to_owned(),
            RecordKind::PromptIndex => storage_key::segment(&self.id1, &self.id2),
            RecordKind::Checkpoint => "c".to_owned(),
            RecordKind::Identity => "id".to_owned(),
            RecordKind::KeyDelivery => format!(
                "d.{}.{}.{}",
                self.vault_id.to_hex(),
                self.key_gen,
                crate::ids::hex_encode(&self.id1)
            ),
            RecordKind::SpaceKey => storage_key::space_key(&self.id1),
        }
    }
}

/// The storage keys of SPEC §5, in one place: the vault derives the keys it
/// deletes from here, and [`RecordHeader::storage_key`] the keys of records.
pub(crate) mod storage_key {
    use crate::ids::{ID_LEN, hex_encode};

    /// `k.<prompt>.<generation>`
    pub(crate) fn item_key(prompt: &[u8; ID_LEN], generation: u32) -> String {
        format!("k.{}.{generation}", hex_encode(prompt))
    }

    /// `m.<prompt>`
    pub(crate) fn meta(prompt: &[u8; ID_LEN]) -> String {
        format!("m.{}", hex_encode(prompt))
    }

    /// `v.<prompt>.<version>`
    pub(crate) fn version(prompt: &[u8; ID_LEN], version: &[u8; ID_LEN]) -> String {
        format!("v.{}.{}", hex_encode(prompt), hex_encode(version))
    }

    /// `s.<space>`
    pub(crate) fn space_key(space: &[u8; ID_LEN]) -> String {
        format!("s.{}", hex_encode(space))
    }

    /// `i.<prompt>.<segment>`
    pub(crate) fn segment(prompt: &[u8; ID_LEN], segment: &[u8; ID_LEN]) -> String {
        format!("i.{}.{}", hex_encode(prompt), hex_encode(segment))
    }
}
