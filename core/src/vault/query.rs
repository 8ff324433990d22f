//! Finding prompts: list with tag/flag filters (metadata only), text
//! search (decrypts only the current version of each candidate), tag
//! counts, and line diffs between versions.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::Vault;
use crate::error::Result;
use crate::ids::{PromptId, VersionId};
use crate::model::PromptSummary;
use crate::tags;

/// How a set of tags filters prompts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TagMode {
    /// Prompts with at least one of the tags.
    #[default]
    Any,
    /// Prompts with every one of the tags.
    All,
    /// Prompts with none of the tags.
    None,
}

/// How archived prompts are treated.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ArchivedFilter {
    /// Hide archived prompts (the default).
    #[default]
    Exclude,
    /// Show archived and live prompts.
    Include,
    /// Show only archived prompts.
    Only,
}

/// A search. The default matches every non-archived prompt.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct Query {
    /// Case-insensitive text to find in the current version's title, body or note.
    pub text: Option<String>,
    /// Tags to filter by (matched case-insensitively).
    pub tags: Vec<String>,
    /// How `tags` combine.
    pub tag_mode: TagMode,
    /// Only favorites.
    pub favorites_only: bool,
    /// Archived prompts.
    pub archived: ArchivedFilter,
}

/// A tag and how many prompts carry it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TagCount {
    /// The spelling most prompts use.
    pub tag: String,
    /// Number of prompts (damaged prompts excluded).
    pub count: usize,
}

/// One line of a diff.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DiffOp {
    /// In both versions.
    Equal,
    /// Only in the newer one.
    Insert,
    /// Only in the older one.
    Delete,
}

/// A line of a diff, without its line ending.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DiffLine {
    /// What happened to it.
    pub op: DiffOp,
    /// The line.
    pub text: String,
}

impl Vault {
    /// Prompts matching `query`, most recently updated first.
    ///
    /// Tag, favorite and archive filters read metadata only; a text query
    /// then decrypts the current version of the remaining candidates.
    ///
    /// # Errors
    ///
    /// [`crate::Error::Authentication`] if a candidate's version record was tampered with.
    pub fn list(&self, query: &Query) -> Result<Vec<PromptSummary>> {
        let wanted: BTreeSet<String> = query.tags.iter().map(|t| tags::fold(t)).collect();
        let needle = query
            .text
            .as_deref()
            .map(tags::fold_text)
            .filter(|n| !n.is_empty());
        let mut out = Vec::new();
        for (id, p) in &self.prompts {
            let m = &p.meta;
            let archived_ok = match query.archived {
                super::ArchivedFilter::Exclude => !m.archived,
                super::ArchivedFilter::Include => true,
                super::ArchivedFilter::Only => m.archived,
            };
            if !archived_ok || (query.favorites_only && !m.favorite) {
                continue;
            }
            if !wanted.is_empty() {
                let have: BTreeSet<String> = m.tags.iter().map(|t| tags::fold(t)).collect();
                let ok = match query.tag_mode {
                    TagMode::Any => !have.is_disjoint(&wanted),
                    TagMode::All => wanted.is_subset(&have),
                    TagMode::None => have.is_disjoint(&wanted),
                };
                if !ok {
                    continue;
                }
            }
            if let Some(needle) = &needle {
                let v = self.version(*id, None)?;
                let hit = [&v.title, &v.body, &v.note]
                    .iter()
                    .any(|field| tags::fold_text(field).contains(needle.as_str()));
                if !hit {
                    continue;
                }
            }
            out.push(self.summary(*id)?);
        }
        out.sort_by_key(|s| core::cmp::Reverse((s.updated, s.id)));
        Ok(out)
    }

    /// One prompt's summary (metadata only).
    ///
    /// # Errors
    ///
    /// [`crate::Error::NotFound`] for an unknown prompt.
    pub fn summary(&self, id: PromptId) -> Result<PromptSummary> {
        let p = self.prompt(id)?;
        let m = &p.meta;
        Ok(PromptSummary {
            id,
            title: m.title.clone(),
            tags: m.tags.clone(),
            favorite: m.favorite,
            archived: m.archived,
            current_version: m.current,
            version_count: m.versions.len(),
            revision: p.revision,
            created: m.created,
            updated: m.updated,
        })
    }

    /// Every prompt id, in id order (damaged prompts excluded: see
    /// [`Vault::damaged_prompts`]).
    #[must_use]
    pub fn prompt_ids(&self) -> Vec<PromptId> {
        self.prompts.keys().copied().collect()
    }

    /// Number of prompts (damaged prompts excluded).
    #[must_use]
    pub fn len(&self) -> usize {
        self.prompts.len()
    }

    /// Whether the vault holds no prompt.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.prompts.is_empty()
    }

    /// Every tag with the number of prompts that carry it, by count then
    /// name. Tags that differ only by case or normalisation count as one,
    /// shown in the spelling most prompts use.
    #[must_use]
    pub fn tags(&self) -> Vec<TagCount> {
        let mut by_key: BTreeMap<String, BTreeMap<String, usize>> = BTreeMap::new();
        for p in self.prompts.values() {
            for t in &p.meta.tags {
                *by_key
                    .entry(tags::fold(t))
                    .or_default()
                    .entry(t.clone())
                    .or_default() += 1;
            }
        }
        let mut out: Vec<TagCount> = by_key
            .into_values()
            .map(|spellings| {
                let count = spellings.values().sum();
                let tag = spellings
                    .iter()
                    .max_by(|a, b| a.1.cmp(b.1).then_with(|| b.0.cmp(a.0)))
                    .map(|(s, _)| s.clone())
                    .unwrap_or_default();
                TagCount { tag, count }
            })
            .collect();
        out.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.tag.cmp(&b.tag)));
        out
    }

    /// A line diff of the bodies of two versions (`from` → `to`).
    ///
    /// # Errors
    ///
    /// [`crate::Error::NotFound`] for an unknown prompt or version.
    pub fn diff(&self, id: PromptId, from: VersionId, to: VersionId) -> Result<Vec<DiffLine>> {
        let a = self.version(id, Some(from))?;
        let b = self.version(id, Some(to))?;
        let diff = similar::TextDiff::from_lines(&a.body, &b.body);
        Ok(diff
            .iter_all_changes()
            .map(|c| DiffLine {
                op: match c.tag() {
                    similar::ChangeTag::Equal => DiffOp::Equal,
                    similar::ChangeTag::Insert => DiffOp::Insert,
                    similar::ChangeTag::Delete => DiffOp::Delete,
                },
                text: c.value().trim_end_matches(['\n', '\r']).to_owned(),
            })
            .collect())
    }
}
