//! The key lifecycle: creating a vault, unlocking it (password or
//! recovery key), changing credentials, and the vault keys by generation.

use std::collections::BTreeMap;

use crate::argon::{self, Password};
use crate::error::{Error, Result};
use crate::format::RecordKind;
use crate::hazmat::Key;
use crate::header::{Credential, HeaderBuilder, KeyHeader, SlotSource, Unlocked};
use crate::ids::{PromptId, VaultId};
use crate::kdf::{self, KdfParams};
use crate::record::SealedRecord;
use crate::recovery::RecoveryKey;
use crate::rng;
use crate::store::MemoryStore;

use super::seal::{header_record, seal_item_key_with};
use super::{Changeset, SeenRevisions, Vault};

/// A newly created vault, with the recovery key to show the user once.
#[derive(Debug)]
#[non_exhaustive]
pub struct NewVault {
    /// The unlocked vault.
    pub vault: Vault,
    /// The recovery key. Show it once; it is not stored anywhere.
    pub recovery_key: RecoveryKey,
    /// The records to store (the header).
    pub changes: Changeset,
}

impl Vault {
    /// Creates a vault: a random vault id and vault key, a password slot and
    /// a recovery slot.
    ///
    /// # Errors
    ///
    /// [`Error::Randomness`] if the OS generator fails.
    ///
    /// # Security
    ///
    /// Runs Argon2id once with `params` (use [`KdfParams::DEFAULT`] unless
    /// you have a reason). Never calibrate parameters to the device.
    pub fn create(password: &Password, params: KdfParams) -> Result<NewVault> {
        let vault_id = VaultId::generate()?;
        let vk = Key::generate()?;
        let salt = rng::array()?;
        let kek = argon::derive_kek(password, &salt, params)?;
        let recovery_key = RecoveryKey::generate()?;
        let header = HeaderBuilder {
            kind: RecordKind::VaultHeader,
            vault_id,
            key_gen: 1,
            revision: 1,
            kdf: params,
            salt,
            vk: &vk,
        }
        .build(
            SlotSource::Wrap(&kek),
            SlotSource::Wrap(recovery_key.key()),
            None,
        )?;
        let changes = Changeset {
            header: Some(header_record(&header)?),
            ..Changeset::default()
        };
        let vault = Vault {
            header,
            vk,
            prev: None,
            prompts: BTreeMap::new(),
            damaged: BTreeMap::new(),
            space: false,
            extras: BTreeMap::new(),
        };
        Ok(NewVault {
            vault,
            recovery_key,
            changes,
        })
    }

    /// Unlocks a vault from its header and whatever records the caller has.
    ///
    /// # Errors
    ///
    /// - [`Error::Authentication`] for a wrong password or recovery key, or
    ///   any record that fails to open (tampered, moved from another place,
    ///   or sealed under a key this vault does not have).
    /// - [`Error::KdfParamsOutOfBounds`], [`Error::Malformed`],
    ///   [`Error::UnsupportedVersion`] for a hostile or foreign header,
    ///   refused before any key derivation.
    /// - [`Error::MissingRecord`] if the metadata lists a version whose
    ///   record is absent (a dropped record).
    /// - [`Error::LimitExceeded`] for more prompts than allowed.
    ///
    /// A prompt whose metadata is authentic but breaks a model rule
    /// (`SPEC.md` §6) does not fail the open: it is left out of the prompts
    /// and reported by [`Vault::damaged_prompts`].
    ///
    /// # Security
    ///
    /// Only model-rule failures of authenticated records degrade to one
    /// prompt; every authentication failure stays opaque and fatal.
    pub fn open<I>(header: &[u8], records: I, credential: Credential<'_>) -> Result<Vault>
    where
        I: IntoIterator,
        I::Item: AsRef<[u8]>,
    {
        Self::open_with_seen(header, records, credential, &SeenRevisions::default())
    }

    /// As [`Vault::open`], refusing data older than what `seen` records.
    ///
    /// # Errors
    ///
    /// As [`Vault::open`], plus [`Error::Rollback`] when the header or a
    /// prompt's metadata has a lower revision than `seen` (checked for the
    /// header before any key derivation).
    pub fn open_with_seen<I>(
        header: &[u8],
        records: I,
        credential: Credential<'_>,
        seen: &SeenRevisions,
    ) -> Result<Vault>
    where
        I: IntoIterator,
        I::Item: AsRef<[u8]>,
    {
        let header = KeyHeader::parse(header, RecordKind::VaultHeader)?;
        if header.record.revision < seen.header {
            return Err(Error::Rollback {
                found: header.record.revision,
                seen: seen.header,
            });
        }
        let unlocked = header.unlock(&credential)?;
        Self::from_unlocked(header, unlocked, records, seen, false)
    }

    /// The vault of an unlocked header, with `records` staged and applied.
    pub(crate) fn from_unlocked<I>(
        header: KeyHeader,
        unlocked: Unlocked,
        records: I,
        seen: &SeenRevisions,
        space: bool,
    ) -> Result<Vault>
    where
        I: IntoIterator,
        I::Item: AsRef<[u8]>,
    {
        let mut vault = Vault {
            header,
            vk: unlocked.vk,
            prev: unlocked.prev,
            prompts: BTreeMap::new(),
            damaged: BTreeMap::new(),
            space,
            extras: BTreeMap::new(),
        };
        let staged = vault.stage(records, seen)?;
        vault.apply(staged);
        Ok(vault)
    }

    /// Unlocks the vault a [`MemoryStore`] holds (for example one read with
    /// [`MemoryStore::from_bundle`]): its header and every record.
    ///
    /// # Errors
    ///
    /// [`Error::MissingRecord`] when the store has no header; otherwise as
    /// [`Vault::open_with_seen`].
    ///
    /// # Security
    ///
    /// As [`Vault::open`]: the header's KDF parameters are bounds-checked
    /// before any key derivation.
    pub fn open_store(
        store: &MemoryStore,
        credential: Credential<'_>,
        seen: &SeenRevisions,
    ) -> Result<Vault> {
        let header = store.header().ok_or(Error::MissingRecord {
            what: "vault header",
        })?;
        Self::open_with_seen(
            header,
            store.records().map(SealedRecord::as_bytes),
            credential,
            seen,
        )
    }

    /// Changes the password: a new salt and password slot, the same vault
    /// key. No content is re-encrypted.
    ///
    /// # Errors
    ///
    /// [`Error::Randomness`]; [`Error::LimitExceeded`] if the KDF work area
    /// cannot be allocated; [`Error::InvalidInput`] for a shared space.
    pub fn change_password(
        &mut self,
        new_password: &Password,
        params: Option<KdfParams>,
    ) -> Result<Changeset> {
        self.refuse_space("a shared space has no password")?;
        let params = params.unwrap_or(self.header.kdf);
        let salt = rng::array()?;
        let kek = argon::derive_kek(new_password, &salt, params)?;
        let header = self.rebuild_header(
            self.header.record.key_gen,
            params,
            salt,
            SlotSource::Wrap(&kek),
            SlotSource::Keep(self.header.recovery_slot),
            self.prev.as_ref().map(|(g, k)| (*g, k)),
            &self.vk,
        )?;
        self.install_header(header)
    }

    /// Replaces the recovery key: a new recovery slot, the same vault key.
    /// The old recovery key stops working once the new header is stored.
    ///
    /// # Errors
    ///
    /// [`Error::Randomness`]; [`Error::InvalidInput`] for a shared space.
    pub fn replace_recovery_key(&mut self) -> Result<(RecoveryKey, Changeset)> {
        self.refuse_space(
            "a shared space has no recovery key (rotate_space makes a new space key)",
        )?;
        let rk = RecoveryKey::generate()?;
        let header = self.rebuild_header(
            self.header.record.key_gen,
            self.header.kdf,
            self.header.salt,
            SlotSource::Keep(self.header.password_slot),
            SlotSource::Wrap(rk.key()),
            self.prev.as_ref().map(|(g, k)| (*g, k)),
            &self.vk,
        )?;
        let changes = self.install_header(header)?;
        Ok((rk, changes))
    }

    /// Checks `password` against the current password slot (runs the KDF).
    ///
    /// # Errors
    ///
    /// [`Error::Authentication`] if it is not the vault password.
    pub fn verify_password(&self, password: &Password) -> Result<()> {
        let unlocked = self.header.unlock(&Credential::Password(password))?;
        if unlocked.vk == self.vk {
            Ok(())
        } else {
            Err(Error::Authentication)
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn rebuild_header(
        &self,
        key_gen: u32,
        kdf: KdfParams,
        salt: [u8; kdf::SALT_LEN],
        password: SlotSource<'_>,
        recovery: SlotSource<'_>,
        prev: Option<(u32, &Key)>,
        vk: &Key,
    ) -> Result<KeyHeader> {
        let revision = self
            .header
            .record
            .revision
            .checked_add(1)
            .ok_or(Error::invalid("header revision overflow"))?;
        HeaderBuilder {
            kind: RecordKind::VaultHeader,
            vault_id: self.id(),
            key_gen,
            revision,
            kdf,
            salt,
            vk,
        }
        .build(password, recovery, prev)
    }

    pub(super) fn install_header(&mut self, header: KeyHeader) -> Result<Changeset> {
        let changes = Changeset {
            header: Some(header_record(&header)?),
            ..Changeset::default()
        };
        self.header = header;
        Ok(changes)
    }

    /// [`Error::InvalidInput`] with `reason` when this vault is a space.
    pub(crate) fn refuse_space(&self, reason: &'static str) -> Result<()> {
        if self.space {
            Err(Error::invalid(reason))
        } else {
            Ok(())
        }
    }

    pub(crate) fn vault_key_current(&self) -> &Key {
        &self.vk
    }

    /// The vault key of generation `generation`, if this vault holds it.
    pub(crate) fn vault_key(&self, generation: u32) -> Option<&Key> {
        if generation == self.key_generation() {
            Some(&self.vk)
        } else {
            self.prev
                .as_ref()
                .filter(|(g, _)| *g == generation)
                .map(|(_, k)| k)
        }
    }

    pub(crate) fn seal_item_key(
        &self,
        prompt: PromptId,
        generation: u32,
        item: &Key,
    ) -> Result<SealedRecord> {
        let vk = self.vault_key(generation).ok_or(Error::MissingRecord {
            what: "vault key generation",
        })?;
        seal_item_key_with(vk, self.id(), prompt, generation, item)
    }
}
