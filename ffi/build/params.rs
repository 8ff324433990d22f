//! What each parameter name of the C ABI means, for the header's `@param`
//! lines. The names follow the conventions of ffi/README.md, so one
//! description per name serves every function; a function whose parameter
//! means something more specific says so in a `# Parameters` section of its
//! Rust docs (``- `name`: text``), which wins. A parameter with neither
//! gets no `@param` and Doxygen (warnings as errors) fails.

/// The description of a parameter named `name`, if the name is a convention.
pub(crate) fn describe(name: &str) -> Option<&'static str> {
    Some(match name {
        // Handles.
        "vault" => "The vault.",
        "store" => "The record store.",
        "changes" => "The changeset.",
        "bytes" => "The bytes handle.",
        "state" => "The sync state of this vault with this server.",
        "sync" => "The sync in progress.",
        "download" => "The download in progress.",
        "key" => "The login key.",
        // Caller-owned output buffers.
        "buf" => "Where the output is written. NULL with `buf_len` 0 asks for the size needed.",
        "buf_len" => "The capacity of `buf` in bytes.",
        "out_len" => {
            "Receives the number of bytes written (with the NUL for text), or the size needed."
        }
        "out_id" => "Receives the id: 32 lowercase hex digits and a NUL.",
        "out_id_len" => "The capacity of `out_id`: at least #PV_ID_BUF_LEN.",
        "out_version_id" => "Receives the new version's id: 32 lowercase hex digits and a NUL.",
        "out_version_id_len" => "The capacity of `out_version_id`: at least #PV_ID_BUF_LEN.",
        "out_recovery_key" => {
            "Receives the recovery key (NUL-terminated); show it to the user once."
        }
        "out_recovery_key_len" => {
            "The capacity of `out_recovery_key`: at least #PV_RECOVERY_KEY_BUF_LEN."
        }
        // Other outputs.
        "out_changes" => "Receives the changeset to store (free it with pv_changeset_free()).",
        "out_vault" => {
            "Receives the unlocked vault (free it with pv_vault_free(), which locks it)."
        }
        "out_store" => "Receives the store (free it with pv_store_free()).",
        "out_file" => "Receives the export file (free it with pv_bytes_free()).",
        "out_state" => "Receives the sync state (free it with pv_sync_state_free()).",
        "out_sync" => "Receives the sync (free it with pv_sync_free()).",
        "out_download" => "Receives the download (free it with pv_download_free()).",
        "out_key" => "Receives the login key (free it with pv_login_key_free()).",
        "out_count" => "Receives the count.",
        "out_counts" => "Receives the counts.",
        "out_info" => "Receives the prompt's fields.",
        "out_params" => "Receives the KDF parameters.",
        "out_generation" => "Receives the key generation.",
        "out_revision" => "Receives the header revision.",
        "out_has_header" => "Receives whether there is a header.",
        "out_pending" => "Receives whether a rotation is unfinished.",
        "out_done" => "Receives whether the sync is over.",
        "out_persist" => "Receives whether to persist the store and the state now.",
        "out_backoff" => "Receives the backoff (0: none).",
        "out_more" => "Receives whether another page is to be pulled.",
        "out_code" => "Receives the code of the rule the prompt breaks.",
        "out_version_count" => "Receives the number of version records.",
        "out_prompts_added" => "Receives the number of prompts added.",
        "out_versions_added" => "Receives the number of versions added.",
        // Inputs.
        "prompt_id" => "The prompt's id (32 lowercase hex digits).",
        "version_id" => "The version's id (32 lowercase hex digits).",
        "from_version_id" => "The id of the version to diff from.",
        "to_version_id" => "The id of the version to diff to.",
        "vault_id" => "The vault's id (32 lowercase hex digits).",
        "now_ms" => "The current time, milliseconds since the epoch (the change's time).",
        "password" | "password_text" => "The vault password (NUL-terminated UTF-8, not empty).",
        "new_password" => "The new vault password (NUL-terminated UTF-8, not empty).",
        "secret" => "The password or the recovery key text, as `credential_kind` says.",
        "credential_kind" => "#PV_CREDENTIAL_PASSWORD or #PV_CREDENTIAL_RECOVERY_KEY.",
        "params" => "The KDF parameters (Argon2id).",
        "header" => "A vault header (binary form).",
        "header_len" => "The length of `header` in bytes.",
        "records" => "The records (binary form): an array of `records_len` pointers.",
        "record_lens" => "The length of each record: an array of `records_len` sizes.",
        "records_len" => "The number of records.",
        "record" => "One record (binary form).",
        "record_len" => "The length of `record` in bytes.",
        "record_text" => "One record in its text form (base64url).",
        "bundle" => "A bundle: the vault header followed by every record.",
        "bundle_len" => "The length of `bundle` in bytes.",
        "file" => "An export file.",
        "file_len" => "The length of `file` in bytes.",
        "storage_key" => "The key the record is to be stored under.",
        "index" => "Which entry, from 0.",
        "code" => "A #pv_result number.",
        "draft_json" => {
            "The version as JSON: `{\"title\", \"body\", \"settings\", \"note\"}` (only `title` required)."
        }
        "tags_json" => "The tags as a JSON array of strings.",
        "query_json" => {
            "The query as JSON (every field optional; `{}` lists every non-archived prompt)."
        }
        "seen_json" => "The revisions seen, as pv_vault_seen_revisions() wrote them.",
        "session_json" => "The server's answer to a login (JSON).",
        "prelogin_json" => "The server's answer to a pre-login (JSON).",
        "challenge_json" => "The server's answer to a challenge (JSON).",
        "json" => "The JSON text.",
        "origin" => "The server's origin, `scheme://host[:port]`, as the app reaches it.",
        "account" => "The account name.",
        "recovery_key" => "The recovery key text (as shown when it was made).",
        "recovery" => "The recovery login key to register, or NULL for none.",
        "status" => "The HTTP status of the server's answer.",
        "body" => "The body of the server's answer.",
        "body_len" => "The length of `body` in bytes.",
        "favorite" => "The favorite flag.",
        "archived" => "The archived flag.",
        "keep" => "How many of the newest versions to keep (at least 1).",
        "from" => "The tag to rename.",
        "to" => "Its new name.",
        _ => return None,
    })
}
