//! Test hooks for degraded reads: seal what a buggy or hostile client
//! holding the keys could write, with no model rule applied. Not API.

use crate::error::{Error, Result};
use crate::format::RecordKind;
use crate::ids::{PromptId, SegmentId, VersionId};
use crate::sealing;

use super::seal::{record_header, segment_header};
use super::{Changeset, Vault};

impl Vault {
    /// A prompt's metadata as the JSON it is sealed as. A test hook, not
    /// API.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] for an unknown prompt.
    #[doc(hidden)]
    pub fn meta_json_for_tests(&self, id: PromptId) -> Result<Vec<u8>> {
        let p = self.prompt(id)?;
        let ids = p.layout.ids();
        crate::model::meta_json(&p.meta.view(&ids, &p.layout.tail))
    }

    /// Seals `meta_json` as the next metadata revision of prompt `id` with
    /// no model rule applied: what a buggy or hostile client holding the
    /// keys could write. The vault itself is not changed. A test hook for
    /// degraded reads, not API.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] for an unknown prompt; [`Error::Randomness`].
    #[doc(hidden)]
    pub fn unchecked_meta_for_tests(&self, id: PromptId, meta_json: &[u8]) -> Result<Changeset> {
        let p = self.prompt(id)?;
        let (generation, item) = p.current_key()?;
        let revision = p
            .revision
            .checked_add(1)
            .ok_or(Error::invalid("revision overflow"))?;
        let h = record_header(
            RecordKind::PromptMeta,
            self.id(),
            generation,
            id,
            None,
            revision,
        );
        let mut changes = Changeset::default();
        changes.put_new(sealing::seal(item, h, meta_json)?);
        Ok(changes)
    }

    /// Seals `content_json` as the record of version `version` of prompt
    /// `id` with no model rule applied (the metadata is not changed). A
    /// test hook for degraded reads, not API.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] for an unknown prompt; [`Error::Randomness`].
    #[doc(hidden)]
    pub fn unchecked_version_for_tests(
        &self,
        id: PromptId,
        version: VersionId,
        content_json: &[u8],
    ) -> Result<Changeset> {
        let p = self.prompt(id)?;
        let (generation, item) = p.current_key()?;
        let h = record_header(
            RecordKind::PromptVersion,
            self.id(),
            generation,
            id,
            Some(version),
            0,
        );
        let mut changes = Changeset::default();
        changes.put_new(sealing::seal(item, h, content_json)?);
        Ok(changes)
    }

    /// Seals `plaintext` as index segment `segment` of prompt `id` with no
    /// rule applied (the metadata is not changed): what a buggy or hostile
    /// client holding the keys could write. A test hook for degraded
    /// reads, not API.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] for an unknown prompt; [`Error::Randomness`].
    #[doc(hidden)]
    pub fn unchecked_segment_for_tests(
        &self,
        id: PromptId,
        segment: SegmentId,
        plaintext: &[u8],
    ) -> Result<Changeset> {
        let p = self.prompt(id)?;
        let (generation, item) = p.current_key()?;
        let mut changes = Changeset::default();
        changes.put_new(sealing::seal(
            item,
            segment_header(self.id(), generation, id, segment),
            plaintext,
        )?);
        Ok(changes)
    }
}
