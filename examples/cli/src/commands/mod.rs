//! Running a parsed command: the vault's lock for its whole run, then the
//! function of its group. Each group is a module; they share helpers from
//! the crate root ([`crate::session`], [`crate::output`]…), never each
//! other.

mod keys;
mod organize;
mod prompts;
mod share;
mod sync;
mod transfer;

use std::io::Write;
use std::path::Path;

use crate::cli::{AccountCommand, Command};
use crate::fail::Fail;
use crate::lock::{self, Access};
use crate::{files, vault_file, views};
use organize::Flag;

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
            | Command::Identity { .. }
            | Command::Publish { .. } => Some(Access::Read),
            _ => Some(Access::Write),
        }
    }
}

/// Runs `command` on the vault at `path`, holding the vault's lock (see
/// [`lock`]) for all of it; `accept` is `--accept-rollback`.
///
/// # Errors
///
/// The command's failure.
pub(crate) fn run(
    command: Command,
    path: &Path,
    accept: bool,
    out: &mut impl Write,
) -> Result<(), Fail> {
    let Some(access) = command.access() else {
        return dispatch(command, path, accept, out);
    };
    if matches!(command, Command::Init(_) | Command::Sync(_)) {
        files::create_private_dir(files::parent_dir(path))?;
    } else if std::fs::symlink_metadata(path).is_err() {
        // Nothing to lock (and maybe no directory for the lock file).
        return Err(vault_file::missing(path));
    }
    let mut lock = lock::VaultLock::open(path, access)?;
    let _held = lock.acquire(access)?;
    dispatch(command, path, accept, out)
}

/// Calls the command's function.
fn dispatch(command: Command, path: &Path, accept: bool, out: &mut impl Write) -> Result<(), Fail> {
    match command {
        Command::Init(a) => keys::init(path, &a, out),
        Command::Passwd(a) => keys::passwd(path, &a, accept, out),
        Command::Recover(a) => keys::recover(path, &a, accept, out),
        Command::Rotate => keys::rotate(path, accept, out),
        Command::Add(a) => prompts::add(path, accept, out, a),
        Command::Edit(a) => prompts::edit(path, accept, out, a),
        Command::Show { id, version, json } => prompts::show(path, accept, out, &id, version, json),
        Command::History { id, json } => prompts::history(path, accept, out, &id, json),
        Command::Diff { id, from, to } => prompts::diff(path, accept, out, &id, &from, &to),
        Command::Restore { id, version } => prompts::restore(path, accept, out, &id, &version),
        Command::Rm { id } => prompts::rm(path, accept, out, &id),
        Command::Prune {
            id,
            keep,
            version,
            force,
        } => prompts::prune(path, accept, out, &id, keep, version, force),
        Command::List(a) => prompts::list(path, accept, out, a),
        Command::Publish { id, version, json } => {
            prompts::publish(path, accept, out, &id, version, json)
        }
        Command::Tag { id, tags } => organize::edit_tags(path, accept, out, &id, &tags, true),
        Command::Untag { id, tags } => organize::edit_tags(path, accept, out, &id, &tags, false),
        Command::Tags { json } => organize::tags(path, accept, out, json),
        Command::RenameTag { from, to } => organize::rename_tag(path, accept, out, &from, &to),
        Command::Favorite { id, off } => {
            organize::set_flag(path, accept, out, &id, Flag::Favorite, !off)
        }
        Command::Archive { id, off } => {
            organize::set_flag(path, accept, out, &id, Flag::Archived, !off)
        }
        Command::Export { file } => transfer::export(path, accept, out, &file),
        Command::Import { file } => transfer::import(path, accept, out, &file),
        Command::Inspect { json } => views::inspect(path, out, json),
        Command::Sync(a) => sync::sync(path, &a, accept, out),
        Command::Account(AccountCommand::Delete(to)) => sync::delete_account(path, &to, out),
        Command::Identity { json } => share::identity(path, accept, out, json),
        Command::Share(a) => share::share(path, accept, out, &a),
        Command::Inbox { json, to } => share::inbox(path, accept, out, &to, json),
        Command::Accept { id, to } => share::accept(path, accept, out, &id, &to),
        Command::Revoke(a) => share::revoke(path, accept, out, &a),
    }
}
