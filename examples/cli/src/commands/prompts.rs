//! The commands on prompts and their versions: `add`, `edit`, `show`,
//! `history`, `diff`, `restore`, `rm`, `prune`, `list`, `publish`. What
//! they print is laid out in [`crate::views`].

use std::io::Write;
use std::path::Path;

use promptvault::{ArchivedFilter, Draft, PromptId, Query, TagMode, VersionId};

use crate::cli::{AddArgs, EditArgs, ListArgs};
use crate::clock::now;
use crate::fail::Fail;
use crate::input::{parse_settings, read_body};
use crate::output::{say, short};
use crate::session::Session;
use crate::side_file::Side;
use crate::views::{Listed, SharedWith};
use crate::{sharing, sync_cache, views};

/// `add`: the body is read before the vault is opened.
pub(crate) fn add(path: &Path, accept: bool, out: &mut impl Write, a: AddArgs) -> Result<(), Fail> {
    let body = read_body(&a.body, true)?.unwrap_or_default();
    let draft = Draft {
        title: a.title,
        body,
        settings: parse_settings(a.settings.as_ref())?,
        note: a.note,
    };
    let mut s = Session::open(path, accept)?;
    let (id, c) = s
        .vault
        .create_prompt(&draft, &a.tags, a.favorite, now())
        .map_err(Fail::from_core)?;
    s.save(&c)?;
    say(out, format!("Added {id}"))
}

/// `edit`: a new version; fields not given are kept from the current one.
pub(crate) fn edit(
    path: &Path,
    accept: bool,
    out: &mut impl Write,
    a: EditArgs,
) -> Result<(), Fail> {
    let body = read_body(&a.body, false)?;
    let (mut s, id) = sharing::open_prompt(path, accept, &a.id)?;
    let cur = s.vault.version(id, None).map_err(Fail::from_core)?;
    let draft = Draft {
        title: a.title.unwrap_or(cur.title),
        body: body.unwrap_or(cur.body),
        settings: match a.settings {
            Some(j) => parse_settings(Some(&j))?,
            None => cur.settings,
        },
        note: a.note.unwrap_or_default(),
    };
    let (vid, c) = s
        .vault
        .add_version(id, &draft, now())
        .map_err(Fail::from_core)?;
    s.save(&c)?;
    let n = s.vault.history(id).map_err(Fail::from_core)?.len();
    say(
        out,
        format!(
            "Prompt {} now at version {n} ({})",
            short(&id.to_hex()),
            short(&vid.to_hex())
        ),
    )
}

/// Opens the vault and finds prompt `id` and, if given, its `version` (a
/// number from `history` or a version id prefix).
fn open_version(
    path: &Path,
    accept: bool,
    id: &str,
    version: Option<&str>,
) -> Result<(Session, PromptId, Option<VersionId>), Fail> {
    let (s, id) = sharing::open_prompt(path, accept, id)?;
    let vid = version.map(|v| s.version(id, v)).transpose()?;
    Ok((s, id, vid))
}

/// `show`: the current version, or `version`.
pub(crate) fn show(
    path: &Path,
    accept: bool,
    out: &mut impl Write,
    id: &str,
    version: Option<String>,
    as_json: bool,
) -> Result<(), Fail> {
    let (s, id, vid) = open_version(path, accept, id, version.as_deref())?;
    let v = s.vault.version(id, vid).map_err(Fail::from_core)?;
    let summary = s.vault.summary(id).map_err(Fail::from_core)?;
    views::show(out, &summary, &v, as_json)
}

/// `history`: every version, oldest first.
pub(crate) fn history(
    path: &Path,
    accept: bool,
    out: &mut impl Write,
    id: &str,
    as_json: bool,
) -> Result<(), Fail> {
    let (s, id) = sharing::open_prompt(path, accept, id)?;
    let h = s.vault.history(id).map_err(Fail::from_core)?;
    let current = s
        .vault
        .summary(id)
        .map_err(Fail::from_core)?
        .current_version;
    views::history(out, &h, current, as_json)
}

/// `diff`: the bodies of two versions, line by line.
pub(crate) fn diff(
    path: &Path,
    accept: bool,
    out: &mut impl Write,
    id: &str,
    from: &str,
    to: &str,
) -> Result<(), Fail> {
    let (s, id) = sharing::open_prompt(path, accept, id)?;
    let (a, b) = (s.version(id, from)?, s.version(id, to)?);
    views::diff(out, &s.vault.diff(id, a, b).map_err(Fail::from_core)?)
}

/// `restore`: an older version made current again, as a new version.
pub(crate) fn restore(
    path: &Path,
    accept: bool,
    out: &mut impl Write,
    id: &str,
    version: &str,
) -> Result<(), Fail> {
    let (mut s, id) = sharing::open_prompt(path, accept, id)?;
    let v = s.version(id, version)?;
    let (nv, c) = s
        .vault
        .restore_version(id, v, now())
        .map_err(Fail::from_core)?;
    s.save(&c)?;
    say(
        out,
        format!(
            "Restored {} as new version {}",
            short(&v.to_hex()),
            short(&nv.to_hex())
        ),
    )
}

/// `rm`: a prompt and every record it has (a damaged one too).
pub(crate) fn rm(path: &Path, accept: bool, out: &mut impl Write, id: &str) -> Result<(), Fail> {
    let mut s = Session::open(path, accept)?;
    let id = s.any_prompt(id)?;
    let c = s.vault.delete_prompt(id).map_err(Fail::from_core)?;
    s.save(&c)?;
    say(
        out,
        format!(
            "Deleted prompt {} ({} records removed)",
            short(&id.to_hex()),
            c.deletes.len()
        ),
    )
}

/// `prune`: keep the newest `keep` versions, or delete `version` (the
/// current one only with `force`).
pub(crate) fn prune(
    path: &Path,
    accept: bool,
    out: &mut impl Write,
    id: &str,
    keep: Option<usize>,
    version: Option<String>,
    force: bool,
) -> Result<(), Fail> {
    let mut s = Session::open(path, accept)?;
    let id = s.prompt(id)?;
    let c = match (keep, version) {
        (_, Some(spec)) => {
            let v = s.version(id, &spec)?;
            let current = s
                .vault
                .summary(id)
                .map_err(Fail::from_core)?
                .current_version;
            if v == current && !force {
                return Err(Fail::invalid(format!(
                    "version {spec} is the current version of prompt {}; make another version \
                     current first (`restore`), or pass --force to delete it anyway",
                    short(&id.to_hex())
                )));
            }
            s.vault.delete_version(id, v, now())
        }
        (Some(k), None) => s.vault.prune_history(id, k, now()),
        (None, None) => return Err(Fail::invalid("give --keep N or --version V")),
    }
    .map_err(Fail::from_core)?;
    s.save(&c)?;
    say(
        out,
        format!("Removed {} version record(s)", c.deletes.len()),
    )
}

/// `list`: the prompts that match the filters, most recent first.
pub(crate) fn list(
    path: &Path,
    accept: bool,
    out: &mut impl Write,
    a: ListArgs,
) -> Result<(), Fail> {
    let s = Session::open(path, accept)?;
    let query = Query {
        text: a.search,
        tags: a.tags,
        tag_mode: if a.all {
            TagMode::All
        } else if a.none {
            TagMode::None
        } else {
            TagMode::Any
        },
        favorites_only: a.favorite,
        archived: if a.archived {
            ArchivedFilter::Only
        } else {
            ArchivedFilter::Exclude
        },
    };
    let mut list: Vec<Listed> = s
        .vault
        .list(&query)
        .map_err(Fail::from_core)?
        .into_iter()
        .map(|prompt| Listed {
            prompt,
            shared: None,
        })
        .collect();
    s.warn_damaged();
    // And the prompts of the shared spaces held here.
    let side = Side::load(path, &s.vault)?;
    let me = sync_cache::remembered(path).ok().map(|l| l.account);
    let before = list.len();
    for (hex, space) in sharing::held_spaces(&side, &s.vault, accept) {
        let entry = side.data.spaces.get(&hex).cloned().unwrap_or_default();
        for prompt in space.vault.list(&query).map_err(Fail::from_core)? {
            list.push(Listed {
                prompt,
                shared: Some(SharedWith {
                    space: hex.clone(),
                    owner: entry.owner.clone(),
                    with: entry
                        .members
                        .iter()
                        .filter(|m| Some(*m) != me.as_ref())
                        .cloned()
                        .collect(),
                    removed: entry.removed,
                }),
            });
        }
    }
    if list.len() > before {
        list.sort_by_key(|l| std::cmp::Reverse(l.prompt.updated));
    }
    views::list(out, &list, a.json)
}

/// `publish`: one version as plaintext.
pub(crate) fn publish(
    path: &Path,
    accept: bool,
    out: &mut impl Write,
    id: &str,
    version: Option<String>,
    as_json: bool,
) -> Result<(), Fail> {
    let (s, id, vid) = open_version(path, accept, id, version.as_deref())?;
    views::publish(
        out,
        &s.vault.publish(id, vid).map_err(Fail::from_core)?,
        as_json,
    )
}
