//! The command line: every command, argument and flag, and the help text
//! (clap's derive). Parsing only; the commands run in [`crate::commands`].
//!
//! clap turns doc comments into help text, so the notes on types that had
//! none before are plain comments: `--help` stays as it was.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::fail::EXIT_CODES;

// The command line.
#[derive(Parser)]
#[command(name = "promptvault", version, about = "Private prompts, encrypted on this device.", after_help = help_tail())]
pub(crate) struct Cli {
    /// The vault file (default: $PROMPTVAULT_VAULT, else ~/.local/share/promptvault/vault.pvlt).
    #[arg(long, global = true, env = "PROMPTVAULT_VAULT")]
    pub(crate) vault: Option<PathBuf>,
    /// Open a vault older than the one this device saw before (after a
    /// restore from a backup) and record it as the new state.
    #[arg(long, global = true)]
    pub(crate) accept_rollback: bool,
    #[command(subcommand)]
    pub(crate) command: Command,
}

const PASSWORD_HELP: &str = "\
Passwords come from $PROMPTVAULT_PASSWORD (new ones from $PROMPTVAULT_NEW_PASSWORD,
export files from $PROMPTVAULT_EXPORT_PASSWORD, recovery keys from
$PROMPTVAULT_RECOVERY_KEY), otherwise they are asked on the terminal without echo.";

fn help_tail() -> String {
    format!("{PASSWORD_HELP}\n\n{EXIT_CODES}")
}

// The commands.
#[derive(Subcommand)]
pub(crate) enum Command {
    /// Create a new vault and print its recovery key (once).
    Init(InitArgs),
    /// Change the vault password (no content is re-encrypted unless --rotate).
    Passwd(RotateArgs),
    /// Unlock with the recovery key, set a new password and get a new recovery key.
    Recover(RotateArgs),
    /// Rotate to a new vault key: re-encrypt everything, issue a new recovery key.
    Rotate,
    /// Add a prompt. The body comes from --body, --file, or standard input.
    Add(AddArgs),
    /// Add a new version of a prompt (unchanged fields are kept).
    Edit(EditArgs),
    /// Show a prompt (its current version, or --version).
    Show {
        /// Prompt id (a unique prefix is enough).
        id: String,
        /// Version: a number from `history` or a version id prefix.
        #[arg(long)]
        version: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// List a prompt's versions, oldest first.
    History {
        /// Prompt id.
        id: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Line diff of the bodies of two versions.
    Diff {
        /// Prompt id.
        id: String,
        /// From version (number or id prefix).
        from: String,
        /// To version (number or id prefix).
        to: String,
    },
    /// Make an older version current again (as a new version).
    Restore {
        /// Prompt id.
        id: String,
        /// Version to restore (number or id prefix).
        version: String,
    },
    /// Delete a prompt and every record it has.
    Rm {
        /// Prompt id.
        id: String,
    },
    /// Delete old versions: keep the newest N, or delete one.
    Prune {
        /// Prompt id.
        id: String,
        /// Keep the newest N versions (and the current one).
        #[arg(long, conflicts_with = "version")]
        keep: Option<usize>,
        /// Delete this one version.
        #[arg(long)]
        version: Option<String>,
        /// Allow --version to delete the current version.
        #[arg(long, requires = "version")]
        force: bool,
    },
    /// List prompts, most recent first, with filters and text search.
    List(ListArgs),
    /// Add tags to a prompt.
    Tag {
        /// Prompt id.
        id: String,
        /// Tags.
        #[arg(required = true)]
        tags: Vec<String>,
    },
    /// Remove tags from a prompt.
    Untag {
        /// Prompt id.
        id: String,
        /// Tags.
        #[arg(required = true)]
        tags: Vec<String>,
    },
    /// List every tag with its count.
    Tags {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Rename (or merge) a tag across the vault.
    RenameTag {
        /// Existing tag.
        from: String,
        /// New name (merges if it exists).
        to: String,
    },
    /// Mark a prompt as favorite (or clear it with --off).
    Favorite {
        /// Prompt id.
        id: String,
        /// Clear the flag.
        #[arg(long)]
        off: bool,
    },
    /// Archive a prompt (or unarchive with --off).
    Archive {
        /// Prompt id.
        id: String,
        /// Clear the flag.
        #[arg(long)]
        off: bool,
    },
    /// Write every prompt with its history to an export file with its own password.
    Export {
        /// Output file.
        file: PathBuf,
    },
    /// Import an export file (importing the same file twice adds nothing).
    Import {
        /// Export file.
        file: PathBuf,
    },
    /// Print one version as plaintext, for sharing in public.
    Publish {
        /// Prompt id.
        id: String,
        /// Version (number or id prefix).
        #[arg(long)]
        version: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show what a server would store: record ids, kinds and sizes. Needs no password.
    Inspect {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Sync with a server that stores only ciphertext. The first run from an
    /// existing vault registers the account; with no vault file (or an
    /// empty one) it logs in and downloads; later runs pull, merge and push.
    Sync(SyncArgs),
    /// Your account on a sync server.
    #[command(subcommand)]
    Account(AccountCommand),
    /// Print this account's sharing fingerprint (made at the first sync),
    /// for the people who share with you to compare.
    Identity {
        /// Print JSON (`account`, `fingerprint`).
        #[arg(long)]
        json: bool,
    },
    /// Share a prompt with another account, end-to-end encrypted: it moves
    /// into a shared space (the same prompt id), and the space's key goes to
    /// ACCOUNT sealed to the identity whose fingerprint you give. Nothing is
    /// sent unless FP matches ACCOUNT's published identity.
    Share(ShareArgs),
    /// List the invitations to shared spaces waiting for you.
    Inbox {
        /// Print JSON (a list of invitations, each with an `id`).
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        to: ServerOpt,
    },
    /// Accept an invitation: take the space's key, download the space.
    Accept {
        /// The invitation id (from `inbox`; a unique prefix is enough).
        id: String,
        #[command(flatten)]
        to: ServerOpt,
    },
    /// Remove ACCOUNT from the space of a prompt you shared, and rotate the
    /// space's key so nothing written afterwards opens for them.
    Revoke(RevokeArgs),
}

/// The server and account for the sharing commands (default: the ones the
/// vault last synced with).
#[derive(Args)]
pub(crate) struct ServerOpt {
    /// The sync server (default: the one this vault last synced with).
    #[arg(long)]
    pub(crate) server: Option<String>,
    /// Your account there (default: the one this vault last synced as).
    #[arg(long)]
    pub(crate) account: Option<String>,
}

// `share` options.
#[derive(Args)]
pub(crate) struct ShareArgs {
    /// Prompt id (a unique prefix is enough).
    pub(crate) prompt: String,
    /// The account to share with.
    #[arg(long = "with")]
    pub(crate) with: String,
    /// Their fingerprint, as `promptvault identity` prints it on their side.
    #[arg(long)]
    pub(crate) fingerprint: String,
    #[command(flatten)]
    pub(crate) to: ServerOpt,
}

// `revoke` options.
#[derive(Args)]
pub(crate) struct RevokeArgs {
    /// Prompt id (a unique prefix is enough).
    pub(crate) prompt: String,
    /// The account to remove.
    #[arg(long)]
    pub(crate) from: String,
    #[command(flatten)]
    pub(crate) to: ServerOpt,
}

// `account` subcommands.
#[derive(Subcommand)]
pub(crate) enum AccountCommand {
    /// Erase the account and every record it owns from the server (after
    /// logging in afresh with the password). The local vault is kept.
    Delete(ServerArgs),
}

// `add` options.
#[derive(Args)]
pub(crate) struct AddArgs {
    /// Title.
    #[arg(long)]
    pub(crate) title: String,
    #[command(flatten)]
    pub(crate) body: BodyArgs,
    /// Tag (repeatable).
    #[arg(long = "tag")]
    pub(crate) tags: Vec<String>,
    /// Mark as favorite.
    #[arg(long)]
    pub(crate) favorite: bool,
    /// A note about this version.
    #[arg(long, default_value = "")]
    pub(crate) note: String,
    /// Generation settings as JSON (model, seed, size…).
    #[arg(long)]
    pub(crate) settings: Option<String>,
}

// `edit` options.
#[derive(Args)]
pub(crate) struct EditArgs {
    /// Prompt id.
    pub(crate) id: String,
    /// New title.
    #[arg(long)]
    pub(crate) title: Option<String>,
    #[command(flatten)]
    pub(crate) body: BodyArgs,
    /// Note for the new version.
    #[arg(long)]
    pub(crate) note: Option<String>,
    /// New generation settings as JSON.
    #[arg(long)]
    pub(crate) settings: Option<String>,
}

// `list` filters.
#[derive(Args)]
pub(crate) struct ListArgs {
    /// Filter by tag (repeatable).
    #[arg(long = "tag")]
    pub(crate) tags: Vec<String>,
    /// Prompts with any of the tags (default).
    #[arg(long, conflicts_with_all = ["all", "none"])]
    pub(crate) any: bool,
    /// Prompts with all of the tags.
    #[arg(long, conflicts_with = "none")]
    pub(crate) all: bool,
    /// Prompts with none of the tags.
    #[arg(long)]
    pub(crate) none: bool,
    /// Only favorites.
    #[arg(long)]
    pub(crate) favorite: bool,
    /// Only archived prompts (they are hidden otherwise).
    #[arg(long)]
    pub(crate) archived: bool,
    /// Text to find in title, body or note (case-insensitive).
    #[arg(long)]
    pub(crate) search: Option<String>,
    /// Print JSON.
    #[arg(long)]
    pub(crate) json: bool,
}

// `init` options.
#[derive(Args)]
pub(crate) struct InitArgs {
    /// Argon2id memory in MiB (default 64; accepted 19..=1024).
    #[arg(long, default_value_t = 64)]
    pub(crate) kdf_memory_mib: u32,
    /// Argon2id passes (default 3; accepted 1..=10).
    #[arg(long, default_value_t = 3)]
    pub(crate) kdf_time: u32,
}

// `passwd` and `recover` options.
#[derive(Args)]
pub(crate) struct RotateArgs {
    /// Also rotate the vault key (re-encrypt everything, new recovery key),
    /// for when the old secret may have leaked.
    #[arg(long)]
    pub(crate) rotate: bool,
}

// A prompt body: `--body` or `--file` (else standard input, for `add`).
#[derive(Args)]
pub(crate) struct BodyArgs {
    /// The body text.
    #[arg(long, conflicts_with = "file")]
    pub(crate) body: Option<String>,
    /// Read the body from a regular file (`-` for standard input).
    #[arg(long)]
    pub(crate) file: Option<PathBuf>,
}

/// Where and as whom to sync.
#[derive(Args)]
pub(crate) struct ServerArgs {
    /// The sync server, e.g. https://sync.example.org (plain http only on loopback).
    #[arg(long)]
    pub(crate) server: String,
    /// The account name on that server.
    #[arg(long)]
    pub(crate) account: String,
}

/// `sync` options.
#[derive(Args)]
pub(crate) struct SyncArgs {
    /// The sync server, e.g. https://sync.example.org (plain http only on
    /// loopback); default: the one this vault last synced with.
    #[arg(long)]
    pub(crate) server: Option<String>,
    /// The account name on that server (default: the last one).
    #[arg(long)]
    pub(crate) account: Option<String>,
    /// Print what moved as JSON.
    #[arg(long)]
    pub(crate) json: bool,
}
