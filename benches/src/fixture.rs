//! Vault fixtures built from the corpus through the public API, and the
//! same prompts as a plaintext JSON document (the anchor for "what does
//! encryption cost when opening").
//!
//! Setup uses the minimum KDF parameters (m = 19 MiB, t = 1, p = 1) so
//! building a 100k-prompt fixture stays fast; the KDF is measured on its
//! own at the defaults.

use promptvault::{
    Credential, KdfParams, MemoryStore, Password, PromptId, Timestamp, Vault, VersionId,
};
use serde::{Deserialize, Serialize};

use crate::BoxResult;
use crate::corpus::PromptSpec;

/// The password of every fixture vault.
pub const PASSWORD: &str = "correct horse battery staple";

/// The minimum KDF parameters (m = 19 MiB, t = 1, p = 1), for setup.
///
/// # Errors
///
/// Never for these constants; typed for the `?` at call sites.
pub fn fast_params() -> BoxResult<KdfParams> {
    Ok(KdfParams::new(KdfParams::MIN_M_COST_KIB, 1, 1)?)
}

/// The fixture password.
///
/// # Errors
///
/// Never for the constant.
pub fn password() -> BoxResult<Password> {
    Ok(Password::new(PASSWORD)?)
}

/// A vault built from a corpus, with its stored form.
pub struct Fixture {
    /// The unlocked vault that wrote everything.
    pub vault: Vault,
    /// Every record it wrote, applied in order.
    pub store: MemoryStore,
    /// The stored vault header.
    pub header: Vec<u8>,
    /// Every stored record (header excluded), in storage-key order.
    pub records: Vec<Vec<u8>>,
    /// The prompt ids, in corpus order.
    pub ids: Vec<PromptId>,
    /// The same prompts as plaintext JSON (see [`PlainVault`]).
    pub plaintext: Vec<u8>,
}

impl core::fmt::Debug for Fixture {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Fixture")
            .field("prompts", &self.ids.len())
            .field("records", &self.records.len())
            .field("plaintext_len", &self.plaintext.len())
            .finish_non_exhaustive()
    }
}

impl Fixture {
    /// Total bytes of the stored form (header and records).
    #[must_use]
    pub fn stored_len(&self) -> usize {
        self.header.len() + self.records.iter().map(Vec::len).sum::<usize>()
    }

    /// A vault with the fixture's id and keys but no prompt: the fixture's
    /// header unlocked with no records (runs the KDF once, at the minimum
    /// parameters). Merging the fixture's records into it is an open with
    /// the KDF excluded.
    ///
    /// # Errors
    ///
    /// As [`Vault::open`].
    pub fn empty_twin(&self) -> BoxResult<Vault> {
        let pw = password()?;
        let none: [&[u8]; 0] = [];
        Ok(Vault::open(&self.header, none, Credential::Password(&pw))?)
    }
}

/// The plaintext anchor: what an unencrypted app would keep for the same
/// prompts (every version in full, tags and flags), as one JSON document.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlainVault {
    /// Every prompt.
    pub prompts: Vec<PlainPrompt>,
}

/// One plaintext prompt.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlainPrompt {
    /// Its id.
    pub id: PromptId,
    /// Tags.
    pub tags: Vec<String>,
    /// Favorite flag.
    pub favorite: bool,
    /// Archived flag.
    pub archived: bool,
    /// Creation time.
    pub created: Timestamp,
    /// Last change.
    pub updated: Timestamp,
    /// The current version.
    pub current: VersionId,
    /// Every version, oldest first.
    pub versions: Vec<PlainVersion>,
}

/// One plaintext version.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlainVersion {
    /// Its id.
    pub id: VersionId,
    /// The version it derives from.
    pub parent: Option<VersionId>,
    /// Title.
    pub title: String,
    /// Body.
    pub body: String,
    /// Generation settings.
    pub settings: Option<serde_json::Value>,
    /// Note.
    pub note: String,
    /// When it was written.
    pub created: Timestamp,
}

/// Builds a vault holding `specs` through the public API (create, then add
/// each later version), and the same prompts as plaintext JSON.
///
/// # Errors
///
/// Any error of the vault API (none is expected for the corpus).
pub fn build(specs: &[PromptSpec]) -> BoxResult<Fixture> {
    let created = Vault::create(&password()?, fast_params()?)?;
    let mut store = MemoryStore::new();
    store.apply(&created.changes);
    let mut vault = created.vault;
    let mut ids = Vec::with_capacity(specs.len());
    let mut plain = PlainVault {
        prompts: Vec::with_capacity(specs.len()),
    };
    for spec in specs {
        let mut versions = spec.versions.iter();
        let Some((first, t0)) = versions.next() else {
            continue;
        };
        let (id, changes) = vault.create_prompt(first, &spec.tags, spec.favorite, *t0)?;
        store.apply(&changes);
        let mut pv = Vec::with_capacity(spec.versions.len());
        let mut parent = None;
        let mut current = vault.summary(id)?.current_version;
        pv.push(plain_version(current, parent, first, *t0));
        let mut updated = *t0;
        for (draft, t) in versions {
            let (vid, changes) = vault.add_version(id, draft, *t)?;
            store.apply(&changes);
            parent = Some(current);
            current = vid;
            updated = *t;
            pv.push(plain_version(vid, parent, draft, *t));
        }
        ids.push(id);
        plain.prompts.push(PlainPrompt {
            id,
            tags: spec.tags.clone(),
            favorite: spec.favorite,
            archived: false,
            created: *t0,
            updated,
            current,
            versions: pv,
        });
    }
    let header = store
        .header()
        .ok_or("the fixture store has no header")?
        .to_vec();
    let records = store.records().map(|r| r.as_bytes().to_vec()).collect();
    let plaintext = serde_json::to_vec(&plain)?;
    Ok(Fixture {
        vault,
        store,
        header,
        records,
        ids,
        plaintext,
    })
}

fn plain_version(
    id: VersionId,
    parent: Option<VersionId>,
    d: &promptvault::Draft,
    t: Timestamp,
) -> PlainVersion {
    PlainVersion {
        id,
        parent,
        title: d.title.clone(),
        body: d.body.clone(),
        settings: d.settings.clone(),
        note: d.note.clone(),
        created: t,
    }
}

/// Builds the standard fixture: `n` prompts with 3 versions each.
///
/// # Errors
///
/// As [`build`].
pub fn standard(n: usize) -> BoxResult<Fixture> {
    build(&crate::corpus::prompts(n, 3, 0xC0FFEE ^ n as u64))
}
