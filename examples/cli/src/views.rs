//! What the commands that only read the vault print: `show`, `history`,
//! `diff`, `list`, `tags`, `publish`, and all of `inspect` (it reads the
//! file itself, with no password). User text goes through [`crate::term`]
//! before it reaches the terminal.

use std::io::Write;
use std::path::Path;

use promptvault::{DiffOp, PromptSummary, TagCount, Version, VersionEntry};
use serde::Serialize;

use crate::fail::Fail;
use crate::output::{fmt_time, json, say, short};
use crate::term::{self, Body};
use crate::vault_file;

/// `show`: one version, with the prompt's tags and flags.
///
/// # Errors
///
/// As [`say`].
pub(crate) fn show(
    out: &mut impl Write,
    summary: &PromptSummary,
    v: &Version,
    as_json: bool,
) -> Result<(), Fail> {
    if as_json {
        return json(out, &serde_json::json!({"prompt": summary, "version": v}));
    }
    let star = if summary.favorite { "  ★" } else { "" };
    say(out, format!("{}{star}", term::inline(&v.title)))?;
    say(
        out,
        format!(
            "prompt {}  version {}  {}",
            summary.id,
            v.id,
            fmt_time(v.created)
        ),
    )?;
    say(out, format!("tags: {}", term::tags(&summary.tags)))?;
    if !v.note.is_empty() {
        say(out, format!("note: {}", term::inline(&v.note)))?;
    }
    if let Some(st) = &v.settings {
        say(out, format!("settings: {}", term::inline(&st.to_string())))?;
    }
    say(out, "")?;
    say(out, Body::for_stdout().show(&v.body))
}

/// `history`: one line per version, the current one starred.
///
/// # Errors
///
/// As [`say`].
pub(crate) fn history(
    out: &mut impl Write,
    h: &[VersionEntry],
    current: promptvault::VersionId,
    as_json: bool,
) -> Result<(), Fail> {
    if as_json {
        return json(out, &h);
    }
    for (i, e) in h.iter().enumerate() {
        let mark = if e.id == current { "*" } else { " " };
        let parent = e.parent.map(|p| p.to_hex()).unwrap_or_default();
        say(
            out,
            format!(
                "{mark}{:>3}  {}  {}  parent {:8}  {}",
                i + 1,
                short(&e.id.to_hex()),
                fmt_time(e.created),
                short(&parent),
                term::inline(&e.title)
            ),
        )?;
    }
    Ok(())
}

/// `diff`: the lines of two bodies, marked ` `, `+` or `-`.
///
/// # Errors
///
/// As [`say`].
pub(crate) fn diff(out: &mut impl Write, lines: &[promptvault::DiffLine]) -> Result<(), Fail> {
    let body = Body::for_stdout();
    for line in lines {
        let sign = match line.op {
            DiffOp::Equal => ' ',
            DiffOp::Insert => '+',
            DiffOp::Delete => '-',
        };
        say(out, format!("{sign} {}", body.show(&line.text)))?;
    }
    Ok(())
}

/// `list`: one line per prompt and a count.
///
/// # Errors
///
/// As [`say`].
pub(crate) fn list(out: &mut impl Write, list: &[Listed], as_json: bool) -> Result<(), Fail> {
    if as_json {
        return json(out, &list);
    }
    for l in list {
        let p = &l.prompt;
        let star = if p.favorite { "★" } else { " " };
        let shared = match &l.shared {
            None => String::new(),
            Some(s) if s.removed => format!("  (shared by {}; you were removed)", s.owner),
            Some(s) if s.with.is_empty() => {
                format!("  (shared space of {}; no other member)", s.owner)
            }
            Some(s) => format!("  shared with {}", s.with.join(", ")),
        };
        say(
            out,
            format!(
                "{}  {star} {}  [{}]  v{}{shared}",
                short(&p.id.to_hex()),
                term::inline(&p.title),
                term::tags(&p.tags),
                p.version_count
            ),
        )?;
    }
    say(out, format!("{} prompt(s)", list.len()))
}

/// One line of `list`: a prompt, and whom it is shared with.
#[derive(Serialize)]
pub(crate) struct Listed {
    #[serde(flatten)]
    pub(crate) prompt: PromptSummary,
    /// Set for a prompt in a shared space.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) shared: Option<SharedWith>,
}

/// The space a listed prompt is shared in.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SharedWith {
    /// The space (hex).
    pub(crate) space: String,
    /// Its owner.
    pub(crate) owner: String,
    /// The other members (everyone but this account).
    pub(crate) with: Vec<String>,
    /// Whether this account was removed from it.
    pub(crate) removed: bool,
}

/// `tags`: every tag with its count.
///
/// # Errors
///
/// As [`say`].
pub(crate) fn tags(out: &mut impl Write, tags: &[TagCount], as_json: bool) -> Result<(), Fail> {
    if as_json {
        return json(out, &tags);
    }
    for t in tags {
        say(out, format!("{:>5}  {}", t.count, term::inline(&t.tag)))?;
    }
    Ok(())
}

/// `publish`: one version as plaintext.
///
/// # Errors
///
/// As [`say`].
pub(crate) fn publish(
    out: &mut impl Write,
    p: &promptvault::Published,
    as_json: bool,
) -> Result<(), Fail> {
    if as_json {
        return json(out, p);
    }
    say(
        out,
        format!(
            "# {}\n\n{}",
            term::inline(&p.title),
            Body::for_stdout().show(&p.body)
        ),
    )
}

/// `inspect`: what a server would store. Needs no password and takes no
/// lock: it reads one atomically replaced file.
///
/// # Errors
///
/// As reading the vault; Corrupt for a record that does not parse.
pub(crate) fn inspect(path: &Path, out: &mut impl Write, as_json: bool) -> Result<(), Fail> {
    let store = vault_file::read(path)?;
    let mut infos = Vec::new();
    if let Some(h) = store.header() {
        infos.push(promptvault::inspect::inspect(h).map_err(Fail::from_core)?);
    }
    for r in store.records() {
        infos.push(promptvault::inspect::inspect(r.as_bytes()).map_err(Fail::from_core)?);
    }
    if as_json {
        return json(out, &infos);
    }
    say(out, "What a server stores (no key needed, no plaintext):")?;
    for i in &infos {
        say(
            out,
            format!(
                "  {:<15} {:>7} B  gen {}  rev {:<3} {}",
                i.kind, i.size, i.key_generation, i.revision, i.storage_key
            ),
        )?;
    }
    let total: usize = infos.iter().map(|i| i.size).sum();
    say(out, format!("{} record(s), {total} bytes", infos.len()))
}
