//! The commands that organize prompts: tags (`tag`, `untag`, `tags`,
//! `rename-tag`) and the favorite and archived flags (`favorite`,
//! `archive`).

use std::io::Write;
use std::path::Path;

use crate::clock::now;
use crate::fail::Fail;
use crate::output::say;
use crate::session::Session;
use crate::{term, views};

/// `tag` (`add`) and `untag`: prints the prompt's tags after the change.
pub(crate) fn edit_tags(
    path: &Path,
    accept: bool,
    out: &mut impl Write,
    id: &str,
    tags: &[String],
    add: bool,
) -> Result<(), Fail> {
    let mut s = Session::open(path, accept)?;
    let id = s.prompt(id)?;
    let c = if add {
        s.vault.add_tags(id, tags, now())
    } else {
        s.vault.remove_tags(id, tags, now())
    }
    .map_err(Fail::from_core)?;
    s.save(&c)?;
    let now_tags = s.vault.summary(id).map_err(Fail::from_core)?.tags;
    say(out, format!("Tags: {}", term::tags(&now_tags)))
}

/// `tags`: every tag with its count.
pub(crate) fn tags(
    path: &Path,
    accept: bool,
    out: &mut impl Write,
    as_json: bool,
) -> Result<(), Fail> {
    views::tags(out, &Session::open(path, accept)?.vault.tags(), as_json)
}

/// `rename-tag`: across the vault, merging into `to` if it exists.
pub(crate) fn rename_tag(
    path: &Path,
    accept: bool,
    out: &mut impl Write,
    from: &str,
    to: &str,
) -> Result<(), Fail> {
    let mut s = Session::open(path, accept)?;
    let c = s
        .vault
        .rename_tag(from, to, now())
        .map_err(Fail::from_core)?;
    s.save(&c)?;
    say(
        out,
        format!(
            "Renamed {} to {} on {} prompt(s)",
            term::inline(from),
            term::inline(to),
            c.puts.len()
        ),
    )
}

/// A prompt's flags.
#[derive(Clone, Copy)]
pub(crate) enum Flag {
    /// `favorite`.
    Favorite,
    /// `archive`.
    Archived,
}

/// `favorite` and `archive`: sets (`on`) or clears a flag.
pub(crate) fn set_flag(
    path: &Path,
    accept: bool,
    out: &mut impl Write,
    id: &str,
    flag: Flag,
    on: bool,
) -> Result<(), Fail> {
    let mut s = Session::open(path, accept)?;
    let id = s.prompt(id)?;
    let c = match flag {
        Flag::Favorite => s.vault.set_favorite(id, on, now()),
        Flag::Archived => s.vault.set_archived(id, on, now()),
    }
    .map_err(Fail::from_core)?;
    s.save(&c)?;
    say(
        out,
        match (flag, on) {
            (Flag::Favorite, true) => "Marked as favorite.",
            (Flag::Favorite, false) => "Favorite cleared.",
            (Flag::Archived, true) => "Archived.",
            (Flag::Archived, false) => "Unarchived.",
        },
    )
}
