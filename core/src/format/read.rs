//! Strict parsing: exact lengths, zero reserved fields, per-kind rules and
//! size limits, all checked before anything is allocated or decrypted.

use super::{
    FORMAT_VERSION, HEADER_LEN, MAGIC, RecordHeader, RecordKind, SEALED_OVERHEAD, SUITE_V1, padding,
};
use crate::error::{Error, Result};
use crate::ids::{ID_LEN, VaultId};

/// A little cursor over a byte slice that never panics.
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Reader { buf }
    }
    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let (head, rest) = self
            .buf
            .split_at_checked(n)
            .ok_or(Error::malformed("truncated"))?;
        self.buf = rest;
        Ok(head)
    }
    pub(crate) fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        self.take(N)?
            .try_into()
            .map_err(|_| Error::malformed("truncated"))
    }
    pub(crate) fn u8(&mut self) -> Result<u8> {
        let [b] = self.array::<1>()?;
        Ok(b)
    }
    pub(crate) fn u32(&mut self) -> Result<u32> {
        self.array().map(u32::from_le_bytes)
    }
    pub(crate) fn u64(&mut self) -> Result<u64> {
        self.array().map(u64::from_le_bytes)
    }
    pub(crate) fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }
}

/// Parses and validates the 72-byte header at the start of `bytes`. Only the
/// header is examined; the body may be absent (for streaming or bundles).
///
/// # Errors
///
/// [`Error::Malformed`] (bad magic, reserved bits, kind rules, truncation),
/// [`Error::UnsupportedVersion`], [`Error::UnsupportedSuite`],
/// [`Error::WrongKind`] for an unknown kind, [`Error::LimitExceeded`] for a
/// body over its kind's limit.
pub fn parse_header(bytes: &[u8]) -> Result<RecordHeader> {
    let mut r = Reader::new(bytes);
    if bytes.len() < MAGIC.len() || r.array::<4>()? != MAGIC {
        return Err(Error::malformed("magic (not a promptvault record)"));
    }
    if bytes.len() < HEADER_LEN {
        return Err(Error::malformed("truncated header"));
    }
    let version = r.u8()?;
    if version > FORMAT_VERSION {
        return Err(Error::UnsupportedVersion { found: version });
    }
    if version != FORMAT_VERSION {
        return Err(Error::malformed("format version 0 does not exist"));
    }
    let kind_byte = r.u8()?;
    let kind = RecordKind::from_u8(kind_byte).ok_or(Error::WrongKind { found: kind_byte })?;
    let suite = r.u8()?;
    if suite != SUITE_V1 {
        return Err(Error::UnsupportedSuite { found: suite });
    }
    if r.u8()? != 0 {
        return Err(Error::malformed("reserved flags are not zero"));
    }
    let key_gen = r.u32()?;
    let vault_id = VaultId::from_bytes(r.array()?);
    let id1: [u8; ID_LEN] = r.array()?;
    let id2: [u8; ID_LEN] = r.array()?;
    let revision = r.u64()?;
    let body_len = r.u32()?;
    let header = RecordHeader {
        kind,
        key_gen,
        vault_id,
        id1,
        id2,
        revision,
        body_len,
    };
    check_kind_rules(&header)?;
    Ok(header)
}

fn check_kind_rules(h: &RecordHeader) -> Result<()> {
    let zero = [0u8; ID_LEN];
    if h.vault_id.as_bytes() == &zero {
        return Err(Error::malformed("zero vault id"));
    }
    if h.key_gen == 0 {
        return Err(Error::malformed("zero key generation"));
    }
    let (needs_prompt, needs_version, needs_revision) = match h.kind {
        RecordKind::VaultHeader => (false, false, true),
        RecordKind::ItemKey => (true, false, false),
        RecordKind::PromptMeta => (true, false, true),
        RecordKind::PromptVersion | RecordKind::PromptIndex => (true, true, false),
        RecordKind::ExportHeader | RecordKind::ExportPayload => (false, false, false),
        RecordKind::Checkpoint => (false, false, true),
        // id1 = recipient key id, id2 = sender key id (SPEC §13.4).
        RecordKind::KeyDelivery => (true, true, false),
        RecordKind::Identity => (false, false, false),
        // id1 = space id, revision = the space key's generation (SPEC §13.5).
        RecordKind::SpaceKey => (true, false, true),
    };
    if needs_prompt == (h.id1 == zero) {
        return Err(Error::malformed(
            "prompt id presence does not match the kind",
        ));
    }
    if needs_version == (h.id2 == zero) {
        return Err(Error::malformed(
            "version id presence does not match the kind",
        ));
    }
    if needs_revision == (h.revision == 0) {
        return Err(Error::malformed(
            "revision presence does not match the kind",
        ));
    }
    if matches!(h.kind, RecordKind::ExportHeader | RecordKind::ExportPayload) && h.key_gen != 1 {
        return Err(Error::malformed("export records use key generation 1"));
    }
    let body = h.body_len as usize;
    let max = h.kind.max_body_len();
    if body > max {
        return Err(Error::too_large("record body", max, body));
    }
    if h.kind.is_sealed() {
        let padded = body.saturating_sub(SEALED_OVERHEAD);
        if !padding::is_canonical_padded_len(padded) {
            return Err(Error::malformed("sealed body length is not a padded size"));
        }
        if matches!(h.kind, RecordKind::ItemKey | RecordKind::SpaceKey)
            && padded != padding::padded_len(super::KEY_LEN)
        {
            return Err(Error::malformed("key record body length"));
        }
        if h.kind == RecordKind::SpaceKey && u32::try_from(h.revision).is_err() {
            return Err(Error::malformed("space key generation"));
        }
    } else if body != max {
        return Err(Error::malformed("fixed body length"));
    }
    Ok(())
}

/// Parses one complete record: header, then exactly `body_len` bytes, with
/// nothing after. Returns the header and the body.
///
/// # Errors
///
/// As [`parse_header`], plus [`Error::Malformed`] for a truncated body or
/// trailing bytes.
pub fn parse_record(bytes: &[u8]) -> Result<(RecordHeader, &[u8])> {
    let (header, body, rest) = parse_prefix(bytes)?;
    if !rest.is_empty() {
        return Err(Error::malformed("trailing bytes after the record"));
    }
    Ok((header, body))
}

/// Parses the record at the start of `bytes` and returns it with the bytes that follow.
///
/// # Errors
///
/// As [`parse_header`], plus [`Error::Malformed`] for a truncated body.
pub fn parse_prefix(bytes: &[u8]) -> Result<(RecordHeader, &[u8], &[u8])> {
    let header = parse_header(bytes)?;
    let total = header.total_len();
    let (record, rest) = bytes
        .split_at_checked(total)
        .ok_or(Error::malformed("truncated record body"))?;
    let body = record
        .get(HEADER_LEN..)
        .ok_or(Error::malformed("truncated record body"))?;
    Ok((header, body, rest))
}
