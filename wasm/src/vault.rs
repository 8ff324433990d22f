//! The `Vault` JS class: a thin wrapper over [`promptvault::Vault`].

use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;

use promptvault::{Credential, Draft, Password, Query, RecoveryKey, Vault as CoreVault};

use crate::convert::{
    self, absent, changeset_to_js, from_js, kdf_params, object, prompt_id, record_bytes,
    record_list, record_to_js, report_to_js, seen_revisions, string_list, timestamp, to_js,
    version_id,
};
use crate::error::{IntoJs, js_error};
use crate::types::{
    Changeset, CreatePromptOptions, Created, DamagedPromptList, DiffLine, DraftInput, ImportReport,
    KdfInput, KdfParamsView, MergeReport, NewPromptResult, NewRecoveryKey, NewVersionResult,
    PromptSummary, PublishedVersion, QueryInput, RecordInput, RecordList, SealedRecordView,
    SeenRevisionsView, StringList, TagCountList, Version, VersionEntryList,
};

fn cast<T: JsCast>(value: JsValue) -> T {
    value.unchecked_into()
}

fn make_password(text: &str) -> Result<Password, JsValue> {
    Password::new(text).js()
}

/// An unlocked vault. Holds every key in wasm memory; no key ever reaches JS.
///
/// Every mutation returns a `Changeset` (records to put, storage keys to
/// delete) that the caller persists. `lock()` zeroizes the keys and keeps
/// the object usable as a handle (every later call throws `INVALID_INPUT`);
/// `free()` also releases the JS handle. Objects that are only dropped are
/// freed by a `FinalizationRegistry` (weak refs), but for a long-lived page
/// call `lock()`/`free()` explicitly: the registry runs whenever the engine
/// likes, possibly never.
#[wasm_bindgen]
pub struct Vault {
    inner: Option<CoreVault>,
}

impl core::fmt::Debug for Vault {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // Core's `Debug` prints the id, generation and prompt count: no secret.
        match &self.inner {
            Some(v) => v.fmt(f),
            None => f.write_str("Vault(locked)"),
        }
    }
}

impl Vault {
    /// The core vault, for the other bindings (sync).
    pub(crate) fn core(&self) -> Result<&CoreVault, JsValue> {
        self.get()
    }

    /// The core vault, mutable, for the other bindings (sync).
    pub(crate) fn core_mut(&mut self) -> Result<&mut CoreVault, JsValue> {
        self.get_mut()
    }

    fn get(&self) -> Result<&CoreVault, JsValue> {
        self.inner.as_ref().ok_or_else(locked)
    }

    fn get_mut(&mut self) -> Result<&mut CoreVault, JsValue> {
        self.inner.as_mut().ok_or_else(locked)
    }

    fn wrap(inner: CoreVault) -> Vault {
        Vault { inner: Some(inner) }
    }
}

fn locked() -> JsValue {
    js_error(
        promptvault::ErrorCode::InvalidInput,
        "invalid input: the vault is locked; unlock it again",
    )
}

/// Converts `unlock`'s arguments and opens the vault.
fn open(
    header: &RecordInput,
    records: &RecordList,
    credential: Credential<'_>,
    seen: Option<SeenRevisionsView>,
) -> Result<Vault, JsValue> {
    let header = record_bytes(header)?;
    let records = record_list(records)?;
    let seen = seen_revisions(seen.map_or(JsValue::UNDEFINED, Into::into))?;
    CoreVault::open_with_seen(&header, &records, credential, &seen)
        .js()
        .map(Vault::wrap)
}

fn query(value: JsValue) -> Result<Query, JsValue> {
    if absent(&value) {
        return Ok(Query::default());
    }
    from_js(
        value,
        "query {text?, tags?, tagMode?, favoritesOnly?, archived?}",
    )
}

#[wasm_bindgen]
impl Vault {
    /// Creates a vault. Returns `{vault, recoveryKey, changes}`: show the
    /// recovery key once, persist `changes` (the header).
    ///
    /// # Errors
    ///
    /// `INVALID_INPUT` for an empty password; `KDF_PARAMS_OUT_OF_BOUNDS`;
    /// `RANDOMNESS`.
    pub fn create(password: &str, kdf: Option<KdfInput>) -> Result<Created, JsValue> {
        let params = kdf_params(kdf.map_or(JsValue::UNDEFINED, Into::into))?.unwrap_or_default();
        let created = CoreVault::create(&make_password(password)?, params).js()?;
        let changes = changeset_to_js(&created.changes)?;
        let rk = created.recovery_key.to_display_string();
        let out = object(&[
            ("vault", Vault::wrap(created.vault).into()),
            ("recoveryKey", JsValue::from_str(&rk)),
            ("changes", changes),
        ])?;
        Ok(cast(out))
    }

    /// Unlocks a vault with its password from the header and the records
    /// the caller has (`Uint8Array`s or base64url strings). Pass `seen`
    /// (from `seenRevisions()`) to detect a server rolling data back.
    ///
    /// # Errors
    ///
    /// `AUTHENTICATION` for a wrong password or any tampered record;
    /// `KDF_PARAMS_OUT_OF_BOUNDS`, `MALFORMED`, `UNSUPPORTED_VERSION` for a
    /// hostile header (before any work); `MISSING_RECORD`; `ROLLBACK`.
    pub fn unlock(
        header: RecordInput,
        records: RecordList,
        password: &str,
        seen: Option<SeenRevisionsView>,
    ) -> Result<Vault, JsValue> {
        let pw = make_password(password)?;
        open(&header, &records, Credential::Password(&pw), seen)
    }

    /// Unlocks a vault with the recovery key shown at creation.
    ///
    /// # Errors
    ///
    /// `INVALID_RECOVERY_KEY` for a mistyped key (checked before any
    /// work); otherwise as `unlock`.
    #[wasm_bindgen(js_name = unlockWithRecoveryKey)]
    pub fn unlock_with_recovery_key(
        header: RecordInput,
        records: RecordList,
        key: &str,
        seen: Option<SeenRevisionsView>,
    ) -> Result<Vault, JsValue> {
        let rk = RecoveryKey::parse(key).js()?;
        open(&header, &records, Credential::RecoveryKey(&rk), seen)
    }

    /// Zeroizes every key and the decrypted state. The object stays valid
    /// as a handle; every later call throws `INVALID_INPUT` ("locked").
    pub fn lock(&mut self) {
        self.inner = None;
    }

    /// Whether `lock()` was called.
    #[wasm_bindgen(getter, js_name = isLocked)]
    #[must_use]
    pub fn is_locked(&self) -> bool {
        self.inner.is_none()
    }

    /// The vault id (32 hex digits).
    ///
    /// # Errors
    ///
    /// `INVALID_INPUT` when locked.
    #[wasm_bindgen(getter)]
    pub fn id(&self) -> Result<String, JsValue> {
        Ok(self.get()?.id().to_hex())
    }

    /// The current key generation (1 for a new vault, +1 per rotation).
    ///
    /// # Errors
    ///
    /// `INVALID_INPUT` when locked.
    #[wasm_bindgen(getter, js_name = keyGeneration)]
    pub fn key_generation(&self) -> Result<u32, JsValue> {
        Ok(self.get()?.key_generation())
    }

    /// The KDF parameters of the password slot.
    ///
    /// # Errors
    ///
    /// `INVALID_INPUT` when locked.
    #[wasm_bindgen(getter, js_name = kdfParams)]
    pub fn kdf_params(&self) -> Result<KdfParamsView, JsValue> {
        to_js(&self.get()?.kdf_params()).map(cast)
    }

    /// Number of prompts.
    ///
    /// # Errors
    ///
    /// `INVALID_INPUT` when locked.
    #[wasm_bindgen(getter)]
    pub fn size(&self) -> Result<usize, JsValue> {
        Ok(self.get()?.len())
    }

    /// Whether an interrupted rotation is pending (`finishRotation()` completes it).
    ///
    /// # Errors
    ///
    /// `INVALID_INPUT` when locked.
    #[wasm_bindgen(getter, js_name = rotationPending)]
    pub fn rotation_pending(&self) -> Result<bool, JsValue> {
        Ok(self.get()?.rotation_pending())
    }

    /// The current vault header as a sealed record.
    ///
    /// # Errors
    ///
    /// `INVALID_INPUT` when locked.
    pub fn header(&self) -> Result<SealedRecordView, JsValue> {
        record_to_js(&self.get()?.header_record()).map(cast)
    }

    /// The revisions this vault holds: persist them (they are not secret)
    /// and pass them to `unlock` next time to detect rollback.
    ///
    /// # Errors
    ///
    /// `INVALID_INPUT` when locked.
    #[wasm_bindgen(js_name = seenRevisions)]
    pub fn seen_revisions(&self) -> Result<SeenRevisionsView, JsValue> {
        to_js(&self.get()?.seen_revisions()).map(cast)
    }

    /// Every record of the vault (header excluded), sealed afresh where
    /// needed: what a store should hold.
    ///
    /// # Errors
    ///
    /// `INVALID_INPUT` when locked; `RANDOMNESS`.
    pub fn records(&self) -> Result<Vec<SealedRecordView>, JsValue> {
        self.get()?
            .records()
            .js()?
            .iter()
            .map(|r| record_to_js(r).map(cast))
            .collect()
    }

    /// Creates a prompt with its first version. Returns `{promptId, changes}`.
    ///
    /// # Errors
    ///
    /// `INVALID_INPUT` for an empty title, a bad tag or a malformed draft;
    /// `LIMIT_EXCEEDED` for an oversized field or too many tags.
    #[wasm_bindgen(js_name = createPrompt)]
    pub fn create_prompt(
        &mut self,
        draft: DraftInput,
        options: Option<CreatePromptOptions>,
        now: Option<f64>,
    ) -> Result<NewPromptResult, JsValue> {
        #[derive(serde::Deserialize, Default)]
        #[serde(default, deny_unknown_fields)]
        struct Options {
            tags: Vec<String>,
            favorite: bool,
        }
        let draft: Draft = from_js(draft.into(), "draft {title, body, settings?, note?}")?;
        let opts: Options = match options {
            Some(o) => from_js(o.into(), "options {tags?, favorite?}")?,
            None => Options::default(),
        };
        let now = timestamp(now)?;
        let (id, changes) = self
            .get_mut()?
            .create_prompt(&draft, &opts.tags, opts.favorite, now)
            .js()?;
        object(&[
            ("promptId", JsValue::from_str(&id.to_hex())),
            ("changes", changeset_to_js(&changes)?),
        ])
        .map(cast)
    }

    /// Adds a new version (derived from the current one) and makes it
    /// current. Returns `{versionId, changes}`.
    ///
    /// # Errors
    ///
    /// `NOT_FOUND`; as `createPrompt` for the draft; `LIMIT_EXCEEDED` at
    /// the version limit (prune first).
    #[wasm_bindgen(js_name = addVersion)]
    pub fn add_version(
        &mut self,
        prompt: &str,
        draft: DraftInput,
        now: Option<f64>,
    ) -> Result<NewVersionResult, JsValue> {
        let id = prompt_id(prompt)?;
        let draft: Draft = from_js(draft.into(), "draft {title, body, settings?, note?}")?;
        let now = timestamp(now)?;
        let (vid, changes) = self.get_mut()?.add_version(id, &draft, now).js()?;
        new_version(&vid, &changes)
    }

    /// Restores an older version as a new current version (a copy; history
    /// is append-only). Returns `{versionId, changes}`.
    ///
    /// # Errors
    ///
    /// `NOT_FOUND` for an unknown prompt or version.
    #[wasm_bindgen(js_name = restoreVersion)]
    pub fn restore_version(
        &mut self,
        prompt: &str,
        version: &str,
        now: Option<f64>,
    ) -> Result<NewVersionResult, JsValue> {
        let id = prompt_id(prompt)?;
        let vid = version_id(version)?;
        let now = timestamp(now)?;
        let (new, changes) = self.get_mut()?.restore_version(id, vid, now).js()?;
        new_version(&new, &changes)
    }

    /// Deletes one version (its record is deleted, not hidden).
    ///
    /// # Errors
    ///
    /// `NOT_FOUND`; `INVALID_INPUT` for the only version.
    #[wasm_bindgen(js_name = deleteVersion)]
    pub fn delete_version(
        &mut self,
        prompt: &str,
        version: &str,
        now: Option<f64>,
    ) -> Result<Changeset, JsValue> {
        let id = prompt_id(prompt)?;
        let vid = version_id(version)?;
        let now = timestamp(now)?;
        let c = self.get_mut()?.delete_version(id, vid, now).js()?;
        changeset_to_js(&c).map(cast)
    }

    /// Keeps the newest `keep` versions (and the current one), deleting the rest.
    ///
    /// # Errors
    ///
    /// `NOT_FOUND`; `INVALID_INPUT` for `keep == 0`.
    #[wasm_bindgen(js_name = pruneHistory)]
    pub fn prune_history(
        &mut self,
        prompt: &str,
        keep: u32,
        now: Option<f64>,
    ) -> Result<Changeset, JsValue> {
        let id = prompt_id(prompt)?;
        let now = timestamp(now)?;
        let keep = usize::try_from(keep).unwrap_or(usize::MAX);
        let c = self.get_mut()?.prune_history(id, keep, now).js()?;
        changeset_to_js(&c).map(cast)
    }

    /// Deletes a prompt and every record it has.
    ///
    /// # Errors
    ///
    /// `NOT_FOUND`.
    #[wasm_bindgen(js_name = deletePrompt)]
    pub fn delete_prompt(&mut self, prompt: &str) -> Result<Changeset, JsValue> {
        let id = prompt_id(prompt)?;
        let c = self.get_mut()?.delete_prompt(id).js()?;
        changeset_to_js(&c).map(cast)
    }

    /// One version in full (the current one when `version` is left out).
    ///
    /// # Errors
    ///
    /// `NOT_FOUND`; `AUTHENTICATION` if its record was tampered with.
    pub fn version(&self, prompt: &str, version: Option<String>) -> Result<Version, JsValue> {
        let id = prompt_id(prompt)?;
        let vid = convert::opt_version_id(version)?;
        to_js(&self.get()?.version(id, vid).js()?).map(cast)
    }

    /// The version history, oldest first, read from the version records
    /// (it opens every version of the prompt; `list` opens none).
    ///
    /// # Errors
    ///
    /// `NOT_FOUND`; `AUTHENTICATION` if a version record was tampered with.
    pub fn history(&self, prompt: &str) -> Result<VersionEntryList, JsValue> {
        let id = prompt_id(prompt)?;
        to_js(&self.get()?.history(id).js()?).map(cast)
    }

    /// A line diff of the bodies of two versions (`from` → `to`).
    ///
    /// # Errors
    ///
    /// `NOT_FOUND`.
    pub fn diff(&self, prompt: &str, from: &str, to: &str) -> Result<Vec<DiffLine>, JsValue> {
        let id = prompt_id(prompt)?;
        let (a, b) = (version_id(from)?, version_id(to)?);
        let lines = self.get()?.diff(id, a, b).js()?;
        lines.iter().map(|l| to_js(l).map(cast)).collect()
    }

    /// One prompt's summary (metadata only).
    ///
    /// # Errors
    ///
    /// `NOT_FOUND`.
    pub fn summary(&self, prompt: &str) -> Result<PromptSummary, JsValue> {
        let id = prompt_id(prompt)?;
        to_js(&self.get()?.summary(id).js()?).map(cast)
    }

    /// Prompts matching `query` (default: every non-archived prompt), most
    /// recently updated first. Filters read metadata only; `text` decrypts
    /// the current version of the remaining candidates.
    ///
    /// # Errors
    ///
    /// `INVALID_INPUT` for a malformed query; `AUTHENTICATION` for a
    /// tampered version.
    pub fn list(&self, query: Option<QueryInput>) -> Result<Vec<PromptSummary>, JsValue> {
        let q = self::query(query.map_or(JsValue::UNDEFINED, Into::into))?;
        let found = self.get()?.list(&q).js()?;
        found.iter().map(|s| to_js(s).map(cast)).collect()
    }

    /// Every prompt id, in id order.
    ///
    /// # Errors
    ///
    /// `INVALID_INPUT` when locked.
    #[wasm_bindgen(js_name = promptIds)]
    pub fn prompt_ids(&self) -> Result<Vec<String>, JsValue> {
        Ok(self
            .get()?
            .prompt_ids()
            .iter()
            .map(promptvault::PromptId::to_hex)
            .collect())
    }

    /// Prompts whose metadata breaks a model rule, in id order:
    /// `[{promptId, code, message, versionCount}]`, `code` being the
    /// `ErrorCode` of the rule they break. They are left out of every other
    /// view; `export` them (as far as readable) or `deletePrompt` them.
    ///
    /// # Errors
    ///
    /// `INVALID_INPUT` when locked.
    #[wasm_bindgen(js_name = damagedPrompts)]
    pub fn damaged_prompts(&self) -> Result<DamagedPromptList, JsValue> {
        to_js(&self.get()?.damaged_prompts()).map(cast)
    }

    /// Every tag with the number of prompts carrying it.
    ///
    /// # Errors
    ///
    /// `INVALID_INPUT` when locked.
    pub fn tags(&self) -> Result<TagCountList, JsValue> {
        to_js(&self.get()?.tags()).map(cast)
    }

    /// Adds tags to a prompt (Unicode-normalised, matched case-insensitively).
    ///
    /// # Errors
    ///
    /// `NOT_FOUND`; `INVALID_INPUT` for a bad tag; `LIMIT_EXCEEDED`.
    #[wasm_bindgen(js_name = addTags)]
    pub fn add_tags(
        &mut self,
        prompt: &str,
        tags: StringList,
        now: Option<f64>,
    ) -> Result<Changeset, JsValue> {
        let id = prompt_id(prompt)?;
        let tags = string_list(tags.into(), "tags (string[])")?;
        let now = timestamp(now)?;
        let c = self.get_mut()?.add_tags(id, &tags, now).js()?;
        changeset_to_js(&c).map(cast)
    }

    /// Removes tags from a prompt (matched case-insensitively).
    ///
    /// # Errors
    ///
    /// `NOT_FOUND`.
    #[wasm_bindgen(js_name = removeTags)]
    pub fn remove_tags(
        &mut self,
        prompt: &str,
        tags: StringList,
        now: Option<f64>,
    ) -> Result<Changeset, JsValue> {
        let id = prompt_id(prompt)?;
        let tags = string_list(tags.into(), "tags (string[])")?;
        let now = timestamp(now)?;
        let c = self.get_mut()?.remove_tags(id, &tags, now).js()?;
        changeset_to_js(&c).map(cast)
    }

    /// Renames a tag across the vault (merging with `to` where both exist).
    ///
    /// # Errors
    ///
    /// `NOT_FOUND` if no prompt has `from`; `INVALID_INPUT` for a bad tag.
    #[wasm_bindgen(js_name = renameTag)]
    pub fn rename_tag(
        &mut self,
        from: &str,
        to: &str,
        now: Option<f64>,
    ) -> Result<Changeset, JsValue> {
        let now = timestamp(now)?;
        let c = self.get_mut()?.rename_tag(from, to, now).js()?;
        changeset_to_js(&c).map(cast)
    }

    /// Sets or clears the favorite flag (encrypted metadata).
    ///
    /// # Errors
    ///
    /// `NOT_FOUND`.
    #[wasm_bindgen(js_name = setFavorite)]
    pub fn set_favorite(
        &mut self,
        prompt: &str,
        favorite: bool,
        now: Option<f64>,
    ) -> Result<Changeset, JsValue> {
        let id = prompt_id(prompt)?;
        let now = timestamp(now)?;
        let c = self.get_mut()?.set_favorite(id, favorite, now).js()?;
        changeset_to_js(&c).map(cast)
    }

    /// Sets or clears the archived flag (encrypted metadata).
    ///
    /// # Errors
    ///
    /// `NOT_FOUND`.
    #[wasm_bindgen(js_name = setArchived)]
    pub fn set_archived(
        &mut self,
        prompt: &str,
        archived: bool,
        now: Option<f64>,
    ) -> Result<Changeset, JsValue> {
        let id = prompt_id(prompt)?;
        let now = timestamp(now)?;
        let c = self.get_mut()?.set_archived(id, archived, now).js()?;
        changeset_to_js(&c).map(cast)
    }

    /// Exports every prompt with full history into one file encrypted
    /// under `password` (its own, not the vault's).
    ///
    /// # Errors
    ///
    /// `INVALID_INPUT` for an empty password; `KDF_PARAMS_OUT_OF_BOUNDS`;
    /// `AUTHENTICATION` if a stored version fails to open.
    pub fn export(&self, password: &str, kdf: Option<KdfInput>) -> Result<Vec<u8>, JsValue> {
        let params = kdf_params(kdf.map_or(JsValue::UNDEFINED, Into::into))?.unwrap_or_default();
        self.get()?.export(&make_password(password)?, params).js()
    }

    /// Imports an export file (`Uint8Array` or base64url). Idempotent.
    /// Returns `{promptsAdded, versionsAdded, refused, changes}`; `refused`
    /// lists the prompts left out because they break a model rule
    /// (`[{promptId, code, message}]`), the rest of the file is imported.
    ///
    /// # Errors
    ///
    /// `AUTHENTICATION` for a wrong password or a modified file;
    /// `MALFORMED`; `KDF_PARAMS_OUT_OF_BOUNDS`. On error the vault is unchanged.
    pub fn import(
        &mut self,
        file: RecordInput,
        password: &str,
        now: Option<f64>,
    ) -> Result<ImportReport, JsValue> {
        let file = record_bytes(&file)?;
        let pw = make_password(password)?;
        let now = timestamp(now)?;
        let r = self.get_mut()?.import(&file, &pw, now).js()?;
        report_to_js(&r, &r.changes).map(cast)
    }

    /// One version as plaintext for sharing in public (`{title, body, settings}`).
    ///
    /// # Errors
    ///
    /// As `version`.
    pub fn publish(
        &self,
        prompt: &str,
        version: Option<String>,
    ) -> Result<PublishedVersion, JsValue> {
        let id = prompt_id(prompt)?;
        let vid = convert::opt_version_id(version)?;
        to_js(&self.get()?.publish(id, vid).js()?).map(cast)
    }

    /// Changes the password (rewraps the vault key; no content re-encrypted).
    ///
    /// # Errors
    ///
    /// `INVALID_INPUT` for an empty password; `KDF_PARAMS_OUT_OF_BOUNDS`.
    #[wasm_bindgen(js_name = changePassword)]
    pub fn change_password(
        &mut self,
        password: &str,
        kdf: Option<KdfInput>,
    ) -> Result<Changeset, JsValue> {
        let params = kdf_params(kdf.map_or(JsValue::UNDEFINED, Into::into))?;
        let pw = make_password(password)?;
        let c = self.get_mut()?.change_password(&pw, params).js()?;
        changeset_to_js(&c).map(cast)
    }

    /// Replaces the recovery key. Returns `{recoveryKey, changes}`; the old
    /// key stops working once the new header is stored.
    ///
    /// # Errors
    ///
    /// `RANDOMNESS`.
    #[wasm_bindgen(js_name = replaceRecoveryKey)]
    pub fn replace_recovery_key(&mut self) -> Result<NewRecoveryKey, JsValue> {
        let (rk, c) = self.get_mut()?.replace_recovery_key().js()?;
        new_recovery_key(&rk, &c)
    }

    /// Rotates to a new vault-key generation (every record re-encrypted,
    /// new recovery key). Returns `{recoveryKey, changes}`: apply the
    /// changeset whole.
    ///
    /// # Errors
    ///
    /// `AUTHENTICATION` if `password` is not the vault password;
    /// `INVALID_INPUT` while an earlier rotation is unfinished.
    pub fn rotate(&mut self, password: &str) -> Result<NewRecoveryKey, JsValue> {
        let pw = make_password(password)?;
        let (rk, c) = self.get_mut()?.rotate(&pw).js()?;
        new_recovery_key(&rk, &c)
    }

    /// Completes an interrupted rotation (empty changeset when none is pending).
    ///
    /// # Errors
    ///
    /// `AUTHENTICATION` if a stale record fails to open.
    #[wasm_bindgen(js_name = finishRotation)]
    pub fn finish_rotation(&mut self) -> Result<Changeset, JsValue> {
        let c = self.get_mut()?.finish_rotation().js()?;
        changeset_to_js(&c).map(cast)
    }

    /// Checks `password` against the vault (runs the KDF).
    ///
    /// # Errors
    ///
    /// `AUTHENTICATION` if it is not the vault password.
    #[wasm_bindgen(js_name = verifyPassword)]
    pub fn verify_password(&self, password: &str) -> Result<(), JsValue> {
        self.get()?.verify_password(&make_password(password)?).js()
    }

    /// Opens every stored version, proving the whole vault authentic.
    ///
    /// # Errors
    ///
    /// `AUTHENTICATION` if any version fails.
    pub fn verify(&self) -> Result<(), JsValue> {
        self.get()?.verify().js()
    }

    /// Merges records from another device or a server. Returns
    /// `{promptsAdded, versionsAdded, metadataUpdated, conflictsResolved,
    /// damaged, changes}`; `damaged` lists the prompts that arrived breaking
    /// a model rule, kept as damaged (the shape of `damagedPrompts()`).
    ///
    /// # Errors
    ///
    /// As `unlock`; on any error the vault is unchanged.
    pub fn merge(&mut self, records: RecordList) -> Result<MergeReport, JsValue> {
        let records = record_list(&records)?;
        let r = self.get_mut()?.merge(&records).js()?;
        report_to_js(&r, &r.changes).map(cast)
    }
}

fn new_version(
    vid: &promptvault::VersionId,
    changes: &promptvault::Changeset,
) -> Result<NewVersionResult, JsValue> {
    object(&[
        ("versionId", JsValue::from_str(&vid.to_hex())),
        ("changes", changeset_to_js(changes)?),
    ])
    .map(cast)
}

fn new_recovery_key(
    rk: &RecoveryKey,
    changes: &promptvault::Changeset,
) -> Result<NewRecoveryKey, JsValue> {
    object(&[
        ("recoveryKey", JsValue::from_str(&rk.to_display_string())),
        ("changes", changeset_to_js(changes)?),
    ])
    .map(cast)
}
