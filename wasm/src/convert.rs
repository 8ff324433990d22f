//! Type conversion between JS values and core types. Nothing here decides
//! anything about vaults; it only moves values across the boundary.

use js_sys::{Array, Object, Reflect, Uint8Array};
use serde::Serialize;
use serde::de::DeserializeOwned;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;

use promptvault::{
    Changeset, KdfParams, PromptId, SealedRecord, SeenRevisions, Timestamp, VersionId,
};

use crate::error::{IntoJs, invalid};

/// Largest integer a JS number holds exactly (2^53 − 1).
const MAX_SAFE_INTEGER: f64 = 9_007_199_254_740_991.0;

/// Converts a core view into a plain JS object through JSON (core's views
/// derive `Serialize` with camelCase names; `None` becomes `null`).
pub(crate) fn to_js<T: Serialize + ?Sized>(value: &T) -> Result<JsValue, JsValue> {
    let text = serde_json::to_string(value)
        .map_err(|e| invalid(&format!("value cannot be converted to JS: {e}")))?;
    js_sys::JSON::parse(&text).map_err(|_| invalid("value cannot be converted to JS"))
}

/// The JSON text of a JS value (`JSON.stringify`).
fn json_text(value: &JsValue, what: &str) -> Result<String, JsValue> {
    js_sys::JSON::stringify(value)
        .ok()
        .and_then(|t| t.as_string())
        .ok_or_else(|| invalid(&format!("{what}: expected a JSON-serialisable value")))
}

/// Converts a plain JS object into a core input type through JSON, so that
/// core's strict input types refuse unknown fields exactly as in Rust.
pub(crate) fn from_js<T: DeserializeOwned>(value: JsValue, what: &str) -> Result<T, JsValue> {
    let text = json_text(&value, what)?;
    serde_json::from_str(&text).map_err(|e| invalid(&format!("{what}: {}", js_json_error(&e))))
}

/// A serde error as a JS reader expects it: no JSON line/column position
/// (the JSON was made from the caller's object, not typed by them), names
/// in double quotes instead of backticks, and JS words for Rust's types.
fn js_json_error(e: &serde_json::Error) -> String {
    let text = e.to_string();
    let at = format!(" at line {} column {}", e.line(), e.column());
    let mut text = text.strip_suffix(&at).unwrap_or(&text).replace('`', "\"");
    for (rust, js) in [
        ("expected u8", "expected a whole number"),
        ("expected u16", "expected a whole number"),
        ("expected u32", "expected a whole number"),
        ("expected u64", "expected a whole number"),
        ("expected usize", "expected a whole number"),
        ("expected i64", "expected a whole number"),
        ("expected f64", "expected a number"),
        ("expected a sequence", "expected an array"),
        ("expected a map", "expected an object"),
    ] {
        text = text.replace(rust, js);
    }
    if let Some(i) = text.find("expected struct ") {
        text.truncate(i);
        text.push_str("expected an object");
    }
    text
}

/// Whether an optional argument was left out.
pub(crate) fn absent(value: &JsValue) -> bool {
    value.is_undefined() || value.is_null()
}

/// `now` in milliseconds since the epoch, or the JS clock when left out.
pub(crate) fn timestamp(now: Option<f64>) -> Result<Timestamp, JsValue> {
    let ms = match now {
        Some(ms) => ms,
        None => js_sys::Date::now(),
    };
    if !(ms.is_finite() && ms >= 0.0 && ms.fract() == 0.0 && ms <= MAX_SAFE_INTEGER) {
        return Err(invalid(
            "a time must be a whole number of milliseconds since 1970, 0 ≤ now ≤ 2^53 − 1",
        ));
    }
    // In range and integral (checked above), so the cast is exact.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    Ok(Timestamp(ms as u64))
}

/// A prompt id from its 32-hex-digit text form.
pub(crate) fn prompt_id(text: &str) -> Result<PromptId, JsValue> {
    text.parse().js()
}

/// A version id from its 32-hex-digit text form.
pub(crate) fn version_id(text: &str) -> Result<VersionId, JsValue> {
    text.parse().js()
}

/// An optional version id.
pub(crate) fn opt_version_id(text: Option<String>) -> Result<Option<VersionId>, JsValue> {
    text.as_deref().map(version_id).transpose()
}

/// Optional KDF parameters (`undefined` → `None`): core's `KdfParams` from
/// its JSON form, with core's codes (`KDF_PARAMS_OUT_OF_BOUNDS` out of range).
pub(crate) fn kdf_params(value: JsValue) -> Result<Option<KdfParams>, JsValue> {
    if absent(&value) {
        return Ok(None);
    }
    let text = json_text(&value, "kdf parameters {mCostKib, tCost, pCost}")?;
    KdfParams::from_json(&text).map(Some).js()
}

/// Optional seen revisions for rollback detection.
pub(crate) fn seen_revisions(value: JsValue) -> Result<SeenRevisions, JsValue> {
    if absent(&value) {
        return Ok(SeenRevisions::default());
    }
    from_js(value, "seen revisions {header, prompts}")
}

/// The bytes of one record given as a `Uint8Array`, a base64url string, or
/// an object with a `bytes` field (a record from a changeset).
pub(crate) fn record_bytes(value: &JsValue) -> Result<Vec<u8>, JsValue> {
    if let Some(text) = value.as_string() {
        return promptvault::format::text::decode(&text).js();
    }
    if let Some(bytes) = value.dyn_ref::<Uint8Array>() {
        return Ok(bytes.to_vec());
    }
    if value.is_object() {
        let inner = Reflect::get(value, &JsValue::from_str("bytes"))
            .map_err(|_| invalid("a record object has no readable `bytes`"))?;
        if let Some(bytes) = inner.dyn_ref::<Uint8Array>() {
            return Ok(bytes.to_vec());
        }
    }
    Err(invalid(
        "a record must be a Uint8Array, a base64url string, or {bytes: Uint8Array}",
    ))
}

/// Every record of an iterable (an array, a `Set`, a generator…).
pub(crate) fn record_list(value: &JsValue) -> Result<Vec<Vec<u8>>, JsValue> {
    if absent(value) {
        return Ok(Vec::new());
    }
    let iter = js_sys::try_iter(value)
        .map_err(|_| invalid("records must be iterable"))?
        .ok_or_else(|| invalid("records must be an iterable of records"))?;
    let mut out = Vec::new();
    for item in iter {
        let item = item.map_err(|_| invalid("records: the iterator threw"))?;
        out.push(record_bytes(&item)?);
    }
    Ok(out)
}

/// A list of strings (tags).
pub(crate) fn string_list(value: JsValue, what: &str) -> Result<Vec<String>, JsValue> {
    if absent(&value) {
        return Ok(Vec::new());
    }
    from_js(value, what)
}

fn set(obj: &Object, key: &str, value: &JsValue) -> Result<(), JsValue> {
    Reflect::set(obj, &JsValue::from_str(key), value)
        .map(|_| ())
        .map_err(|_| invalid("cannot build the result object"))
}

/// A plain object from `(key, value)` pairs.
pub(crate) fn object(fields: &[(&str, JsValue)]) -> Result<JsValue, JsValue> {
    let obj = Object::new();
    for (k, v) in fields {
        set(&obj, k, v)?;
    }
    Ok(obj.into())
}

/// A sealed record as JS sees it: `{key, kind, bytes, text}`.
pub(crate) fn record_to_js(r: &SealedRecord) -> Result<JsValue, JsValue> {
    object(&[
        ("key", JsValue::from_str(&r.storage_key())),
        ("kind", JsValue::from_str(r.kind().name())),
        ("bytes", Uint8Array::from(r.as_bytes()).into()),
        ("text", JsValue::from_str(&r.to_text())),
    ])
}

/// A changeset as JS sees it: `{header, puts, deletes}`.
pub(crate) fn changeset_to_js(c: &Changeset) -> Result<JsValue, JsValue> {
    let header = match &c.header {
        Some(h) => record_to_js(h)?,
        None => JsValue::NULL,
    };
    let puts = Array::new();
    for r in &c.puts {
        puts.push(&record_to_js(r)?);
    }
    let deletes = Array::new();
    for d in &c.deletes {
        deletes.push(&JsValue::from_str(d));
    }
    object(&[
        ("header", header),
        ("puts", puts.into()),
        ("deletes", deletes.into()),
    ])
}

/// A core report (`MergeReport`, `ImportReport`) as JS sees it: its JSON
/// form with `changes` as records with bytes.
pub(crate) fn report_to_js<T: Serialize>(
    report: &T,
    changes: &Changeset,
) -> Result<JsValue, JsValue> {
    let out = to_js(report)?;
    set(out.unchecked_ref(), "changes", &changeset_to_js(changes)?)?;
    Ok(out)
}

/// A JS changeset (`{header?, puts?, deletes?}`; records as in
/// [`record_bytes`]) as a core changeset, every record parsed.
pub(crate) fn changeset_from_js(value: &JsValue) -> Result<Changeset, JsValue> {
    if !value.is_object() {
        return Err(invalid("a changeset must be {header, puts, deletes}"));
    }
    let field = |name: &str| {
        Reflect::get(value, &JsValue::from_str(name))
            .map_err(|_| invalid("a changeset must be {header, puts, deletes}"))
    };
    let parse = |bytes: Vec<u8>| SealedRecord::from_bytes(bytes).js();
    let header = field("header")?;
    let header = if absent(&header) {
        None
    } else {
        Some(parse(record_bytes(&header)?)?)
    };
    let puts = record_list(&field("puts")?)?
        .into_iter()
        .map(parse)
        .collect::<Result<Vec<_>, _>>()?;
    let deletes = string_list(field("deletes")?, "deletes (string[])")?;
    let mut changes = Changeset::default();
    changes.header = header;
    changes.puts = puts;
    changes.deletes = deletes;
    Ok(changes)
}
