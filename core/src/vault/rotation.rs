//! Key rotation: a new vault-key generation with fresh item keys, every
//! record re-sealed in one changeset, and the completion of a rotation a
//! store applied only in part.

use std::collections::{BTreeMap, BTreeSet};

use zeroize::Zeroizing;

use crate::argon::{self, Password};
use crate::error::{Error, Result};
use crate::hazmat::Key;
use crate::header::SlotSource;
use crate::ids::{PromptId, SegmentId, VersionId};
use crate::record::SealedRecord;
use crate::recovery::RecoveryKey;
use crate::rng;
use crate::sealing;

use super::layout::Layout;
use super::seal::{
    header_record, item_key_storage_key, reseal_version, seal_item_key_with, segment_header,
    version_storage_key,
};
use super::state::PromptState;
use super::{Changeset, Vault};

impl Vault {
    /// Whether some records are still sealed under an older key generation
    /// (an interrupted rotation). [`Vault::finish_rotation`] completes it.
    #[must_use]
    pub fn rotation_pending(&self) -> bool {
        let generation = self.key_generation();
        self.prompts.values().any(|p| {
            p.meta_gen != generation
                || p.keys.keys().any(|g| *g != generation)
                || p.versions
                    .values()
                    .chain(p.segment_records().map(|(_, r)| r))
                    .any(|v| v.header().key_gen != generation)
        }) || self
            .damaged
            .values()
            .any(|d| d.stale_generation(generation))
            || self
                .extras
                .values()
                .any(|r| r.header().key_generation() != generation)
            || self.prev.is_some()
    }

    /// Rotates to a new vault key generation: a new vault key, a fresh item
    /// key for every prompt, every metadata and version record re-encrypted,
    /// a new password slot and a new recovery key. The old vault key stays
    /// wrapped in the new header, so a store that applied only part of the
    /// changeset still opens; [`Vault::finish_rotation`] then completes it.
    ///
    /// The changeset is complete and checkable: one header, then for every
    /// prompt one item key, one metadata record and every version, then the
    /// old item keys to delete.
    ///
    /// # Errors
    ///
    /// [`Error::Authentication`] if `password` is not the vault password;
    /// [`Error::InvalidInput`] while an earlier rotation is unfinished, or
    /// while the vault holds damaged prompts (remove or repair them first:
    /// their records cannot be re-encrypted as valid prompts), or for a
    /// shared space (use `Vault::rotate_space`).
    ///
    /// # Security
    ///
    /// Records sealed under the old key stay readable by anyone who holds it
    /// until the store applies the deletes and replacements.
    pub fn rotate(&mut self, password: &Password) -> Result<(RecoveryKey, Changeset)> {
        self.check_rotatable()?;
        self.refuse_space("a shared space rotates with rotate_space")?;
        self.verify_password(password)?;
        let salt = rng::array()?;
        let kek = argon::derive_kek(password, &salt, self.header.kdf)?;
        let rk = RecoveryKey::generate()?;
        let changes = self.rotate_to(salt, &kek, rk.key())?;
        Ok((rk, changes))
    }

    /// Refuses a rotation while an earlier one is unfinished or the vault
    /// holds damaged prompts (see [`Vault::rotate`]).
    pub(crate) fn check_rotatable(&self) -> Result<()> {
        if self.rotation_pending() {
            return Err(Error::invalid(
                "an earlier rotation is unfinished; call finish_rotation first",
            ));
        }
        if !self.damaged.is_empty() {
            return Err(Error::invalid(
                "the vault holds damaged prompts; export and remove them before rotating",
            ));
        }
        Ok(())
    }

    /// The rotation itself (after [`Vault::check_rotatable`]): a new vault
    /// key wrapped under `password_kek` (with `salt`) and `recovery_kek`,
    /// every prompt re-keyed and re-sealed.
    pub(crate) fn rotate_to(
        &mut self,
        salt: [u8; crate::kdf::SALT_LEN],
        password_kek: &Key,
        recovery_kek: &Key,
    ) -> Result<Changeset> {
        let old_gen = self.key_generation();
        let new_gen = old_gen
            .checked_add(1)
            .ok_or(Error::invalid("key generation overflow"))?;
        let new_vk = Key::generate()?;
        let header = self.rebuild_header(
            new_gen,
            self.header.kdf,
            salt,
            SlotSource::Wrap(password_kek),
            SlotSource::Wrap(recovery_kek),
            Some((old_gen, &self.vk)),
            &new_vk,
        )?;
        let mut changes = Changeset {
            header: Some(header_record(&header)?),
            ..Changeset::default()
        };
        let mut next = BTreeMap::new();
        for (id, p) in &self.prompts {
            let item = Key::generate()?;
            changes.put_new(seal_item_key_with(&new_vk, self.id(), *id, new_gen, &item)?);
            let revision = p
                .revision
                .checked_add(1)
                .ok_or(Error::invalid("revision overflow"))?;
            changes.put_new(p.seal_whole(self.id(), *id, new_gen, &item, revision)?);
            let (layout, strays) = self.reseal_segments(p, *id, new_gen, &item, &mut changes)?;
            let mut versions = BTreeMap::new();
            for (vid, rec) in &p.versions {
                let content = self.open_version_content(p, rec)?;
                let sealed = reseal_version(self.id(), *id, *vid, new_gen, &item, &content)?;
                changes.put_new(sealed.clone());
                versions.insert(*vid, sealed);
            }
            // Old keys cannot collide with new puts (the generation differs).
            changes
                .deletes
                .extend(p.keys.keys().map(|g| item_key_storage_key(*id, *g)));
            changes
                .deletes
                .extend(p.stale.iter().map(|v| version_storage_key(*id, *v)));
            let mut keys = BTreeMap::new();
            keys.insert(new_gen, item);
            next.insert(
                *id,
                PromptState {
                    stale: BTreeSet::new(),
                    keys,
                    meta: p.meta.clone(),
                    layout,
                    strays,
                    revision,
                    meta_gen: new_gen,
                    versions,
                },
            );
        }
        let extras = self.reseal_extras(new_gen, &new_vk, &mut changes)?;
        let old_vk = core::mem::replace(&mut self.vk, new_vk);
        self.extras = extras;
        self.prev = Some((old_gen, old_vk));
        self.header = header;
        self.prompts = next;
        Ok(changes)
    }

    /// Completes an interrupted rotation: re-seals every record still under
    /// an older generation, deletes old item keys, and writes a header that
    /// no longer carries the previous vault key. Returns an empty changeset
    /// when nothing is pending.
    ///
    /// # Errors
    ///
    /// [`Error::Randomness`]; [`Error::Authentication`] if a stale record
    /// fails to open; [`Error::InvalidInput`] if a damaged prompt has
    /// records under an older generation (remove it first: dropping the
    /// older vault key would make its records unreadable).
    pub fn finish_rotation(&mut self) -> Result<Changeset> {
        if !self.rotation_pending() {
            return Ok(Changeset::default());
        }
        let generation = self.key_generation();
        if self
            .damaged
            .values()
            .any(|d| d.stale_generation(generation))
        {
            return Err(Error::invalid(
                "a damaged prompt is sealed under an older key; export and remove it first",
            ));
        }
        let mut changes = Changeset::default();
        let mut next = BTreeMap::new();
        for (id, p) in &self.prompts {
            let mut np = p.clone();
            changes.deletes.extend(np.take_stale(*id));
            if let std::collections::btree_map::Entry::Vacant(e) = np.keys.entry(generation) {
                let item = Key::generate()?;
                changes.put_new(self.seal_item_key(*id, generation, &item)?);
                e.insert(item);
            }
            let item = np
                .keys
                .get(&generation)
                .ok_or(Error::MissingRecord { what: "item key" })?
                .clone();
            let stale_versions: Vec<VersionId> = p
                .versions
                .iter()
                .filter(|(_, r)| r.header().key_gen != generation)
                .map(|(v, _)| *v)
                .collect();
            for vid in stale_versions {
                let rec = p
                    .versions
                    .get(&vid)
                    .ok_or(Error::MissingRecord { what: "version" })?;
                let content = self.open_version_content(p, rec)?;
                let sealed = reseal_version(self.id(), *id, vid, generation, &item, &content)?;
                changes.put_new(sealed.clone());
                np.versions.insert(vid, sealed);
            }
            let (layout, strays) = self.reseal_segments(p, *id, generation, &item, &mut changes)?;
            np.layout = layout;
            np.strays = strays;
            if np.meta_gen != generation {
                np.revision = np
                    .revision
                    .checked_add(1)
                    .ok_or(Error::invalid("revision overflow"))?;
                np.meta_gen = generation;
                changes.put_new(np.seal_whole(self.id(), *id, generation, &item, np.revision)?);
            }
            for g in p.keys.keys().filter(|g| **g != generation) {
                changes.deletes.push(item_key_storage_key(*id, *g));
                np.keys.remove(g);
            }
            next.insert(*id, np);
        }
        let extras = self.reseal_extras(generation, &self.vk, &mut changes)?;
        let header = self.rebuild_header(
            generation,
            self.header.kdf,
            self.header.salt,
            SlotSource::Keep(self.header.password_slot),
            SlotSource::Keep(self.header.recovery_slot),
            None,
            &self.vk,
        )?;
        changes.header = Some(header_record(&header)?);
        self.header = header;
        self.prev = None;
        self.prompts = next;
        self.extras = extras;
        Ok(changes)
    }

    /// Re-seals every index segment record of `p` (listed and stray) not
    /// yet at `generation` under `item`, with the same ids (so the same
    /// storage keys: the new record replaces the old, as for versions),
    /// adding the puts to `changes`. Returns the new layout and strays.
    ///
    /// # Errors
    ///
    /// [`Error::Authentication`] if a stray segment fails to open;
    /// [`Error::Randomness`].
    fn reseal_segments(
        &self,
        p: &PromptState,
        prompt: PromptId,
        generation: u32,
        item: &Key,
        changes: &mut Changeset,
    ) -> Result<(Layout, BTreeMap<SegmentId, SealedRecord>)> {
        let mut layout = p.layout.clone();
        for (sid, seg) in &mut layout.segments {
            if seg.record.header().key_gen != generation {
                let plain = Zeroizing::new(crate::model::index::segment_plaintext(&seg.entries)?);
                let h = segment_header(self.id(), generation, prompt, *sid);
                seg.record = sealing::seal(item, h, &plain)?;
                changes.put_new(seg.record.clone());
            }
        }
        let mut strays = BTreeMap::new();
        for (sid, rec) in &p.strays {
            let rec = if rec.header().key_gen == generation {
                rec.clone()
            } else {
                let key = p
                    .keys
                    .get(&rec.header().key_gen)
                    .ok_or(Error::Authentication)?;
                let plain = sealing::open(key, rec)?;
                let h = segment_header(self.id(), generation, prompt, *sid);
                let sealed = sealing::seal(item, h, &plain)?;
                changes.put_new(sealed.clone());
                sealed
            };
            strays.insert(*sid, rec);
        }
        Ok((layout, strays))
    }
}
