//! `promptvault`: private prompts in one local, encrypted vault file.
//!
//! A thin shell over the `promptvault` crate: it locks the vault file,
//! reads and unlocks it, checks it against what this device saw before,
//! calls one vault operation, and writes the returned changeset back
//! atomically. Everything cryptographic happens in the crate.

mod cli;
mod fail;
mod files;
mod input;
mod keys;
mod lock;
mod output;
mod remote;
mod secrets;
mod seen_state;
mod session;
mod sync_cmd;
mod term;
mod vault_file;
mod views;

use std::io::Write;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use clap::Parser;
use promptvault::{ArchivedFilter, Draft, Query, TagMode, Timestamp};

use cli::{AccountCommand, Cli, Command};
use fail::{Fail, Kind};
use input::{parse_settings, read_body};
use lock::Access;
use output::{say, short};
use session::Session;

fn main() {
    let cli = Cli::parse();
    let path = cli.vault.clone().unwrap_or_else(vault_file::default_path);
    let mut out = std::io::stdout().lock();
    if let Err(f) = locked(cli.command, &path, cli.accept_rollback, &mut out) {
        let _ = out.flush();
        if f.broken_pipe {
            std::process::exit(0);
        }
        eprintln!("promptvault: {}", f.message);
        std::process::exit(f.kind as i32);
    }
    if let Err(e) = out.flush() {
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            eprintln!("promptvault: writing output: {e}");
            std::process::exit(Kind::Io as i32);
        }
    }
}

impl Command {
    /// How the command uses the vault file; `None` for `inspect`, which
    /// reads one atomically replaced file and touches no state.
    fn access(&self) -> Option<Access> {
        match self {
            Command::Inspect { .. } | Command::Account(_) => None,
            Command::Show { .. }
            | Command::History { .. }
            | Command::Diff { .. }
            | Command::List(_)
            | Command::Tags { .. }
            | Command::Export { .. }
            | Command::Publish { .. } => Some(Access::Read),
            _ => Some(Access::Write),
        }
    }
}

/// Runs `command` holding the vault's lock (see [`lock`]) for all of it.
fn locked(command: Command, path: &Path, accept: bool, out: &mut impl Write) -> Result<(), Fail> {
    let Some(access) = command.access() else {
        return run(command, path, accept, out);
    };
    if matches!(command, Command::Init(_) | Command::Sync(_)) {
        files::create_private_dir(files::parent_dir(path))?;
    } else if std::fs::symlink_metadata(path).is_err() {
        // Nothing to lock (and maybe no directory for the lock file).
        return Err(vault_file::missing(path));
    }
    let mut lock = lock::VaultLock::open(path, access)?;
    let _held = lock.acquire(access)?;
    run(command, path, accept, out)
}

fn now() -> Timestamp {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    Timestamp(u64::try_from(ms).unwrap_or(u64::MAX))
}

fn edit_tags(
    s: &mut Session,
    out: &mut impl Write,
    id: &str,
    tags: &[String],
    add: bool,
) -> Result<(), Fail> {
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

#[derive(Clone, Copy)]
enum Flag {
    Favorite,
    Archived,
}

fn set_flag(
    s: &mut Session,
    out: &mut impl Write,
    id: &str,
    flag: Flag,
    on: bool,
) -> Result<(), Fail> {
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

fn prune(
    s: &mut Session,
    out: &mut impl Write,
    id: &str,
    keep: Option<usize>,
    version: Option<String>,
    force: bool,
) -> Result<(), Fail> {
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

/// `export`: refuses to write onto the vault itself (by any name).
fn export(s: &Session, path: &Path, out: &mut impl Write, file: &Path) -> Result<(), Fail> {
    if files::same_file(file, path) || files::resolve(file)? == files::resolve(path)? {
        return Err(Fail::invalid(format!(
            "{} is the vault file itself; export to another file",
            file.display()
        )));
    }
    let pw = secrets::new_password("PROMPTVAULT_EXPORT_PASSWORD", "Export file password")?;
    let bytes = s
        .vault
        .export(&pw, s.vault.kdf_params())
        .map_err(Fail::from_core)?;
    files::write_atomic(file, &bytes)?;
    say(
        out,
        format!("Exported {} prompt(s) to {}", s.vault.len(), file.display()),
    )
}

#[allow(clippy::too_many_lines)]
fn run(command: Command, path: &Path, accept: bool, out: &mut impl Write) -> Result<(), Fail> {
    let open = || Session::open(path, accept);
    match command {
        Command::Init(a) => keys::init(path, &a, out),
        Command::Passwd(a) => keys::passwd(path, &a, accept, out),
        Command::Recover(a) => keys::recover(path, &a, accept, out),
        Command::Rotate => keys::rotate(path, accept, out),
        Command::Add(a) => {
            let body = read_body(&a.body, true)?.unwrap_or_default();
            let draft = Draft {
                title: a.title,
                body,
                settings: parse_settings(a.settings.as_ref())?,
                note: a.note,
            };
            let mut s = open()?;
            let (id, c) = s
                .vault
                .create_prompt(&draft, &a.tags, a.favorite, now())
                .map_err(Fail::from_core)?;
            s.save(&c)?;
            say(out, format!("Added {id}"))
        }
        Command::Edit(a) => {
            let body = read_body(&a.body, false)?;
            let mut s = open()?;
            let id = s.prompt(&a.id)?;
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
        Command::Show {
            id,
            version,
            json: as_json,
        } => {
            let s = open()?;
            let id = s.prompt(&id)?;
            let vid = version.map(|v| s.version(id, &v)).transpose()?;
            let v = s.vault.version(id, vid).map_err(Fail::from_core)?;
            let summary = s.vault.summary(id).map_err(Fail::from_core)?;
            views::show(out, &summary, &v, as_json)
        }
        Command::History { id, json: as_json } => {
            let s = open()?;
            let id = s.prompt(&id)?;
            let h = s.vault.history(id).map_err(Fail::from_core)?;
            let current = s
                .vault
                .summary(id)
                .map_err(Fail::from_core)?
                .current_version;
            views::history(out, &h, current, as_json)
        }
        Command::Diff { id, from, to } => {
            let s = open()?;
            let id = s.prompt(&id)?;
            let (a, b) = (s.version(id, &from)?, s.version(id, &to)?);
            views::diff(out, &s.vault.diff(id, a, b).map_err(Fail::from_core)?)
        }
        Command::Restore { id, version } => {
            let mut s = open()?;
            let id = s.prompt(&id)?;
            let v = s.version(id, &version)?;
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
        Command::Rm { id } => {
            let mut s = open()?;
            let id = s.any_prompt(&id)?;
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
        Command::Prune {
            id,
            keep,
            version,
            force,
        } => prune(&mut open()?, out, &id, keep, version, force),
        Command::List(a) => {
            let s = open()?;
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
            let list = s.vault.list(&query).map_err(Fail::from_core)?;
            s.warn_damaged();
            views::list(out, &list, a.json)
        }
        Command::Tag { id, tags } => edit_tags(&mut open()?, out, &id, &tags, true),
        Command::Untag { id, tags } => edit_tags(&mut open()?, out, &id, &tags, false),
        Command::Tags { json: as_json } => views::tags(out, &open()?.vault.tags(), as_json),
        Command::RenameTag { from, to } => {
            let mut s = open()?;
            let c = s
                .vault
                .rename_tag(&from, &to, now())
                .map_err(Fail::from_core)?;
            s.save(&c)?;
            say(
                out,
                format!(
                    "Renamed {} to {} on {} prompt(s)",
                    term::inline(&from),
                    term::inline(&to),
                    c.puts.len()
                ),
            )
        }
        Command::Favorite { id, off } => set_flag(&mut open()?, out, &id, Flag::Favorite, !off),
        Command::Archive { id, off } => set_flag(&mut open()?, out, &id, Flag::Archived, !off),
        Command::Export { file } => export(&open()?, path, out, &file),
        Command::Import { file } => {
            let bytes = input::read_export(&file)?;
            let mut s = open()?;
            let pw = secrets::password_from("PROMPTVAULT_EXPORT_PASSWORD", "Export file password")?;
            let r = s
                .vault
                .import(&bytes, &pw, now())
                .map_err(|e| Fail::from_core(e).context("import"))?;
            s.save(&r.changes)?;
            say(
                out,
                format!(
                    "Imported {} new prompt(s), {} new version(s)",
                    r.prompts_added, r.versions_added
                ),
            )?;
            for refused in &r.refused {
                eprintln!(
                    "promptvault: warning: prompt {} of the export was not imported: {}",
                    short(&refused.id.to_hex()),
                    refused.reason
                );
            }
            Ok(())
        }
        Command::Publish {
            id,
            version,
            json: as_json,
        } => {
            let s = open()?;
            let id = s.prompt(&id)?;
            let vid = version.map(|v| s.version(id, &v)).transpose()?;
            views::publish(
                out,
                &s.vault.publish(id, vid).map_err(Fail::from_core)?,
                as_json,
            )
        }
        Command::Inspect { json: as_json } => views::inspect(path, out, as_json),
        Command::Sync(a) => sync_cmd::sync(path, &a, accept, out),
        Command::Account(AccountCommand::Delete(to)) => sync_cmd::delete_account(path, &to, out),
    }
}
