//! What sharing keeps next to the vault file, in `<vault>.shared/` (0700):
//!
//! - `sharing.json` (0600, replaced atomically): this account's sharing
//!   identity and the key of every space this device holds, each a record
//!   **sealed under the vault key** (kinds 9 and 11, SPEC §13); the public
//!   bundles pinned per account; and per space its owner and members as
//!   the server last listed them;
//! - `<space id>.pvlt`: each space's records, a vault file of its own.
//!
//! The identity and space-key records are not part of the vault's record
//! set (the core's open, merge and sync do not take them), so they live
//! here, and are sealed again whenever the vault key rotates. While a
//! rotation is being written a record is kept twice (new key first, then
//! old), so a crash between writing this file and the vault file leaves
//! one that opens.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use promptvault::share::{Identity, PublicBundle, SpaceKey};
use promptvault::{SealedRecord, Vault, VaultId};
use serde::{Deserialize, Serialize};

use crate::fail::{Fail, Kind};
use crate::files;

/// The side file is refused above this size.
const MAX_SIDE_LEN: u64 = 64 << 20;

/// One space this device holds.
#[derive(Serialize, Deserialize, Clone, Debug, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct SpaceEntry {
    /// Space-key records (kind 11, text) sealed under the vault key; the
    /// newest generation first. Older ones are dropped once the space's
    /// header is at the newer generation.
    pub(crate) keys: Vec<String>,
    /// The owning account.
    pub(crate) owner: String,
    /// Every member (the owner included), as the server last listed them.
    pub(crate) members: Vec<String>,
    /// Whether the server has the space (its `spaces/create` succeeded).
    #[serde(default)]
    pub(crate) on_server: bool,
    /// Set when the server said this account is no longer a member.
    #[serde(default)]
    pub(crate) removed: bool,
}

/// The content of `sharing.json`.
#[derive(Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct SideData {
    /// The vault (hex) this file belongs to.
    #[serde(default)]
    vault: String,
    /// The identity record (kind 9, text) sealed under the vault key; two
    /// only while a vault key rotation is written.
    #[serde(default)]
    identity: Vec<String>,
    /// Public bundles (text) pinned on first use or by fingerprint, by
    /// account.
    #[serde(default)]
    pub(crate) pins: BTreeMap<String, String>,
    /// The spaces this device holds, by space id (hex).
    #[serde(default)]
    pub(crate) spaces: BTreeMap<String, SpaceEntry>,
}

/// The secrets of a side file, opened (zeroized on drop by their types).
pub(crate) struct Held {
    identity: Option<Identity>,
    spaces: Vec<(String, Vec<SpaceKey>)>,
}

/// The side directory of one vault and what its file holds.
pub(crate) struct Side {
    dir: PathBuf,
    pub(crate) data: SideData,
}

/// `<vault>.shared`, next to the symlink-resolved vault file.
fn side_dir(vault: &Path) -> PathBuf {
    let vault = files::resolve(vault).unwrap_or_else(|_| vault.to_owned());
    let mut name = vault.as_os_str().to_owned();
    name.push(".shared");
    PathBuf::from(name)
}

fn damaged(path: &Path, why: &str) -> Fail {
    Fail::new(
        Kind::Corrupt,
        format!(
            "{} is damaged ({why}); restore it from a backup (it holds the keys of your shared \
             spaces)",
            path.display()
        ),
    )
}

impl Side {
    /// Reads the side file of the vault at `path`, opened as `vault`
    /// (nothing yet: an empty one).
    ///
    /// # Errors
    ///
    /// Corrupt for a damaged file or one of another vault; Io.
    pub(crate) fn load(path: &Path, vault: &Vault) -> Result<Self, Fail> {
        let dir = side_dir(path);
        let file = dir.join("sharing.json");
        let data = match files::read_regular(&file, MAX_SIDE_LEN) {
            Ok(bytes) => {
                let d: SideData =
                    serde_json::from_slice(&bytes).map_err(|e| damaged(&file, &e.to_string()))?;
                if d.vault != vault.id().to_hex() {
                    return Err(damaged(&file, "it belongs to another vault"));
                }
                d
            }
            Err(files::ReadFail::NotFound) => SideData {
                vault: vault.id().to_hex(),
                ..SideData::default()
            },
            Err(e) => {
                return Err(e.into_fail(&file, "the sharing file", MAX_SIDE_LEN, Kind::Corrupt));
            }
        };
        Ok(Side { dir, data })
    }

    /// Writes `sharing.json` (atomically, 0600, its directory 0700).
    ///
    /// # Errors
    ///
    /// Io.
    pub(crate) fn save(&self) -> Result<(), Fail> {
        files::create_private_dir(&self.dir)?;
        let bytes = serde_json::to_vec_pretty(&self.data)
            .map_err(|e| Fail::new(Kind::Other, format!("encoding the sharing file: {e}")))?;
        let file = self.dir.join("sharing.json");
        files::remove_stale_temps(&file);
        files::write_atomic(&file, &bytes)
    }

    /// The file of a space's records.
    pub(crate) fn space_path(&self, space: &VaultId) -> PathBuf {
        self.dir.join(format!("{}.pvlt", space.to_hex()))
    }

    /// Creates the side directory (0700).
    ///
    /// # Errors
    ///
    /// Io.
    pub(crate) fn create_dir(&self) -> Result<(), Fail> {
        files::create_private_dir(&self.dir)
    }

    /// This account's identity, opened with `vault`'s keys.
    ///
    /// # Errors
    ///
    /// Corrupt when no held record opens.
    pub(crate) fn identity(&self, vault: &Vault) -> Result<Option<Identity>, Fail> {
        if self.data.identity.is_empty() {
            return Ok(None);
        }
        first_open(&self.data.identity, |r| vault.open_identity(r))
            .map(Some)
            .ok_or_else(|| {
                damaged(
                    &self.dir.join("sharing.json"),
                    "its identity does not open with this vault's key",
                )
            })
    }

    /// Keeps `identity`, sealed under `vault`'s current key.
    ///
    /// # Errors
    ///
    /// As sealing.
    pub(crate) fn set_identity(&mut self, vault: &Vault, identity: &Identity) -> Result<(), Fail> {
        let r = vault.seal_identity(identity).map_err(Fail::from_core)?;
        self.data.identity = vec![r.to_text()];
        Ok(())
    }

    /// Every space key held for `space`, opened with `vault`'s keys,
    /// newest generation first.
    pub(crate) fn space_keys(&self, vault: &Vault, space: &str) -> Vec<SpaceKey> {
        let Some(e) = self.data.spaces.get(space) else {
            return Vec::new();
        };
        let mut keys: Vec<SpaceKey> = e
            .keys
            .iter()
            .filter_map(|t| SealedRecord::from_text(t).ok())
            .filter_map(|r| vault.open_space_key(&r).ok())
            .collect();
        keys.sort_by_key(|k| std::cmp::Reverse(k.generation()));
        keys.dedup_by_key(|k| k.generation());
        keys
    }

    /// Adds `key` (sealed under `vault`'s current key) to its space's
    /// entry, making the entry if needed; keeps the older keys until
    /// [`Side::drop_keys_before`].
    ///
    /// # Errors
    ///
    /// As sealing.
    pub(crate) fn add_space_key(
        &mut self,
        vault: &Vault,
        key: &SpaceKey,
        owner: &str,
    ) -> Result<(), Fail> {
        let r = vault.seal_space_key(key).map_err(Fail::from_core)?;
        let e = self
            .data
            .spaces
            .entry(key.space_id().to_hex())
            .or_insert_with(|| SpaceEntry {
                owner: owner.to_owned(),
                members: vec![owner.to_owned()],
                ..SpaceEntry::default()
            });
        e.keys.insert(0, r.to_text());
        Ok(())
    }

    /// Forgets the keys of `space` older than `generation`.
    pub(crate) fn drop_keys_before(&mut self, vault: &Vault, space: &str, generation: u32) {
        let Some(e) = self.data.spaces.get_mut(space) else {
            return;
        };
        e.keys.retain(|t| {
            SealedRecord::from_text(t)
                .ok()
                .and_then(|r| vault.open_space_key(&r).ok())
                .is_none_or(|k| k.generation() >= generation)
        });
    }

    /// Whether the file holds nothing (no identity, no space).
    pub(crate) fn is_empty(&self) -> bool {
        self.data.identity.is_empty() && self.data.spaces.is_empty()
    }

    /// Every secret the file holds, opened with `vault`'s keys: to seal
    /// again after `vault` rotates ([`Side::reseal`]).
    ///
    /// # Errors
    ///
    /// Corrupt when the identity does not open.
    pub(crate) fn held(&self, vault: &Vault) -> Result<Held, Fail> {
        Ok(Held {
            identity: self.identity(vault)?,
            spaces: self
                .data
                .spaces
                .keys()
                .map(|s| (s.clone(), self.space_keys(vault, s)))
                .collect(),
        })
    }

    /// Seals `held` again under `vault`'s (new) current key, keeping the
    /// old records after the new ones (see the module's note); call
    /// [`Side::drop_old_seals`] once the rotated vault file is written.
    ///
    /// # Errors
    ///
    /// As sealing.
    pub(crate) fn reseal(&mut self, held: &Held, vault: &Vault) -> Result<(), Fail> {
        if let Some(id) = &held.identity {
            let r = vault.seal_identity(id).map_err(Fail::from_core)?;
            self.data.identity.insert(0, r.to_text());
        }
        for (space, keys) in &held.spaces {
            let mut fresh = Vec::new();
            for k in keys {
                fresh.push(vault.seal_space_key(k).map_err(Fail::from_core)?.to_text());
            }
            if let Some(e) = self.data.spaces.get_mut(space) {
                fresh.append(&mut e.keys);
                e.keys = fresh;
            }
        }
        Ok(())
    }

    /// Keeps only the records that open under `vault`'s current key
    /// generation (after a rotation was written).
    pub(crate) fn drop_old_seals(&mut self, vault: &Vault) {
        let current = vault.key_generation();
        let at_current = |t: &String| {
            SealedRecord::from_text(t).is_ok_and(|r| r.header().key_generation() == current)
        };
        self.data.identity.retain(at_current);
        for e in self.data.spaces.values_mut() {
            e.keys.retain(at_current);
        }
    }

    /// The bundle pinned for `account`.
    ///
    /// # Errors
    ///
    /// Corrupt for a pin that does not parse.
    pub(crate) fn pinned(&self, account: &str) -> Result<Option<PublicBundle>, Fail> {
        self.data
            .pins
            .get(account)
            .map(|t| {
                PublicBundle::from_text(t).map_err(|_| {
                    damaged(
                        &self.dir.join("sharing.json"),
                        &format!("the identity pinned for {account} does not parse"),
                    )
                })
            })
            .transpose()
    }

    /// Pins `bundle` for its account.
    pub(crate) fn pin(&mut self, bundle: &PublicBundle) {
        self.data
            .pins
            .insert(bundle.account().to_owned(), bundle.to_text());
    }
}

/// The first record of `texts` that `open` opens.
fn first_open<T>(
    texts: &[String],
    open: impl Fn(&SealedRecord) -> promptvault::Result<T>,
) -> Option<T> {
    texts
        .iter()
        .filter_map(|t| SealedRecord::from_text(t).ok())
        .find_map(|r| open(&r).ok())
}
