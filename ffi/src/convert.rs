//! Conversions between C arguments and core types, shared by every
//! exported function: ids, passwords, JSON in and out, changeset handles.
//! Nothing here decides anything about vaults.

use promptvault::{Changeset, Password, PromptId, VersionId};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::handles::into_handle;
use crate::{Fail, pv_changeset};

/// A result as JSON text with the core's camelCase names.
pub(crate) fn to_json<T: Serialize>(value: &T) -> Result<String, Fail> {
    serde_json::to_string(value).map_err(|e| Fail::json("result (cannot serialise)", &e))
}

/// A JSON argument parsed into a core input type (`what` names it in the
/// error).
pub(crate) fn from_json<T: DeserializeOwned>(json: &str, what: &str) -> Result<T, Fail> {
    serde_json::from_str(json).map_err(|e| Fail::json(what, &e))
}

pub(crate) fn prompt_id(text: &str) -> Result<PromptId, Fail> {
    Ok(text.parse()?)
}

pub(crate) fn version_id(text: &str) -> Result<VersionId, Fail> {
    Ok(text.parse()?)
}

/// `""` means the current version.
pub(crate) fn optional_version(text: &str) -> Result<Option<VersionId>, Fail> {
    if text.is_empty() {
        Ok(None)
    } else {
        version_id(text).map(Some)
    }
}

pub(crate) fn password(text: &str) -> Result<Password, Fail> {
    Ok(Password::new(text)?)
}

/// Hands a changeset to C as a `pv_changeset` handle.
pub(crate) fn give(out: &mut *mut pv_changeset, changes: Changeset) {
    *out = into_handle(pv_changeset { inner: changes });
}
