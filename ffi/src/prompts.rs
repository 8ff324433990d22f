//! Prompts, versions, tags, flags, search, diff and publish. Ids are text
//! (32 lowercase hex digits); structured inputs and results are JSON with
//! the core's camelCase field names.

use std::ffi::c_char;

use promptvault::{Draft, Query, Timestamp};

use crate::convert::{from_json, give, id_chars, optional_version, prompt_id, to_json, version_id};
use crate::handles::entry;
use crate::vault::pv_vault;
use crate::{
    Fail, OutBuf, PV_ID_BUF_LEN, arg_mut, arg_out_buf, arg_ref, arg_str, ffi_guard, pv_changeset,
    pv_result,
};

fn write_id(buf: &OutBuf, hex: &str) -> Result<(), Fail> {
    buf.write_text(hex, &mut 0)
}

/// Creates a prompt with its first version.
///
/// `draft_json` is `{"title": "...", "body": "...", "settings": {...} or
/// null, "note": "..."}` (only `title` is required); `tags_json` is an
/// array of strings. Outputs the new prompt id and the changeset.
///
/// # Errors
///
/// `PV_RESULT_INVALID_INPUT` for an empty title or a bad tag;
/// `PV_RESULT_LIMIT_EXCEEDED` for an oversized field or too many tags;
/// `PV_RESULT_ENCODING` for JSON that does not parse;
/// `PV_RESULT_BUFFER_TOO_SMALL` when `out_id_len` is below
/// [`PV_ID_BUF_LEN`] (checked first); `PV_RESULT_INVALID_UTF8`;
/// `PV_RESULT_NULL_PARAMETER`.
///
/// # Safety
///
/// `vault` must be a live `pv_vault` used by no other thread during the
/// call; `draft_json` and `tags_json` NUL-terminated; `out_id` must point to
/// `out_id_len` writable bytes; `out_changes` to a writable `pv_changeset *`.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pv_vault_create_prompt(
    vault: *mut pv_vault,
    draft_json: *const c_char,
    tags_json: *const c_char,
    favorite: bool,
    now_ms: u64,
    out_id: *mut c_char,
    out_id_len: usize,
    out_changes: *mut *mut pv_changeset,
) -> pv_result {
    ffi_guard!({
        let vault = arg_mut!(vault);
        let draft_json = arg_str!(draft_json);
        let tags_json = arg_str!(tags_json);
        let id_buf = arg_out_buf!(out_id, out_id_len);
        let out_changes = arg_mut!(out_changes);
        id_buf.require(PV_ID_BUF_LEN, "out_id")?;
        let (draft, tags) = (
            from_json::<Draft>(draft_json, "draft JSON")?,
            from_json::<Vec<String>>(tags_json, "tags JSON (an array of strings)")?,
        );
        let (id, changes) =
            vault
                .inner
                .create_prompt(&draft, &tags, favorite, Timestamp(now_ms))?;
        write_id(&id_buf, &id.to_hex())?;
        give(out_changes, changes);
        Ok(())
    })
}

/// Adds a new version (derived from the current one) and makes it current.
///
/// # Errors
///
/// `PV_RESULT_NOT_FOUND` for an unknown prompt; `PV_RESULT_ENCODING` for a
/// bad id or JSON; as [`pv_vault_create_prompt`] for the draft;
/// `PV_RESULT_LIMIT_EXCEEDED` at the version limit (prune first).
///
/// # Safety
///
/// `vault` must be a live `pv_vault` used by no other thread during the
/// call; `prompt_id` and `draft_json` NUL-terminated; `out_version_id` must
/// point to `out_version_id_len` writable bytes; `out_changes` to a
/// writable `pv_changeset *`.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pv_vault_add_version(
    vault: *mut pv_vault,
    prompt_id: *const c_char,
    draft_json: *const c_char,
    now_ms: u64,
    out_version_id: *mut c_char,
    out_version_id_len: usize,
    out_changes: *mut *mut pv_changeset,
) -> pv_result {
    ffi_guard!({
        let vault = arg_mut!(vault);
        let prompt_id = arg_str!(prompt_id);
        let draft_json = arg_str!(draft_json);
        let id_buf = arg_out_buf!(out_version_id, out_version_id_len);
        let out_changes = arg_mut!(out_changes);
        id_buf.require(PV_ID_BUF_LEN, "out_version_id")?;
        let (id, draft) = (
            self::prompt_id(prompt_id)?,
            from_json::<Draft>(draft_json, "draft JSON")?,
        );
        let (vid, changes) = vault.inner.add_version(id, &draft, Timestamp(now_ms))?;
        write_id(&id_buf, &vid.to_hex())?;
        give(out_changes, changes);
        Ok(())
    })
}

/// Restores an older version by adding a copy of it as the new current
/// version (history is append-only).
///
/// # Errors
///
/// `PV_RESULT_NOT_FOUND` for an unknown prompt or version;
/// `PV_RESULT_ENCODING` for a bad id; `PV_RESULT_BUFFER_TOO_SMALL`;
/// `PV_RESULT_NULL_PARAMETER`.
///
/// # Safety
///
/// `vault` must be a live `pv_vault` used by no other thread during the
/// call; `prompt_id` and `version_id` NUL-terminated; `out_version_id` must
/// point to `out_version_id_len` writable bytes; `out_changes` to a writable
/// `pv_changeset *`.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pv_vault_restore_version(
    vault: *mut pv_vault,
    prompt_id: *const c_char,
    version_id: *const c_char,
    now_ms: u64,
    out_version_id: *mut c_char,
    out_version_id_len: usize,
    out_changes: *mut *mut pv_changeset,
) -> pv_result {
    ffi_guard!({
        let vault = arg_mut!(vault);
        let prompt_id = arg_str!(prompt_id);
        let version_id = arg_str!(version_id);
        let id_buf = arg_out_buf!(out_version_id, out_version_id_len);
        let out_changes = arg_mut!(out_changes);
        id_buf.require(PV_ID_BUF_LEN, "out_version_id")?;
        let (id, vid) = (self::prompt_id(prompt_id)?, self::version_id(version_id)?);
        let (new_vid, changes) = vault.inner.restore_version(id, vid, Timestamp(now_ms))?;
        write_id(&id_buf, &new_vid.to_hex())?;
        give(out_changes, changes);
        Ok(())
    })
}

/// Writes one version in full as JSON (`{"id", "parent", "created", "title",
/// "body", "settings", "note"}`); `version_id` `""` means the current one.
/// Decrypts that version.
///
/// # Errors
///
/// `PV_RESULT_NOT_FOUND`; `PV_RESULT_AUTHENTICATION` if its record was
/// tampered with; `PV_RESULT_ENCODING` for a bad id;
/// `PV_RESULT_BUFFER_TOO_SMALL`; `PV_RESULT_NULL_PARAMETER`.
///
/// # Safety
///
/// `vault` must be a live `pv_vault`; `prompt_id`, `version_id`
/// NUL-terminated; `buf` must point to `buf_len` writable bytes; `out_len`
/// to a writable `size_t`.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pv_vault_version(
    vault: *const pv_vault,
    prompt_id: *const c_char,
    version_id: *const c_char,
    buf: *mut c_char,
    buf_len: usize,
    out_len: *mut usize,
) -> pv_result {
    ffi_guard!({
        let vault = arg_ref!(vault);
        let prompt_id = arg_str!(prompt_id);
        let version_id = arg_str!(version_id);
        let buf = arg_out_buf!(buf, buf_len);
        let out_len = arg_mut!(out_len);
        let v = vault
            .inner
            .version(self::prompt_id(prompt_id)?, optional_version(version_id)?)?;
        buf.write_text(&to_json(&v)?, out_len)
    })
}

/// Writes the version history, oldest first, as a JSON array of `{"id",
/// "parent", "created", "title"}`, read from the version records (it opens
/// every version of the prompt; `pv_vault_list` opens none).
///
/// # Errors
///
/// `PV_RESULT_NOT_FOUND`; `PV_RESULT_ENCODING` for a bad id;
/// `PV_RESULT_AUTHENTICATION` if a version record was tampered with;
/// `PV_RESULT_BUFFER_TOO_SMALL`; `PV_RESULT_NULL_PARAMETER`.
///
/// # Safety
///
/// `vault` must be a live `pv_vault`; `prompt_id` NUL-terminated; `buf`
/// must point to `buf_len` writable bytes; `out_len` to a writable `size_t`.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pv_vault_history(
    vault: *const pv_vault,
    prompt_id: *const c_char,
    buf: *mut c_char,
    buf_len: usize,
    out_len: *mut usize,
) -> pv_result {
    ffi_guard!({
        let vault = arg_ref!(vault);
        let prompt_id = arg_str!(prompt_id);
        let buf = arg_out_buf!(buf, buf_len);
        let out_len = arg_mut!(out_len);
        let h = vault.inner.history(self::prompt_id(prompt_id)?)?;
        buf.write_text(&to_json(&h)?, out_len)
    })
}

/// Writes a line diff of the bodies of two versions (`from` → `to`) as a
/// JSON array of `{"op": "equal" | "insert" | "delete", "text"}`.
///
/// # Errors
///
/// `PV_RESULT_NOT_FOUND`; `PV_RESULT_ENCODING` for a bad id;
/// `PV_RESULT_BUFFER_TOO_SMALL`; `PV_RESULT_NULL_PARAMETER`.
///
/// # Safety
///
/// `vault` must be a live `pv_vault`; the ids NUL-terminated; `buf` must
/// point to `buf_len` writable bytes; `out_len` to a writable `size_t`.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pv_vault_diff(
    vault: *const pv_vault,
    prompt_id: *const c_char,
    from_version_id: *const c_char,
    to_version_id: *const c_char,
    buf: *mut c_char,
    buf_len: usize,
    out_len: *mut usize,
) -> pv_result {
    ffi_guard!({
        let vault = arg_ref!(vault);
        let prompt_id = arg_str!(prompt_id);
        let from_version_id = arg_str!(from_version_id);
        let to_version_id = arg_str!(to_version_id);
        let buf = arg_out_buf!(buf, buf_len);
        let out_len = arg_mut!(out_len);
        let d = vault.inner.diff(
            self::prompt_id(prompt_id)?,
            version_id(from_version_id)?,
            version_id(to_version_id)?,
        )?;
        buf.write_text(&to_json(&d)?, out_len)
    })
}

/// Keeps the newest `keep` versions (and always the current one) and
/// deletes the rest; their records are in the changeset's deletes.
///
/// # Errors
///
/// `PV_RESULT_NOT_FOUND`; `PV_RESULT_INVALID_INPUT` for `keep == 0`;
/// `PV_RESULT_ENCODING` for a bad id; `PV_RESULT_NULL_PARAMETER`.
///
/// # Safety
///
/// `vault` must be a live `pv_vault` used by no other thread during the
/// call; `prompt_id` NUL-terminated; `out_changes` must point to a writable
/// `pv_changeset *`.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pv_vault_prune_history(
    vault: *mut pv_vault,
    prompt_id: *const c_char,
    keep: usize,
    now_ms: u64,
    out_changes: *mut *mut pv_changeset,
) -> pv_result {
    ffi_guard!({
        let vault = arg_mut!(vault);
        let prompt_id = arg_str!(prompt_id);
        let out_changes = arg_mut!(out_changes);
        let changes =
            vault
                .inner
                .prune_history(self::prompt_id(prompt_id)?, keep, Timestamp(now_ms))?;
        give(out_changes, changes);
        Ok(())
    })
}

/// Deletes one version (its record is deleted and its id tombstoned). The
/// only version of a prompt cannot be deleted: delete the prompt.
///
/// # Errors
///
/// `PV_RESULT_NOT_FOUND`; `PV_RESULT_INVALID_INPUT` for the only version;
/// `PV_RESULT_ENCODING` for a bad id; `PV_RESULT_NULL_PARAMETER`.
///
/// # Safety
///
/// `vault` must be a live `pv_vault` used by no other thread during the
/// call; the ids NUL-terminated; `out_changes` must point to a writable
/// `pv_changeset *`.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pv_vault_delete_version(
    vault: *mut pv_vault,
    prompt_id: *const c_char,
    version_id: *const c_char,
    now_ms: u64,
    out_changes: *mut *mut pv_changeset,
) -> pv_result {
    ffi_guard!({
        let vault = arg_mut!(vault);
        let prompt_id = arg_str!(prompt_id);
        let version_id = arg_str!(version_id);
        let out_changes = arg_mut!(out_changes);
        let changes = vault.inner.delete_version(
            self::prompt_id(prompt_id)?,
            self::version_id(version_id)?,
            Timestamp(now_ms),
        )?;
        give(out_changes, changes);
        Ok(())
    })
}

/// Deletes a prompt: every record it has is in the changeset's deletes.
///
/// # Errors
///
/// `PV_RESULT_NOT_FOUND`; `PV_RESULT_ENCODING` for a bad id;
/// `PV_RESULT_NULL_PARAMETER`.
///
/// # Safety
///
/// `vault` must be a live `pv_vault` used by no other thread during the
/// call; `prompt_id` NUL-terminated; `out_changes` must point to a writable
/// `pv_changeset *`.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pv_vault_delete_prompt(
    vault: *mut pv_vault,
    prompt_id: *const c_char,
    out_changes: *mut *mut pv_changeset,
) -> pv_result {
    ffi_guard!({
        let vault = arg_mut!(vault);
        let prompt_id = arg_str!(prompt_id);
        let out_changes = arg_mut!(out_changes);
        let changes = vault.inner.delete_prompt(self::prompt_id(prompt_id)?)?;
        give(out_changes, changes);
        Ok(())
    })
}

/// Adds tags (`tags_json`: an array of strings; Unicode-normalised, a tag
/// already present under another case keeps its first spelling).
///
/// # Errors
///
/// `PV_RESULT_NOT_FOUND`; `PV_RESULT_INVALID_INPUT` for a bad tag;
/// `PV_RESULT_LIMIT_EXCEEDED` for too many tags; `PV_RESULT_ENCODING`;
/// `PV_RESULT_NULL_PARAMETER`.
///
/// # Safety
///
/// `vault` must be a live `pv_vault` used by no other thread during the
/// call; `prompt_id`, `tags_json` NUL-terminated; `out_changes` must point
/// to a writable `pv_changeset *`.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pv_vault_add_tags(
    vault: *mut pv_vault,
    prompt_id: *const c_char,
    tags_json: *const c_char,
    now_ms: u64,
    out_changes: *mut *mut pv_changeset,
) -> pv_result {
    ffi_guard!({
        let vault = arg_mut!(vault);
        let prompt_id = arg_str!(prompt_id);
        let tags_json = arg_str!(tags_json);
        let out_changes = arg_mut!(out_changes);
        let (id, tags) = (
            self::prompt_id(prompt_id)?,
            from_json::<Vec<String>>(tags_json, "tags JSON (an array of strings)")?,
        );
        give(
            out_changes,
            vault.inner.add_tags(id, &tags, Timestamp(now_ms))?,
        );
        Ok(())
    })
}

/// Removes tags (`tags_json`: an array of strings, matched
/// case-insensitively).
///
/// # Errors
///
/// `PV_RESULT_NOT_FOUND`; `PV_RESULT_ENCODING`; `PV_RESULT_NULL_PARAMETER`.
///
/// # Safety
///
/// As [`pv_vault_add_tags`].
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pv_vault_remove_tags(
    vault: *mut pv_vault,
    prompt_id: *const c_char,
    tags_json: *const c_char,
    now_ms: u64,
    out_changes: *mut *mut pv_changeset,
) -> pv_result {
    ffi_guard!({
        let vault = arg_mut!(vault);
        let prompt_id = arg_str!(prompt_id);
        let tags_json = arg_str!(tags_json);
        let out_changes = arg_mut!(out_changes);
        let (id, tags) = (
            self::prompt_id(prompt_id)?,
            from_json::<Vec<String>>(tags_json, "tags JSON (an array of strings)")?,
        );
        give(
            out_changes,
            vault.inner.remove_tags(id, &tags, Timestamp(now_ms))?,
        );
        Ok(())
    })
}

/// Renames a tag across the whole vault (merging with `to` where a prompt
/// already has it).
///
/// # Errors
///
/// `PV_RESULT_NOT_FOUND` if no prompt has `from`; `PV_RESULT_INVALID_INPUT`
/// for a bad new tag; `PV_RESULT_INVALID_UTF8`; `PV_RESULT_NULL_PARAMETER`.
///
/// # Safety
///
/// `vault` must be a live `pv_vault` used by no other thread during the
/// call; `from`, `to` NUL-terminated; `out_changes` must point to a
/// writable `pv_changeset *`.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pv_vault_rename_tag(
    vault: *mut pv_vault,
    from: *const c_char,
    to: *const c_char,
    now_ms: u64,
    out_changes: *mut *mut pv_changeset,
) -> pv_result {
    ffi_guard!({
        let vault = arg_mut!(vault);
        let from = arg_str!(from);
        let to = arg_str!(to);
        let out_changes = arg_mut!(out_changes);
        give(
            out_changes,
            vault.inner.rename_tag(from, to, Timestamp(now_ms))?,
        );
        Ok(())
    })
}

/// Writes every tag with the number of prompts carrying it, as a JSON array
/// of `{"tag", "count"}` (by count, then name).
///
/// # Errors
///
/// `PV_RESULT_BUFFER_TOO_SMALL`; `PV_RESULT_NULL_PARAMETER`.
///
/// # Safety
///
/// `vault` must be a live `pv_vault`; `buf` must point to `buf_len` writable
/// bytes; `out_len` to a writable `size_t`.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pv_vault_tags(
    vault: *const pv_vault,
    buf: *mut c_char,
    buf_len: usize,
    out_len: *mut usize,
) -> pv_result {
    ffi_guard!({
        let vault = arg_ref!(vault);
        let buf = arg_out_buf!(buf, buf_len);
        let out_len = arg_mut!(out_len);
        buf.write_text(&to_json(&vault.inner.tags())?, out_len)
    })
}

/// Sets or clears the favorite flag (encrypted metadata).
///
/// # Errors
///
/// `PV_RESULT_NOT_FOUND`; `PV_RESULT_ENCODING` for a bad id;
/// `PV_RESULT_NULL_PARAMETER`.
///
/// # Safety
///
/// `vault` must be a live `pv_vault` used by no other thread during the
/// call; `prompt_id` NUL-terminated; `out_changes` must point to a writable
/// `pv_changeset *`.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pv_vault_set_favorite(
    vault: *mut pv_vault,
    prompt_id: *const c_char,
    favorite: bool,
    now_ms: u64,
    out_changes: *mut *mut pv_changeset,
) -> pv_result {
    ffi_guard!({
        let vault = arg_mut!(vault);
        let prompt_id = arg_str!(prompt_id);
        let out_changes = arg_mut!(out_changes);
        let id = self::prompt_id(prompt_id)?;
        give(
            out_changes,
            vault.inner.set_favorite(id, favorite, Timestamp(now_ms))?,
        );
        Ok(())
    })
}

/// Sets or clears the archived flag (encrypted metadata).
///
/// # Errors
///
/// As [`pv_vault_set_favorite`].
///
/// # Safety
///
/// As [`pv_vault_set_favorite`].
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pv_vault_set_archived(
    vault: *mut pv_vault,
    prompt_id: *const c_char,
    archived: bool,
    now_ms: u64,
    out_changes: *mut *mut pv_changeset,
) -> pv_result {
    ffi_guard!({
        let vault = arg_mut!(vault);
        let prompt_id = arg_str!(prompt_id);
        let out_changes = arg_mut!(out_changes);
        let id = self::prompt_id(prompt_id)?;
        give(
            out_changes,
            vault.inner.set_archived(id, archived, Timestamp(now_ms))?,
        );
        Ok(())
    })
}

/// Writes the prompts matching `query_json`, most recently updated first,
/// as a JSON array of summaries (`{"id", "title", "tags", "favorite",
/// "archived", "currentVersion", "versionCount", "revision", "created",
/// "updated"}`).
///
/// `query_json` is `{"text", "tags", "tagMode": "any" | "all" | "none",
/// "favoritesOnly", "archived": "exclude" | "include" | "only"}`, every
/// field optional (`{}` lists every non-archived prompt). Tag and flag
/// filters read metadata only; text search decrypts the current version of
/// the remaining candidates.
///
/// # Errors
///
/// `PV_RESULT_ENCODING` for a query that does not parse;
/// `PV_RESULT_AUTHENTICATION` if a searched version was tampered with;
/// `PV_RESULT_BUFFER_TOO_SMALL`; `PV_RESULT_NULL_PARAMETER`.
///
/// # Safety
///
/// `vault` must be a live `pv_vault`; `query_json` NUL-terminated; `buf`
/// must point to `buf_len` writable bytes; `out_len` to a writable `size_t`.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pv_vault_list(
    vault: *const pv_vault,
    query_json: *const c_char,
    buf: *mut c_char,
    buf_len: usize,
    out_len: *mut usize,
) -> pv_result {
    ffi_guard!({
        let vault = arg_ref!(vault);
        let query_json = arg_str!(query_json);
        let buf = arg_out_buf!(buf, buf_len);
        let out_len = arg_mut!(out_len);
        let query: Query = from_json(query_json, "query JSON")?;
        buf.write_text(&to_json(&vault.inner.list(&query)?)?, out_len)
    })
}

/// Writes one prompt's summary as JSON (as in [`pv_vault_list`]).
///
/// # Errors
///
/// `PV_RESULT_NOT_FOUND`; `PV_RESULT_ENCODING` for a bad id;
/// `PV_RESULT_BUFFER_TOO_SMALL`; `PV_RESULT_NULL_PARAMETER`.
///
/// # Safety
///
/// `vault` must be a live `pv_vault`; `prompt_id` NUL-terminated; `buf`
/// must point to `buf_len` writable bytes; `out_len` to a writable `size_t`.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pv_vault_summary(
    vault: *const pv_vault,
    prompt_id: *const c_char,
    buf: *mut c_char,
    buf_len: usize,
    out_len: *mut usize,
) -> pv_result {
    ffi_guard!({
        let vault = arg_ref!(vault);
        let prompt_id = arg_str!(prompt_id);
        let buf = arg_out_buf!(buf, buf_len);
        let out_len = arg_mut!(out_len);
        let s = vault.inner.summary(self::prompt_id(prompt_id)?)?;
        buf.write_text(&to_json(&s)?, out_len)
    })
}

/// Writes every prompt id, in id order, as a JSON array of strings.
///
/// # Errors
///
/// `PV_RESULT_BUFFER_TOO_SMALL`; `PV_RESULT_NULL_PARAMETER`.
///
/// # Safety
///
/// `vault` must be a live `pv_vault`; `buf` must point to `buf_len` writable
/// bytes; `out_len` to a writable `size_t`.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pv_vault_prompt_ids(
    vault: *const pv_vault,
    buf: *mut c_char,
    buf_len: usize,
    out_len: *mut usize,
) -> pv_result {
    ffi_guard!({
        let vault = arg_ref!(vault);
        let buf = arg_out_buf!(buf, buf_len);
        let out_len = arg_mut!(out_len);
        buf.write_text(&to_json(&vault.inner.prompt_ids())?, out_len)
    })
}

/// Stores the number of prompts.
///
/// # Errors
///
/// `PV_RESULT_NULL_PARAMETER`.
///
/// # Safety
///
/// `vault` must be a live `pv_vault`; `out_count` must point to a writable
/// `size_t`.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pv_vault_prompt_count(
    vault: *const pv_vault,
    out_count: *mut usize,
) -> pv_result {
    ffi_guard!({
        let vault = arg_ref!(vault);
        let out_count = arg_mut!(out_count);
        *out_count = vault.inner.len();
        Ok(())
    })
}

/// A prompt's scalar fields (core's `PromptSummary` without the title and
/// tags), for callers that do not want to parse JSON: filled by
/// [`pv_vault_prompt_info`].
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct pv_prompt_info {
    /// Favorite flag.
    pub favorite: bool,
    /// Archived flag.
    pub archived: bool,
    /// The current version's id: 32 lowercase hex digits and a NUL.
    pub current_version: [c_char; PV_ID_BUF_LEN],
    /// How many versions are kept.
    pub version_count: usize,
    /// Metadata revision (+1 per metadata change).
    pub revision: u64,
    /// Creation time, milliseconds since the epoch.
    pub created_ms: u64,
    /// Time of the last change, milliseconds since the epoch.
    pub updated_ms: u64,
}

/// Stores one prompt's flags, current version, version count, revision and
/// times (as [`pv_vault_summary`], without JSON). `PV_RESULT_NOT_FOUND`
/// answers "does this prompt exist?".
///
/// # Errors
///
/// `PV_RESULT_NOT_FOUND` for an unknown prompt; `PV_RESULT_ENCODING` for a
/// bad id; `PV_RESULT_INVALID_UTF8`; `PV_RESULT_NULL_PARAMETER`.
///
/// # Safety
///
/// `vault` must be a live `pv_vault`; `prompt_id` NUL-terminated;
/// `out_info` must point to a writable `pv_prompt_info`.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pv_vault_prompt_info(
    vault: *const pv_vault,
    prompt_id: *const c_char,
    out_info: *mut pv_prompt_info,
) -> pv_result {
    ffi_guard!({
        let vault = arg_ref!(vault);
        let prompt_id = arg_str!(prompt_id);
        let out_info = arg_mut!(out_info);
        let s = vault.inner.summary(self::prompt_id(prompt_id)?)?;
        *out_info = pv_prompt_info {
            favorite: s.favorite,
            archived: s.archived,
            current_version: id_chars(&s.current_version.to_hex()),
            version_count: s.version_count,
            revision: s.revision,
            created_ms: s.created.0,
            updated_ms: s.updated.0,
        };
        Ok(())
    })
}

/// Stores the number of damaged prompts: prompts whose metadata breaks a
/// model rule (written by a buggy or hostile client holding the keys). They
/// are left out of every other view; read them with [`pv_vault_damaged_at`]
/// and [`pv_vault_damaged_reason`], export them (as far as readable) with
/// [`crate::pv_vault_export`] or remove them with [`pv_vault_delete_prompt`].
///
/// # Errors
///
/// `PV_RESULT_NULL_PARAMETER`.
///
/// # Safety
///
/// `vault` must be a live `pv_vault`; `out_count` must point to a writable
/// `size_t`.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pv_vault_damaged_count(
    vault: *const pv_vault,
    out_count: *mut usize,
) -> pv_result {
    ffi_guard!({
        let vault = arg_ref!(vault);
        let out_count = arg_mut!(out_count);
        *out_count = vault.inner.damaged_prompts().len();
        Ok(())
    })
}

/// Damaged prompt `index` (in id order, below the count from
/// [`pv_vault_damaged_count`]): writes its id into `out_id` as
/// NUL-terminated text, the code of the rule it breaks (the code a call
/// reading it would return) into `*out_code`, and its number of version
/// records into `*out_version_count`.
///
/// # Errors
///
/// `PV_RESULT_BUFFER_TOO_SMALL` when `out_id_len` is below
/// [`PV_ID_BUF_LEN`] (checked first); `PV_RESULT_NOT_FOUND` for an index
/// past the end; `PV_RESULT_NULL_PARAMETER`.
///
/// # Safety
///
/// `vault` must be a live `pv_vault`; `out_id` must point to `out_id_len`
/// writable bytes; `out_code` to a writable `pv_result`;
/// `out_version_count` to a writable `size_t`.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pv_vault_damaged_at(
    vault: *const pv_vault,
    index: usize,
    out_id: *mut c_char,
    out_id_len: usize,
    out_code: *mut pv_result,
    out_version_count: *mut usize,
) -> pv_result {
    ffi_guard!({
        let vault = arg_ref!(vault);
        let id_buf = arg_out_buf!(out_id, out_id_len);
        let out_code = arg_mut!(out_code);
        let out_version_count = arg_mut!(out_version_count);
        id_buf.require(PV_ID_BUF_LEN, "out_id")?;
        let damaged = vault.inner.damaged_prompts();
        let d = entry(&damaged, index, "damaged prompt")?;
        write_id(&id_buf, &d.id.to_hex())?;
        *out_code = pv_result::from_code(d.reason.code());
        *out_version_count = d.versions;
        Ok(())
    })
}

/// Writes what is wrong with damaged prompt `index` (see
/// [`pv_vault_damaged_at`]) as NUL-terminated text.
///
/// # Errors
///
/// `PV_RESULT_NOT_FOUND` for an index past the end;
/// `PV_RESULT_BUFFER_TOO_SMALL`; `PV_RESULT_NULL_PARAMETER`.
///
/// # Safety
///
/// `vault` must be a live `pv_vault`; `buf` must point to `buf_len` writable
/// bytes; `out_len` to a writable `size_t`.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pv_vault_damaged_reason(
    vault: *const pv_vault,
    index: usize,
    buf: *mut c_char,
    buf_len: usize,
    out_len: *mut usize,
) -> pv_result {
    ffi_guard!({
        let vault = arg_ref!(vault);
        let buf = arg_out_buf!(buf, buf_len);
        let out_len = arg_mut!(out_len);
        let damaged = vault.inner.damaged_prompts();
        let d = entry(&damaged, index, "damaged prompt")?;
        buf.write_text(&d.reason.to_string(), out_len)
    })
}

/// Writes one version as plaintext for sharing in public, as JSON
/// (`{"title", "body", "settings"}`); `version_id` `""` means the current
/// one.
///
/// # Errors
///
/// As [`pv_vault_version`].
///
/// # Safety
///
/// As [`pv_vault_version`].
///
/// # Security
///
/// This is the one call whose purpose is to take text out of the vault:
/// whatever the caller does with the result is public.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pv_vault_publish(
    vault: *const pv_vault,
    prompt_id: *const c_char,
    version_id: *const c_char,
    buf: *mut c_char,
    buf_len: usize,
    out_len: *mut usize,
) -> pv_result {
    ffi_guard!({
        let vault = arg_ref!(vault);
        let prompt_id = arg_str!(prompt_id);
        let version_id = arg_str!(version_id);
        let buf = arg_out_buf!(buf, buf_len);
        let out_len = arg_mut!(out_len);
        let p = vault
            .inner
            .publish(self::prompt_id(prompt_id)?, optional_version(version_id)?)?;
        buf.write_text(&to_json(&p)?, out_len)
    })
}

#[allow(dead_code)]
fn _assert_send_sync() {
    fn is<T: Send + Sync>() {}
    is::<pv_vault>();
    is::<pv_changeset>();
    is::<crate::pv_store>();
    is::<crate::pv_bytes>();
}
