//! Key headers: the vault header (kind 1) and the export header (kind 5).
//!
//! A key header is cleartext — KDF parameters, salt, and key slots that wrap
//! the vault key (VK) — closed by a *header seal*: an AES-GCM tag under the
//! VK over every preceding byte. Unlocking unwraps a slot, then checks the
//! seal, so no byte of the header can change undetected once unlocked.
//!
//! Each slot's associated data binds it to its purpose, vault and key
//! generation (and, for password slots, to the KDF block), but deliberately
//! not to the header revision, so a password change can keep the recovery
//! slot as it is (it cannot be rewrapped without the recovery key).
//!
//! The password, recovery and export-password slots are key-committing
//! ([`crate::slot`]): a slot opens under exactly one KEK, so a hostile header
//! cannot test a set of passwords per unlock. The header seal and the
//! previous-key slot are under the vault key those slots unwrap, which a
//! committed slot determines uniquely.

use zeroize::Zeroizing;

use crate::argon::{self, Password};
use crate::error::{Error, Result};
use crate::format::{
    self, COMMITTED_SLOT_LEN, FORMAT_VERSION, HEADER_LEN, KDF_BLOCK_LEN, MAGIC, RecordHeader,
    RecordKind, SEAL_LEN, SLOT_LEN, SUITE_V1,
};
use crate::hazmat::{self, KEY_LEN, Key};
use crate::ids::{ID_LEN, VaultId};
use crate::kdf::{KdfParams, SALT_LEN};
use crate::recovery::RecoveryKey;
use crate::slot;

// The keyless half: the parsed layout, shared with `inspect` and the
// protocol's pre-login.
pub(crate) use crate::key_header::{CommittedSlot, KeyHeader, Slot};

/// Slot purposes, mixed into each slot's associated data.
#[derive(Clone, Copy)]
#[repr(u8)]
enum SlotTag {
    Password = 1,
    Recovery = 2,
    PreviousKey = 3,
    ExportPassword = 4,
}

/// The keys a successful unlock yields.
pub(crate) struct Unlocked {
    pub(crate) vk: Key,
    pub(crate) prev: Option<(u32, Key)>,
}

/// How to unlock a vault.
pub enum Credential<'a> {
    /// The vault password.
    Password(&'a Password),
    /// The recovery key shown when the vault was created.
    RecoveryKey(&'a RecoveryKey),
}

impl core::fmt::Debug for Credential<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Credential::Password(_) => f.write_str("Credential::Password([REDACTED])"),
            Credential::RecoveryKey(_) => f.write_str("Credential::RecoveryKey([REDACTED])"),
        }
    }
}

fn kdf_block(kdf: &KdfParams, salt: &[u8; SALT_LEN]) -> [u8; KDF_BLOCK_LEN] {
    let mut out = [0u8; KDF_BLOCK_LEN];
    let parts: [&[u8]; 4] = [
        &kdf.m_cost_kib().to_le_bytes(),
        &kdf.t_cost().to_le_bytes(),
        &kdf.p_cost().to_le_bytes(),
        salt,
    ];
    for (o, b) in out.iter_mut().zip(parts.iter().flat_map(|p| p.iter())) {
        *o = *b;
    }
    out
}

fn slot_aad(tag: SlotTag, generation: u32, vault_id: &VaultId, extra: &[u8]) -> Vec<u8> {
    let mut aad = Vec::with_capacity(4 + 3 + 4 + ID_LEN + extra.len());
    aad.extend_from_slice(&MAGIC);
    aad.extend_from_slice(&[FORMAT_VERSION, SUITE_V1, tag as u8]);
    aad.extend_from_slice(&generation.to_le_bytes());
    aad.extend_from_slice(vault_id.as_bytes());
    aad.extend_from_slice(extra);
    aad
}

fn wrap(kek: &Key, aad: &[u8], key: &Key) -> Result<Slot> {
    let sealed = hazmat::aead::seal(kek, aad, key.expose_secret())?;
    sealed
        .try_into()
        .map_err(|_| Error::malformed("slot length"))
}

fn unwrap(kek: &Key, aad: &[u8], slot: &Slot) -> Result<Key> {
    let raw = Zeroizing::new(hazmat::aead::open(kek, aad, slot)?);
    Key::from_slice(&raw).map_err(|_| Error::Authentication)
}

impl KeyHeader {
    fn password_tag(&self) -> SlotTag {
        if self.record.kind == RecordKind::ExportHeader {
            SlotTag::ExportPassword
        } else {
            SlotTag::Password
        }
    }

    /// The associated data of the password (or export-password) slot.
    pub(crate) fn password_aad(&self) -> Vec<u8> {
        slot_aad(
            self.password_tag(),
            self.record.key_gen,
            &self.record.vault_id,
            &kdf_block(&self.kdf, &self.salt),
        )
    }

    /// Derives the KEK and unwraps the vault key, then checks the header seal.
    pub(crate) fn unlock(&self, credential: &Credential<'_>) -> Result<Unlocked> {
        let vk = match credential {
            Credential::Password(pw) => {
                let kek = argon::derive_kek(pw, &self.salt, self.kdf)?;
                slot::unwrap(&kek, &self.password_aad(), &self.password_slot)?
            }
            Credential::RecoveryKey(rk) => self.unwrap_recovery_slot(rk.key())?,
        };
        self.finish_unlock(vk)
    }

    /// Unwraps the vault key from the recovery slot under `kek` (the
    /// recovery key, or a space key: SPEC §13.5), then checks the header
    /// seal, as [`KeyHeader::unlock`] does.
    #[cfg(feature = "sharing")]
    pub(crate) fn unlock_with_recovery_kek(&self, kek: &Key) -> Result<Unlocked> {
        let vk = self.unwrap_recovery_slot(kek)?;
        self.finish_unlock(vk)
    }

    fn unwrap_recovery_slot(&self, kek: &Key) -> Result<Key> {
        if self.record.kind != RecordKind::VaultHeader {
            return Err(Error::Authentication);
        }
        let aad = slot_aad(
            SlotTag::Recovery,
            self.record.key_gen,
            &self.record.vault_id,
            &[],
        );
        slot::unwrap(kek, &aad, &self.recovery_slot)
    }

    fn finish_unlock(&self, vk: Key) -> Result<Unlocked> {
        self.check_seal(&vk)?;
        let prev = if self.prev_gen == 0 {
            None
        } else {
            let aad = slot_aad(
                SlotTag::PreviousKey,
                self.record.key_gen,
                &self.record.vault_id,
                &self.prev_gen.to_le_bytes(),
            );
            Some((self.prev_gen, unwrap(&vk, &aad, &self.prev_slot)?))
        };
        Ok(Unlocked { vk, prev })
    }

    fn check_seal(&self, vk: &Key) -> Result<()> {
        let split = self
            .bytes
            .len()
            .checked_sub(SEAL_LEN)
            .ok_or(Error::Authentication)?;
        let (aad, seal) = self
            .bytes
            .split_at_checked(split)
            .ok_or(Error::Authentication)?;
        let plain = hazmat::aead::open(vk, aad, seal)?;
        if plain.is_empty() {
            Ok(())
        } else {
            Err(Error::Authentication)
        }
    }
}

/// What goes into a new key header.
pub(crate) struct HeaderBuilder<'a> {
    pub(crate) kind: RecordKind,
    pub(crate) vault_id: VaultId,
    pub(crate) key_gen: u32,
    pub(crate) revision: u64,
    pub(crate) kdf: KdfParams,
    pub(crate) salt: [u8; SALT_LEN],
    pub(crate) vk: &'a Key,
}

/// Where a slot's bytes come from when building a header.
pub(crate) enum SlotSource<'a> {
    /// Wrap the VK under this KEK.
    Wrap(&'a Key),
    /// Keep an existing slot (valid because slot AAD excludes the revision).
    Keep(CommittedSlot),
}

impl HeaderBuilder<'_> {
    /// Encodes and seals a header.
    pub(crate) fn build(
        &self,
        password: SlotSource<'_>,
        recovery: SlotSource<'_>,
        prev: Option<(u32, &Key)>,
    ) -> Result<KeyHeader> {
        let password_tag = if self.kind == RecordKind::ExportHeader {
            SlotTag::ExportPassword
        } else {
            SlotTag::Password
        };
        let block = kdf_block(&self.kdf, &self.salt);
        let password_slot = match password {
            SlotSource::Wrap(kek) => slot::wrap(
                kek,
                &slot_aad(password_tag, self.key_gen, &self.vault_id, &block),
                self.vk,
            )?,
            SlotSource::Keep(s) => s,
        };
        let is_vault = self.kind == RecordKind::VaultHeader;
        let recovery_slot = match recovery {
            SlotSource::Wrap(kek) => slot::wrap(
                kek,
                &slot_aad(SlotTag::Recovery, self.key_gen, &self.vault_id, &[]),
                self.vk,
            )?,
            SlotSource::Keep(s) => s,
        };
        let (prev_gen, prev_slot) = match prev {
            Some((generation, key)) => {
                let aad = slot_aad(
                    SlotTag::PreviousKey,
                    self.key_gen,
                    &self.vault_id,
                    &generation.to_le_bytes(),
                );
                (generation, wrap(self.vk, &aad, key)?)
            }
            None => (0, [0u8; SLOT_LEN]),
        };
        let body_len = self.kind.max_body_len();
        let record = RecordHeader {
            kind: self.kind,
            key_gen: self.key_gen,
            vault_id: self.vault_id,
            id1: [0; ID_LEN],
            id2: [0; ID_LEN],
            revision: self.revision,
            body_len: u32::try_from(body_len).map_err(|_| Error::malformed("header body"))?,
        };
        let mut bytes = Vec::with_capacity(HEADER_LEN + body_len);
        bytes.extend_from_slice(&format::write::encode_header(&record));
        bytes.extend_from_slice(&block);
        bytes.extend_from_slice(&password_slot);
        if is_vault {
            bytes.extend_from_slice(&recovery_slot);
            bytes.extend_from_slice(&prev_gen.to_le_bytes());
            bytes.extend_from_slice(&prev_slot);
        }
        let seal = hazmat::aead::seal(self.vk, &bytes, &[])?;
        bytes.extend_from_slice(&seal);
        if bytes.len() != HEADER_LEN + body_len || seal.len() != SEAL_LEN {
            return Err(Error::malformed("header length"));
        }
        Ok(KeyHeader {
            record,
            kdf: self.kdf,
            salt: self.salt,
            password_slot,
            recovery_slot: if is_vault {
                recovery_slot
            } else {
                [0; COMMITTED_SLOT_LEN]
            },
            prev_gen,
            prev_slot,
            bytes,
        })
    }
}

/// Length check used by tests and the spec.
const _: () =
    assert!(KEY_LEN == 32 && SLOT_LEN == 60 && COMMITTED_SLOT_LEN == 92 && SEAL_LEN == 28);
