//! `promptvault`: private prompts in one local, encrypted vault file.
//!
//! A thin shell over the `promptvault` crate: it reads the vault file,
//! unlocks it, calls one vault operation, and writes the returned changeset
//! back atomically. Everything cryptographic happens in the crate.

mod fail;
mod secrets;
mod vault_file;

use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use clap::{Args, Parser, Subcommand};
use promptvault::{
    ArchivedFilter, Credential, DiffOp, Draft, KdfParams, MemoryStore, PromptId, Query, TagMode,
    Timestamp, Vault, VersionId,
};

use fail::{EXIT_CODES, Fail, Kind};

#[derive(Parser)]
#[command(name = "promptvault", version, about = "Private prompts, encrypted on this device.", after_help = help_tail())]
struct Cli {
    /// The vault file (default: $PROMPTVAULT_VAULT, else ~/.local/share/promptvault/vault.pvlt).
    #[arg(long, global = true, env = "PROMPTVAULT_VAULT")]
    vault: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

const PASSWORD_HELP: &str = "\
Passwords come from $PROMPTVAULT_PASSWORD (new ones from $PROMPTVAULT_NEW_PASSWORD,
export files from $PROMPTVAULT_EXPORT_PASSWORD, recovery keys from
$PROMPTVAULT_RECOVERY_KEY), otherwise they are asked on the terminal without echo.";

fn help_tail() -> String {
    format!("{PASSWORD_HELP}\n\n{EXIT_CODES}")
}

#[derive(Subcommand)]
enum Command {
    /// Create a new vault and print its recovery key (once).
    Init(InitArgs),
    /// Change the vault password (no content is re-encrypted).
    Passwd,
    /// Unlock with the recovery key, set a new password and get a new recovery key.
    Recover,
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
}

#[derive(Args)]
struct InitArgs {
    /// Argon2id memory in MiB (default 64; accepted 19..=1024).
    #[arg(long, default_value_t = 64)]
    kdf_memory_mib: u32,
    /// Argon2id passes (default 3; accepted 1..=10).
    #[arg(long, default_value_t = 3)]
    kdf_time: u32,
}

#[derive(Args)]
struct BodyArgs {
    /// The body text.
    #[arg(long, conflicts_with = "file")]
    body: Option<String>,
    /// Read the body from a file (`-` for standard input).
    #[arg(long)]
    file: Option<PathBuf>,
}

#[derive(Args)]
struct AddArgs {
    /// Title.
    #[arg(long)]
    title: String,
    #[command(flatten)]
    body: BodyArgs,
    /// Tag (repeatable).
    #[arg(long = "tag")]
    tags: Vec<String>,
    /// Mark as favorite.
    #[arg(long)]
    favorite: bool,
    /// A note about this version.
    #[arg(long, default_value = "")]
    note: String,
    /// Generation settings as JSON (model, seed, size…).
    #[arg(long)]
    settings: Option<String>,
}

#[derive(Args)]
struct EditArgs {
    /// Prompt id.
    id: String,
    /// New title.
    #[arg(long)]
    title: Option<String>,
    #[command(flatten)]
    body: BodyArgs,
    /// Note for the new version.
    #[arg(long)]
    note: Option<String>,
    /// New generation settings as JSON.
    #[arg(long)]
    settings: Option<String>,
}

#[derive(Args)]
struct ListArgs {
    /// Filter by tag (repeatable).
    #[arg(long = "tag")]
    tags: Vec<String>,
    /// Prompts with any of the tags (default).
    #[arg(long, conflicts_with_all = ["all", "none"])]
    any: bool,
    /// Prompts with all of the tags.
    #[arg(long, conflicts_with = "none")]
    all: bool,
    /// Prompts with none of the tags.
    #[arg(long)]
    none: bool,
    /// Only favorites.
    #[arg(long)]
    favorite: bool,
    /// Only archived prompts (they are hidden otherwise).
    #[arg(long)]
    archived: bool,
    /// Text to find in title, body or note (case-insensitive).
    #[arg(long)]
    search: Option<String>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

fn main() {
    let cli = Cli::parse();
    let path = cli.vault.clone().unwrap_or_else(vault_file::default_path);
    let mut out = std::io::stdout().lock();
    if let Err(f) = run(cli.command, &path, &mut out) {
        let _ = out.flush();
        eprintln!("promptvault: {}", f.message);
        std::process::exit(f.kind as i32);
    }
}

fn now() -> Timestamp {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    Timestamp(u64::try_from(ms).unwrap_or(u64::MAX))
}

fn say(out: &mut impl Write, text: impl std::fmt::Display) -> Result<(), Fail> {
    writeln!(out, "{text}").map_err(|e| Fail::new(Kind::Io, format!("writing output: {e}")))
}

fn json(out: &mut impl Write, value: &impl serde::Serialize) -> Result<(), Fail> {
    let text =
        serde_json::to_string_pretty(value).map_err(|e| Fail::new(Kind::Other, e.to_string()))?;
    say(out, text)
}

/// An unlocked vault with the store it came from.
struct Session {
    path: PathBuf,
    store: MemoryStore,
    vault: Vault,
}

impl Session {
    fn open(path: &Path) -> Result<Self, Fail> {
        let store = vault_file::read(path)?;
        let password = secrets::password()?;
        let vault = vault_file::unlock(&store, Credential::Password(&password))?;
        Ok(Session {
            path: path.to_owned(),
            store,
            vault,
        })
    }

    fn save(&mut self, changes: &promptvault::Changeset) -> Result<(), Fail> {
        vault_file::save(&self.path, &mut self.store, changes)
    }

    fn prompt(&self, prefix: &str) -> Result<PromptId, Fail> {
        resolve_prefix(prefix, self.vault.prompt_ids(), PromptId::to_hex, "prompt")
    }

    fn version(&self, id: PromptId, spec: &str) -> Result<VersionId, Fail> {
        let history = self.vault.history(id).map_err(Fail::from_core)?;
        if let Ok(n) = spec.parse::<usize>() {
            if spec.len() < 8 {
                return history.get(n.wrapping_sub(1)).map(|e| e.id).ok_or_else(|| {
                    Fail::new(
                        Kind::NotFound,
                        format!("no version {n}; `history` lists 1..={}", history.len()),
                    )
                });
            }
        }
        resolve_prefix(
            spec,
            history.iter().map(|e| e.id).collect(),
            VersionId::to_hex,
            "version",
        )
    }
}

fn resolve_prefix<T: Copy>(
    prefix: &str,
    ids: Vec<T>,
    hex: fn(&T) -> String,
    what: &str,
) -> Result<T, Fail> {
    let prefix = prefix.to_ascii_lowercase();
    if prefix.len() < 4 {
        return Err(Fail::invalid(format!(
            "give at least 4 characters of the {what} id"
        )));
    }
    let hits: Vec<T> = ids
        .into_iter()
        .filter(|i| hex(i).starts_with(&prefix))
        .collect();
    match hits.as_slice() {
        [one] => Ok(*one),
        [] => Err(Fail::new(
            Kind::NotFound,
            format!("no {what} id starts with {prefix}"),
        )),
        _ => Err(Fail::invalid(format!(
            "{prefix} matches several {what}s; give more characters"
        ))),
    }
}

fn read_body(args: &BodyArgs, stdin_if_piped: bool) -> Result<Option<String>, Fail> {
    if let Some(b) = &args.body {
        return Ok(Some(b.clone()));
    }
    let from_stdin = match &args.file {
        Some(f) if f.as_os_str() == "-" => true,
        Some(f) => {
            return std::fs::read_to_string(f)
                .map(Some)
                .map_err(|e| Fail::io(f, &e));
        }
        None => stdin_if_piped && !std::io::stdin().is_terminal(),
    };
    if !from_stdin {
        return Ok(None);
    }
    let mut s = String::new();
    std::io::stdin()
        .take(promptvault::model::MAX_BODY_LEN as u64 + 1)
        .read_to_string(&mut s)
        .map_err(|e| Fail::new(Kind::Io, format!("reading standard input: {e}")))?;
    Ok(Some(s))
}

fn parse_settings(s: Option<&String>) -> Result<Option<serde_json::Value>, Fail> {
    s.map(|s| {
        serde_json::from_str(s).map_err(|e| Fail::invalid(format!("--settings is not JSON: {e}")))
    })
    .transpose()
}

/// `YYYY-MM-DD HH:MM` (UTC) from Unix milliseconds (civil-from-days, H. Hinnant).
fn fmt_time(t: Timestamp) -> String {
    let secs = t.0 / 1000;
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60
    )
}

fn short(hex: &str) -> &str {
    hex.get(..8).unwrap_or(hex)
}

fn edit_tags(
    path: &Path,
    out: &mut impl Write,
    id: &str,
    tags: &[String],
    add: bool,
) -> Result<(), Fail> {
    let mut s = Session::open(path)?;
    let id = s.prompt(id)?;
    let c = if add {
        s.vault.add_tags(id, tags, now())
    } else {
        s.vault.remove_tags(id, tags, now())
    }
    .map_err(Fail::from_core)?;
    s.save(&c)?;
    let now_tags = s.vault.summary(id).map_err(Fail::from_core)?.tags;
    say(out, format!("Tags: {}", now_tags.join(", ")))
}

#[derive(Clone, Copy)]
enum Flag {
    Favorite,
    Archived,
}

fn set_flag(path: &Path, out: &mut impl Write, id: &str, flag: Flag, on: bool) -> Result<(), Fail> {
    let mut s = Session::open(path)?;
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

#[allow(clippy::too_many_lines)]
fn run(command: Command, path: &Path, out: &mut impl Write) -> Result<(), Fail> {
    match command {
        Command::Init(a) => {
            if path.exists() {
                return Err(Fail::invalid(format!(
                    "{} already exists; choose another --vault",
                    path.display()
                )));
            }
            let params = KdfParams::new(a.kdf_memory_mib.saturating_mul(1024), a.kdf_time, 1)
                .map_err(Fail::from_core)?;
            let password = secrets::new_password("PROMPTVAULT_PASSWORD", "New vault password")?;
            let created = Vault::create(&password, params).map_err(Fail::from_core)?;
            let mut store = MemoryStore::new();
            vault_file::save(path, &mut store, &created.changes)?;
            say(
                out,
                format!("Created {} (vault {}).", path.display(), created.vault.id()),
            )?;
            say(
                out,
                "Recovery key — write it down now; it is shown only once:",
            )?;
            say(
                out,
                format!("  {}", created.recovery_key.to_display_string().as_str()),
            )?;
        }
        Command::Passwd => {
            let mut s = Session::open(path)?;
            let new = secrets::new_password("PROMPTVAULT_NEW_PASSWORD", "New password")?;
            let c = s
                .vault
                .change_password(&new, None)
                .map_err(Fail::from_core)?;
            s.save(&c)?;
            say(out, "Password changed.")?;
        }
        Command::Recover => {
            let store = vault_file::read(path)?;
            let rk = secrets::recovery_key()?;
            let mut vault = vault_file::unlock(&store, Credential::RecoveryKey(&rk))?;
            let new = secrets::new_password("PROMPTVAULT_NEW_PASSWORD", "New password")?;
            let mut c = vault.change_password(&new, None).map_err(Fail::from_core)?;
            let (rk2, c2) = vault.replace_recovery_key().map_err(Fail::from_core)?;
            c.extend(c2);
            let mut store = store;
            vault_file::save(path, &mut store, &c)?;
            say(
                out,
                "Password reset. The old recovery key no longer works; the new one is:",
            )?;
            say(out, format!("  {}", rk2.to_display_string().as_str()))?;
        }
        Command::Rotate => {
            let store = vault_file::read(path)?;
            let password = secrets::password()?;
            let mut vault = vault_file::unlock(&store, Credential::Password(&password))?;
            // The core refuses to rotate while a rotation is unfinished
            // (SPEC §9). This store applies a changeset whole, so the CLI
            // completes an interrupted rotation (one synced from elsewhere)
            // first, says so, and finishes the new one in the same write.
            let mut c = vault.finish_rotation().map_err(Fail::from_core)?;
            if !c.is_empty() {
                say(
                    out,
                    "An earlier rotation was unfinished; it has been completed first.",
                )?;
            }
            let (rk, c2) = vault.rotate(&password).map_err(Fail::from_core)?;
            c.extend(c2);
            c.extend(vault.finish_rotation().map_err(Fail::from_core)?);
            let mut store = store;
            vault_file::save(path, &mut store, &c)?;
            say(
                out,
                format!(
                    "Rotated to key generation {}. New recovery key (the old one no longer works):",
                    vault.key_generation()
                ),
            )?;
            say(out, format!("  {}", rk.to_display_string().as_str()))?;
        }
        Command::Add(a) => {
            let body = read_body(&a.body, true)?.unwrap_or_default();
            let draft = Draft {
                title: a.title,
                body,
                settings: parse_settings(a.settings.as_ref())?,
                note: a.note,
            };
            let mut s = Session::open(path)?;
            let (id, c) = s
                .vault
                .create_prompt(&draft, &a.tags, a.favorite, now())
                .map_err(Fail::from_core)?;
            s.save(&c)?;
            say(out, format!("Added {}", id))?;
        }
        Command::Edit(a) => {
            let body = read_body(&a.body, false)?;
            let mut s = Session::open(path)?;
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
            )?;
        }
        Command::Show {
            id,
            version,
            json: as_json,
        } => {
            let s = Session::open(path)?;
            let id = s.prompt(&id)?;
            let vid = version.map(|v| s.version(id, &v)).transpose()?;
            let v = s.vault.version(id, vid).map_err(Fail::from_core)?;
            let summary = s.vault.summary(id).map_err(Fail::from_core)?;
            if as_json {
                json(out, &serde_json::json!({"prompt": summary, "version": v}))?;
            } else {
                let star = if summary.favorite { "  ★" } else { "" };
                say(out, format!("{}{star}", v.title))?;
                say(
                    out,
                    format!("prompt {id}  version {}  {}", v.id, fmt_time(v.created)),
                )?;
                say(out, format!("tags: {}", summary.tags.join(", ")))?;
                if !v.note.is_empty() {
                    say(out, format!("note: {}", v.note))?;
                }
                if let Some(st) = &v.settings {
                    say(out, format!("settings: {st}"))?;
                }
                say(out, "")?;
                say(out, &v.body)?;
            }
        }
        Command::History { id, json: as_json } => {
            let s = Session::open(path)?;
            let id = s.prompt(&id)?;
            let h = s.vault.history(id).map_err(Fail::from_core)?;
            let current = s
                .vault
                .summary(id)
                .map_err(Fail::from_core)?
                .current_version;
            if as_json {
                json(out, &h)?;
            } else {
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
                            e.title
                        ),
                    )?;
                }
            }
        }
        Command::Diff { id, from, to } => {
            let s = Session::open(path)?;
            let id = s.prompt(&id)?;
            let (a, b) = (s.version(id, &from)?, s.version(id, &to)?);
            for line in s.vault.diff(id, a, b).map_err(Fail::from_core)? {
                let sign = match line.op {
                    DiffOp::Equal => ' ',
                    DiffOp::Insert => '+',
                    DiffOp::Delete => '-',
                };
                say(out, format!("{sign} {}", line.text))?;
            }
        }
        Command::Restore { id, version } => {
            let mut s = Session::open(path)?;
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
            )?;
        }
        Command::Rm { id } => {
            let mut s = Session::open(path)?;
            let id = s.prompt(&id)?;
            let c = s.vault.delete_prompt(id).map_err(Fail::from_core)?;
            s.save(&c)?;
            say(
                out,
                format!(
                    "Deleted prompt {} ({} records removed)",
                    short(&id.to_hex()),
                    c.deletes.len()
                ),
            )?;
        }
        Command::Prune { id, keep, version } => {
            let mut s = Session::open(path)?;
            let id = s.prompt(&id)?;
            let c = match (keep, version) {
                (_, Some(v)) => {
                    let v = s.version(id, &v)?;
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
            )?;
        }
        Command::List(a) => {
            let s = Session::open(path)?;
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
            if a.json {
                json(out, &list)?;
            } else {
                for p in &list {
                    let star = if p.favorite { "★" } else { " " };
                    say(
                        out,
                        format!(
                            "{}  {star} {}  [{}]  v{}",
                            short(&p.id.to_hex()),
                            p.title,
                            p.tags.join(", "),
                            p.version_count
                        ),
                    )?;
                }
                say(out, format!("{} prompt(s)", list.len()))?;
            }
        }
        Command::Tag { id, tags } => edit_tags(path, out, &id, &tags, true)?,
        Command::Untag { id, tags } => edit_tags(path, out, &id, &tags, false)?,
        Command::Tags { json: as_json } => {
            let s = Session::open(path)?;
            let tags = s.vault.tags();
            if as_json {
                json(out, &tags)?;
            } else {
                for t in &tags {
                    say(out, format!("{:>5}  {}", t.count, t.tag))?;
                }
            }
        }
        Command::RenameTag { from, to } => {
            let mut s = Session::open(path)?;
            let c = s
                .vault
                .rename_tag(&from, &to, now())
                .map_err(Fail::from_core)?;
            s.save(&c)?;
            say(
                out,
                format!("Renamed {from} to {to} on {} prompt(s)", c.puts.len()),
            )?;
        }
        Command::Favorite { id, off } => set_flag(path, out, &id, Flag::Favorite, !off)?,
        Command::Archive { id, off } => set_flag(path, out, &id, Flag::Archived, !off)?,
        Command::Export { file } => {
            let s = Session::open(path)?;
            let pw = secrets::new_password("PROMPTVAULT_EXPORT_PASSWORD", "Export file password")?;
            let bytes = s
                .vault
                .export(&pw, s.vault.kdf_params())
                .map_err(Fail::from_core)?;
            vault_file::write_atomic(&file, &bytes)?;
            say(
                out,
                format!("Exported {} prompt(s) to {}", s.vault.len(), file.display()),
            )?;
        }
        Command::Import { file } => {
            let bytes = std::fs::read(&file).map_err(|e| Fail::io(&file, &e))?;
            let mut s = Session::open(path)?;
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
        }
        Command::Publish {
            id,
            version,
            json: as_json,
        } => {
            let s = Session::open(path)?;
            let id = s.prompt(&id)?;
            let vid = version.map(|v| s.version(id, &v)).transpose()?;
            let p = s.vault.publish(id, vid).map_err(Fail::from_core)?;
            if as_json {
                json(out, &p)?;
            } else {
                say(out, format!("# {}\n\n{}", p.title, p.body))?;
            }
        }
        Command::Inspect { json: as_json } => {
            let store = vault_file::read(path)?;
            let mut infos = Vec::new();
            if let Some(h) = store.header() {
                infos.push(promptvault::inspect::inspect(h).map_err(Fail::from_core)?);
            }
            for r in store.records() {
                infos.push(promptvault::inspect::inspect(r.as_bytes()).map_err(Fail::from_core)?);
            }
            if as_json {
                json(out, &infos)?;
            } else {
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
                say(out, format!("{} record(s), {total} bytes", infos.len()))?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(fmt_time(Timestamp(0)), "1970-01-01 00:00");
        assert_eq!(fmt_time(Timestamp(1_700_000_000_000)), "2023-11-14 22:13");
        assert_eq!(fmt_time(Timestamp(951_782_400_000)), "2000-02-29 00:00");
    }
}
