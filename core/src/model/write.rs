//! A direct writer for the metadata plaintext, the one plaintext every edit
//! re-seals (SPEC §6.1). Its members are fixed ASCII names, so RFC 8785
//! order is the order below; its values are booleans, integers within
//! 2^53 − 1 (written as plain decimals, as ECMAScript does), base64url
//! strings (never escaped) and user text (escaped by serde_json, whose
//! escaping is RFC 8785's: `\b \t \n \f \r \" \\`, other controls `\u00xx`
//! lowercase, nothing else). Writing it directly skips the general JCS
//! serialiser's buffering, sorting and escape scan of the 32 KB index of a
//! long history. Readers still check the result is canonical, and a test
//! checks it equals the general serialiser's output.

use super::{MetaView, index};
use crate::error::{Error, Result};
use crate::ids::Timestamp;

fn time(out: &mut Vec<u8>, t: Timestamp) -> Result<()> {
    if t > Timestamp::MAX {
        return Err(Error::invalid("timestamp above 2^53 - 1"));
    }
    out.extend_from_slice(t.0.to_string().as_bytes());
    Ok(())
}

fn text(out: &mut Vec<u8>, s: &str) -> Result<()> {
    serde_json::to_writer(&mut *out, s).map_err(|_| Error::invalid("text cannot be written"))
}

fn flag(out: &mut Vec<u8>, b: bool) {
    out.extend_from_slice(if b { b"true" } else { b"false" });
}

/// The canonical (RFC 8785) JSON of a metadata plaintext.
///
/// # Errors
///
/// [`Error::InvalidInput`] for a timestamp above 2^53 − 1.
pub(crate) fn meta_json(m: &MetaView<'_>) -> Result<Vec<u8>> {
    let index_chars = (m.tail.len() * index::ENTRY_LEN).div_ceil(3) * 4;
    let mut out = Vec::with_capacity(
        256 + index_chars + m.title.len() + 24 * (m.deleted.len() + m.segments.len()),
    );
    out.extend_from_slice(b"{\"archived\":");
    flag(&mut out, m.archived);
    out.extend_from_slice(b",\"created\":");
    time(&mut out, m.created)?;
    out.extend_from_slice(b",\"current\":\"");
    out.extend_from_slice(m.current.to_hex().as_bytes());
    out.extend_from_slice(b"\",\"deleted\":\"");
    out.extend_from_slice(index::tombstones::encode(m.deleted).as_bytes());
    out.extend_from_slice(b"\",\"favorite\":");
    flag(&mut out, m.favorite);
    out.extend_from_slice(b",\"segments\":\"");
    out.extend_from_slice(index::segment_ids::encode(m.segments).as_bytes());
    out.extend_from_slice(b"\",\"tags\":[");
    for (i, t) in m.tags.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        text(&mut out, t)?;
    }
    out.extend_from_slice(b"],\"title\":");
    text(&mut out, m.title)?;
    out.extend_from_slice(b",\"updated\":");
    time(&mut out, m.updated)?;
    out.extend_from_slice(b",\"versions\":\"");
    out.extend_from_slice(index::entries::encode(m.tail)?.as_bytes());
    out.extend_from_slice(b"\"}");
    Ok(out)
}
