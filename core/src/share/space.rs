//! Spaces (SPEC §13.5): a shared collection is a vault of its own — its
//! own vault id, key generations and the existing record kinds, so open,
//! merge, inspect and rotation work unchanged — whose vault key is reached
//! through the header's recovery slot under the **space key** of the
//! current generation. Members get the space key by key delivery
//! (`crate::share::identity`) and keep it in their own vault (kind 11).

use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::format::{RecordHeader, RecordKind};
use crate::hazmat::Key;
use crate::header::{HeaderBuilder, KeyHeader, SlotSource};
use crate::ids::{ID_LEN, PromptId, Timestamp, VaultId};
use crate::kdf::KdfParams;
use crate::record::SealedRecord;
use crate::vault::seal::header_record;
use crate::vault::{Changeset, SeenRevisions, Vault};
use crate::{rng, sealing};

/// The key of one generation of a space: what a key delivery carries and
/// what unlocks the space's header. Zeroized on drop; `Debug` shows only
/// the space and generation.
#[derive(Clone, PartialEq, Eq)]
pub struct SpaceKey {
    space: VaultId,
    generation: u32,
    key: Key,
}

impl core::fmt::Debug for SpaceKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SpaceKey")
            .field("space", &self.space)
            .field("generation", &self.generation)
            .finish_non_exhaustive()
    }
}

impl SpaceKey {
    pub(crate) fn new(space: VaultId, generation: u32, key: Key) -> Self {
        SpaceKey {
            space,
            generation,
            key,
        }
    }

    /// A space key from its parts. A test hook for the frozen vectors; not
    /// API.
    #[doc(hidden)]
    #[must_use]
    pub fn from_parts_for_tests(space: VaultId, generation: u32, key: [u8; 32]) -> Self {
        Self::new(space, generation, Key::from_bytes(key))
    }

    /// The space (its vault id).
    #[must_use]
    pub fn space_id(&self) -> VaultId {
        self.space
    }

    /// The key generation this key unlocks.
    #[must_use]
    pub fn generation(&self) -> u32 {
        self.generation
    }

    pub(crate) fn key(&self) -> &Key {
        &self.key
    }
}

/// A newly created space.
#[derive(Debug)]
#[non_exhaustive]
pub struct NewSpace {
    /// The space, unlocked.
    pub vault: Vault,
    /// Its key (generation 1): keep it with [`Vault::add_space_key`] and
    /// deliver it to members.
    pub key: SpaceKey,
    /// The records to store (the space's header).
    pub changes: Changeset,
}

/// The KDF parameters written into a space header. No password is ever
/// derived for a space (its password slot is sealed under a key nobody
/// keeps); they only have to be valid.
fn space_kdf() -> Result<KdfParams> {
    KdfParams::new(
        KdfParams::MIN_M_COST_KIB,
        KdfParams::MIN_T_COST,
        KdfParams::MIN_P_COST,
    )
}

impl Vault {
    /// Creates a space: a random space id and vault key, a header whose
    /// recovery slot wraps the vault key under a fresh space key and whose
    /// password slot wraps it under a random key that is dropped at once.
    ///
    /// # Errors
    ///
    /// [`Error::Randomness`].
    pub fn create_space() -> Result<NewSpace> {
        let space = VaultId::generate()?;
        let vk = Key::generate()?;
        let sk = Key::generate()?;
        let sealed_shut = Key::generate()?;
        let header = HeaderBuilder {
            kind: RecordKind::VaultHeader,
            vault_id: space,
            key_gen: 1,
            revision: 1,
            kdf: space_kdf()?,
            salt: rng::array()?,
            vk: &vk,
        }
        .build(SlotSource::Wrap(&sealed_shut), SlotSource::Wrap(&sk), None)?;
        let changes = Changeset {
            header: Some(header_record(&header)?),
            ..Changeset::default()
        };
        let unlocked = header.unlock_with_recovery_kek(&sk)?;
        let vault = Vault::from_unlocked(
            header,
            unlocked,
            core::iter::empty::<&[u8]>(),
            &SeenRevisions::default(),
            true,
        )?;
        Ok(NewSpace {
            vault,
            key: SpaceKey::new(space, 1, sk),
            changes,
        })
    }

    /// Opens a space from its header and records with a space key.
    ///
    /// # Errors
    ///
    /// - [`Error::WrongVault`] for a header of another space than `key`'s;
    /// - [`Error::Revoked`] when the header is at a newer generation than
    ///   `key` (this member was removed, or the new key's delivery has not
    ///   arrived yet), or a record is;
    /// - [`Error::Rollback`] when the header is older than `key`'s
    ///   generation or than `seen`;
    /// - [`Error::Authentication`] when the key does not unlock the header
    ///   or a record fails to open; otherwise as [`Vault::open`].
    pub fn open_space<I>(
        header: &[u8],
        records: I,
        key: &SpaceKey,
        seen: &SeenRevisions,
    ) -> Result<Vault>
    where
        I: IntoIterator,
        I::Item: AsRef<[u8]>,
    {
        let header = KeyHeader::parse(header, RecordKind::VaultHeader)?;
        if header.record.vault_id != key.space {
            return Err(Error::WrongVault);
        }
        if header.record.revision < seen.header {
            return Err(Error::Rollback {
                found: header.record.revision,
                seen: seen.header,
            });
        }
        let generation = header.record.key_gen;
        if generation > key.generation {
            return Err(Error::Revoked {
                held: key.generation,
                current: generation,
            });
        }
        if generation < key.generation {
            return Err(Error::Rollback {
                found: u64::from(generation),
                seen: u64::from(key.generation),
            });
        }
        let unlocked = header.unlock_with_recovery_kek(&key.key)?;
        Self::from_unlocked(header, unlocked, records, seen, true)
    }

    /// Whether this vault is a shared space.
    #[must_use]
    pub fn is_space(&self) -> bool {
        self.space
    }

    /// Rotates a space to a new generation under a new space key — what
    /// removing a member does (SPEC §13.6): every record is re-sealed under
    /// fresh keys, and the new key is delivered to the remaining members
    /// only. Then call [`Vault::finish_rotation`] (the changeset keeps the
    /// old vault key in the header until then).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] for a vault that is not a space, while an
    /// earlier rotation is unfinished, or while it holds damaged prompts;
    /// [`Error::Randomness`].
    ///
    /// # Security
    ///
    /// A removed member keeps whatever they already read or copied; they
    /// cannot open any record written (or re-sealed) at the new generation.
    pub fn rotate_space(&mut self) -> Result<(SpaceKey, Changeset)> {
        if !self.space {
            return Err(Error::invalid(
                "only a shared space rotates with rotate_space",
            ));
        }
        self.check_rotatable()?;
        let sk = Key::generate()?;
        let sealed_shut = Key::generate()?;
        let salt = rng::array()?;
        let changes = self.rotate_to(salt, &sealed_shut, &sk)?;
        Ok((SpaceKey::new(self.id(), self.key_generation(), sk), changes))
    }

    /// Copies prompt `id` of this vault into `space` under the same prompt
    /// id, with its whole history, tags and flags (SPEC §13.5). Returns the
    /// space's changeset. Sharing it again adds only versions the space
    /// does not hold yet.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] when `space` is not a space;
    /// [`Error::NotFound`] for a prompt this vault does not hold; as
    /// [`Vault::import`] for a prompt that breaks a rule in the space.
    pub fn share_prompt(
        &self,
        id: PromptId,
        space: &mut Vault,
        now: Timestamp,
    ) -> Result<Changeset> {
        if !space.space {
            return Err(Error::invalid(
                "the target of share_prompt must be a shared space",
            ));
        }
        self.copy_prompt_into(id, space, now)
    }

    /// Keeps `key` in this vault: seals it as the space-key record of its
    /// space (kind 11, storage key `s.<space>`) under the current vault
    /// key, replacing the key of an older generation. The record travels
    /// with the vault like the identity record.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] for a shared space (a space does not hold
    /// keys of spaces); [`Error::Rollback`] when the vault holds a newer
    /// generation of that space's key; [`Error::Randomness`].
    pub fn add_space_key(&mut self, key: &SpaceKey) -> Result<Changeset> {
        self.refuse_space("a shared space does not keep space keys")?;
        if let Some(held) = self.space_key(key.space)? {
            if held.generation > key.generation {
                return Err(Error::Rollback {
                    found: u64::from(key.generation),
                    seen: u64::from(held.generation),
                });
            }
        }
        let rec = self.seal_space_key(key)?;
        Ok(self.put_extra(rec))
    }

    /// Seals `key` as a space-key record of this vault (kind 11, storage
    /// key `s.<space>`) under the current vault key, without keeping it:
    /// for a client that stores it beside the vault's store (see
    /// [`Vault::seal_identity`]). [`Vault::add_space_key`] keeps it in the
    /// vault.
    ///
    /// # Errors
    ///
    /// [`Error::Randomness`].
    pub fn seal_space_key(&self, key: &SpaceKey) -> Result<SealedRecord> {
        let header = RecordHeader {
            kind: RecordKind::SpaceKey,
            key_gen: self.key_generation(),
            vault_id: self.id(),
            id1: *key.space.as_bytes(),
            id2: [0; ID_LEN],
            revision: u64::from(key.generation),
            body_len: 0,
        };
        let plain = Zeroizing::new(*key.key.expose_secret());
        sealing::seal(self.vault_key_current(), header, plain.as_slice())
    }

    /// The key this vault keeps for `space`, if any.
    ///
    /// # Errors
    ///
    /// [`Error::Authentication`] for a record no held vault key opens.
    pub fn space_key(&self, space: VaultId) -> Result<Option<SpaceKey>> {
        let key = crate::format::storage_key::space_key(space.as_bytes());
        self.extra(&key).map(|r| self.open_space_key(r)).transpose()
    }

    /// Every space key this vault keeps, in space-id order.
    ///
    /// # Errors
    ///
    /// As [`Vault::space_key`].
    pub fn space_keys(&self) -> Result<Vec<SpaceKey>> {
        self.extras_with_prefix("s.")
            .map(|r| self.open_space_key(r))
            .collect()
    }

    /// Forgets the key of `space` (leaving it); returns the changeset that
    /// deletes its record (empty when there was none).
    pub fn remove_space_key(&mut self, space: VaultId) -> Changeset {
        self.remove_extra(&crate::format::storage_key::space_key(space.as_bytes()))
    }

    /// Opens a space-key record of this vault, kept anywhere (see
    /// [`Vault::seal_space_key`]).
    ///
    /// # Errors
    ///
    /// [`Error::Authentication`] for a record of another vault or kind, or
    /// one no held vault key opens.
    pub fn open_space_key(&self, record: &SealedRecord) -> Result<SpaceKey> {
        let h = record.header();
        if h.kind != RecordKind::SpaceKey || h.vault_id != self.id() {
            return Err(Error::Authentication);
        }
        let vk = self.vault_key(h.key_gen).ok_or(Error::Authentication)?;
        let plain = sealing::open(vk, record)?;
        let key = Key::from_slice(&plain).map_err(|_| Error::Authentication)?;
        let generation = u32::try_from(h.revision).map_err(|_| Error::Authentication)?;
        Ok(SpaceKey::new(VaultId::from_bytes(h.id1), generation, key))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use super::*;
    use crate::model::Draft;

    fn draft(body: &str) -> Draft {
        Draft {
            title: "t".into(),
            body: body.into(),
            settings: None,
            note: String::new(),
        }
    }

    /// SPEC §13.6: after a removal, nothing the space writes — the header,
    /// the re-sealed records, a new version — opens under any key the
    /// removed member held (the old space key, the old vault key, the old
    /// item keys).
    #[test]
    fn records_written_after_revocation_do_not_open_under_the_old_keys() {
        let NewSpace {
            vault: mut space,
            key: old_sk,
            ..
        } = Vault::create_space().unwrap();
        let t = Timestamp(1);
        let (pid, _) = space.create_prompt(&draft("v1"), &[], false, t).unwrap();
        space.add_version(pid, &draft("v2"), t).unwrap();
        let old_vk = space.vault_key_current().clone();
        let old_items: Vec<Key> = space.prompts[&pid].keys.values().cloned().collect();
        assert_eq!(old_items.len(), 1);

        let (new_sk, mut written) = space.rotate_space().unwrap();
        written.extend(space.finish_rotation().unwrap());
        let (_, edit) = space.add_version(pid, &draft("v3"), t).unwrap();
        written.extend(edit);
        assert_eq!(new_sk.generation(), 2);
        assert_ne!(new_sk.key(), old_sk.key());

        let header = written.header.clone().unwrap();
        let parsed = KeyHeader::parse(header.as_bytes(), RecordKind::VaultHeader).unwrap();
        assert!(parsed.unlock_with_recovery_kek(old_sk.key()).is_err());
        assert!(parsed.unlock_with_recovery_kek(&old_vk).is_err());
        assert!(parsed.unlock_with_recovery_kek(new_sk.key()).is_ok());
        assert!(written.puts.len() >= 4, "{}", written.puts.len());
        for rec in &written.puts {
            assert_eq!(rec.header().key_gen, 2);
            assert!(sealing::open(&old_vk, rec).is_err());
            assert!(sealing::open(old_sk.key(), rec).is_err());
            for item in &old_items {
                assert!(sealing::open(item, rec).is_err(), "{rec:?}");
            }
        }
        // The new members can read all of it.
        let reopened = Vault::open_space(
            header.as_bytes(),
            space.records().unwrap().iter().map(SealedRecord::as_bytes),
            &new_sk,
            &SeenRevisions::default(),
        )
        .unwrap();
        reopened.verify().unwrap();
        assert_eq!(reopened.version(pid, None).unwrap().body, "v3");
    }
}
