//! `promptvault sync` and `promptvault account delete`: the vault file and
//! a sync server, through the core's sync engine ([`promptvault::sync`]).
//!
//! The session token and the engine's state live in the XDG state
//! directory (`sync/<hash>.json`, 0600), one file per server, account and
//! vault path. The vault file is written before that state after every
//! step, so a crash in between only makes the next sync redo a step.

use std::io::Write;
use std::path::{Path, PathBuf};

use blake2::digest::consts::U16;
use blake2::{Blake2b, Digest as _};
use promptvault::protocol::{Action, KeyKind, LoginParams, check_account};
use promptvault::sync::{self, Options, SyncError, SyncReport, SyncState, Transport};
use promptvault::{Credential, MemoryStore, Password, RecoveryKey, SealedRecord, Vault};
use serde::{Deserialize, Serialize};

use crate::cli::{ServerArgs, SyncArgs};
use crate::clock::unix_secs;
use crate::fail::{Fail, Kind};
use crate::output::{json, say};
use crate::remote::{self, Remote};
use crate::session::Session;
use crate::{files, secrets, seen_state, vault_file};

/// What this device keeps about one server, account and vault file.
#[derive(Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Cached {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    token: Option<String>,
    /// Seconds since the epoch after which the token is not used.
    #[serde(default)]
    token_until: u64,
    #[serde(default)]
    state: SyncState,
}

struct Cache {
    path: Option<PathBuf>,
    data: Cached,
}

impl Cache {
    fn load(origin: &str, account: &str, vault: &Path) -> Result<Self, Fail> {
        let vault = files::resolve(vault).unwrap_or_else(|_| vault.to_owned());
        let Some(dir) = seen_state::state_dir() else {
            eprintln!(
                "promptvault: neither $XDG_STATE_HOME nor $HOME is set; the sync state is not kept"
            );
            return Ok(Cache {
                path: None,
                data: Cached::default(),
            });
        };
        let mut h = Blake2b::<U16>::new();
        for part in [
            origin.as_bytes(),
            account.as_bytes(),
            vault.as_os_str().as_encoded_bytes(),
        ] {
            h.update((part.len() as u64).to_le_bytes());
            h.update(part);
        }
        let name: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
        let path = dir.join("sync").join(format!("{name}.json"));
        let data = match files::read_regular(&path, 1 << 30) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
                Fail::new(
                    Kind::Other,
                    format!(
                        "the sync state {} is damaged ({e}); remove it and sync again",
                        path.display()
                    ),
                )
            })?,
            Err(files::ReadFail::NotFound) => Cached::default(),
            Err(e) => return Err(e.into_fail(&path, "the sync state", 1 << 30, Kind::Other)),
        };
        Ok(Cache {
            path: Some(path),
            data,
        })
    }

    fn token(&self) -> Option<String> {
        (self.data.token_until > unix_secs())
            .then(|| self.data.token.clone())
            .flatten()
    }

    fn set_token(&mut self, token: Option<String>, expires_in: u64) {
        self.data.token = token;
        self.data.token_until = unix_secs() + expires_in.saturating_sub(60);
    }

    fn save(&self) -> Result<(), Fail> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        files::create_private_dir(files::parent_dir(path))?;
        let bytes = serde_json::to_vec(&self.data)
            .map_err(|e| Fail::new(Kind::Other, format!("encoding the sync state: {e}")))?;
        files::write_atomic(path, &bytes)
    }

    fn remove(&self) {
        if let Some(p) = &self.path {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// A sync failure as a CLI failure: a server that misbehaves or refuses
/// the password is exit 3, like a tampered file.
pub(crate) fn fail(e: SyncError, account: &str) -> Fail {
    match e {
        SyncError::Server { .. } => Fail::new(Kind::Auth, e.to_string()),
        SyncError::Refused { ref code, .. } if code == "authentication_failed" => Fail::new(
            Kind::Auth,
            format!("wrong password, or no account {account} on this server"),
        ),
        SyncError::Refused { ref code, .. } if code == "cursor_ahead" => Fail::new(
            Kind::Auth,
            format!(
                "{e}: the server lost commits this device saw (a restored backup, or another server)"
            ),
        ),
        SyncError::Vault(promptvault::Error::Authentication) => Fail::new(
            Kind::Auth,
            "a record from the server does not authenticate: it was modified; nothing was pushed"
                .into(),
        ),
        SyncError::Vault(core) => Fail::from_core(core),
        SyncError::HeaderChanged | SyncError::Contention { .. } | SyncError::Transport(_) => {
            Fail::new(Kind::Other, e.to_string())
        }
        SyncError::Refused { .. } | _ => Fail::new(Kind::Other, e.to_string()),
    }
}

/// Persists the vault file, then the sync state, after every engine step.
struct Persist<'a> {
    remote: &'a mut Remote,
    cache: &'a mut Cache,
    path: &'a Path,
}

impl Transport for Persist<'_> {
    fn pull(
        &mut self,
        r: &promptvault::protocol::PullRequest,
    ) -> Result<promptvault::protocol::PullResponse, SyncError> {
        self.remote.pull(r)
    }

    fn commit(
        &mut self,
        r: &promptvault::protocol::CommitRequest,
    ) -> Result<promptvault::protocol::CommitResponse, SyncError> {
        self.remote.commit(r)
    }

    fn checkpoint(&mut self, store: &MemoryStore, state: &SyncState) -> Result<(), SyncError> {
        let io = |f: Fail| SyncError::Transport(f.message);
        vault_file::write(self.path, store).map_err(io)?;
        self.cache.data.state = state.clone();
        self.cache.save().map_err(io)
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Moved<'a> {
    server: &'a str,
    account: &'a str,
    registered: bool,
    downloaded: bool,
    pulled: usize,
    prompts_added: usize,
    versions_added: usize,
    metadata_updated: usize,
    conflicts_resolved: usize,
    prompts_deleted: usize,
    pushed: usize,
    deleted: usize,
    commits: u32,
    conflicts: u32,
    cursor: u64,
}

fn is_fresh(path: &Path) -> bool {
    std::fs::metadata(path).map_or(true, |m| m.is_file() && m.len() == 0)
}

/// `promptvault sync`.
pub(crate) fn sync(
    path: &Path,
    args: &SyncArgs,
    accept: bool,
    out: &mut impl Write,
) -> Result<(), Fail> {
    let origin = remote::origin(&args.to.server).map_err(Fail::invalid)?;
    let account = args.to.account.as_str();
    check_account(account).map_err(|_| {
        Fail::invalid("an account name is 1 to 128 printable ASCII characters, no spaces")
    })?;
    let fail = |e| fail(e, account);
    let password = secrets::password()?;
    let mut cache = Cache::load(&origin, account, path)?;
    let mut remote = Remote::new(origin.clone(), account.to_owned(), cache.token());
    remote.set_password(password.clone());
    let mut registered = false;
    let mut report = SyncReport::default();

    let downloaded = is_fresh(path);
    if downloaded {
        download(path, &password, &mut remote, &mut cache, &mut report).map_err(fail)?;
    }
    let store = vault_file::read(path)?;
    let mut s =
        match Session::open_with(path, store.clone(), Credential::Password(&password), accept) {
            Err(f) if f.kind == Kind::Auth && !downloaded => {
                // Perhaps the password was changed on another device: the
                // server then holds a newer header that this password opens.
                adopt_server_header(path, store, &password, &mut remote, &mut cache)
                    .map_err(|_| f)?;
                Session::open_with(
                    path,
                    vault_file::read(path)?,
                    Credential::Password(&password),
                    accept,
                )?
            }
            other => other?,
        };
    if remote.token.is_none() {
        let (vault, store) = s.parts();
        let header = store
            .header_record()
            .cloned()
            .ok_or_else(|| Fail::new(Kind::Corrupt, "the vault file has no header".into()))?;
        let session = if cache.data.state.vault_id().is_none() {
            // First sync of this vault with this account: register it.
            let params = LoginParams::from_header(header.as_bytes()).map_err(Fail::from_core)?;
            let recovery = recovery_for(vault)?;
            match remote.register(&header, params, &password, recovery.as_ref()) {
                Ok(s) => {
                    registered = true;
                    s
                }
                Err(SyncError::Refused { code, .. }) if code == "account_exists" => {
                    remote.login().map_err(fail)?
                }
                Err(e) => return Err(fail(e)),
            }
        } else {
            remote.login().map_err(fail)?
        };
        if session.vault_id != vault.id() {
            return Err(Fail::new(
                Kind::Invalid,
                format!(
                    "the account {account} holds another vault than {}",
                    path.display()
                ),
            ));
        }
        cache.set_token(remote.token.clone(), session.expires_in);
        cache.save()?;
    }

    let options = Options::default();
    for _ in 0..3 {
        let (vault, store) = s.parts();
        let mut state = cache.data.state.clone();
        let result = {
            let mut t = Persist {
                remote: &mut remote,
                cache: &mut cache,
                path,
            };
            sync::run(vault, store, &mut state, &mut t, options)
        };
        match result {
            Ok(r) => {
                add(&mut report, &r);
                break;
            }
            Err(SyncError::HeaderChanged) => {
                // The password or keys changed on another device: unlock
                // the server's header with the password, keep the records.
                let inbox =
                    sync::pull(&mut remote, state.begin_pull(vault).map_err(fail)?, options)
                        .map_err(fail)?;
                let Some(h) = inbox.newer_header(vault).cloned() else {
                    continue;
                };
                *vault = Vault::open(
                    h.as_bytes(),
                    store.record_bytes(),
                    Credential::Password(&password),
                )
                .map_err(|e| match e {
                    promptvault::Error::Authentication => Fail::new(
                        Kind::Auth,
                        "the vault's password was changed on another device: sync with the new password"
                            .into(),
                    ),
                    other => Fail::from_core(other),
                })?;
                store.put_header(h);
            }
            Err(e) => return Err(fail(e)),
        }
    }
    s.write_store()?;
    // After a password change here, the server holds the new header: its
    // login keys follow it (SPEC §12.3).
    let (vault, _) = s.parts();
    let params = LoginParams::from_header(vault.header_bytes()).map_err(Fail::from_core)?;
    let rekeyed = remote.prelogin().map_err(fail)? != params;
    if rekeyed {
        let recovery = recovery_for(vault)?;
        remote
            .rekey(&password, params, recovery.as_ref())
            .map_err(fail)?;
    }
    cache.set_token(
        remote.token.clone(),
        if remote.token.is_some() { 3600 } else { 0 },
    );
    cache.data.token_until = cache.data.token_until.min(unix_secs() + 3000);
    cache.save()?;

    let moved = Moved {
        server: &origin,
        account,
        registered,
        downloaded,
        pulled: report.pulled,
        prompts_added: report.prompts_added,
        versions_added: report.versions_added,
        metadata_updated: report.metadata_updated,
        conflicts_resolved: report.conflicts_resolved,
        prompts_deleted: report.prompts_deleted,
        pushed: report.pushed,
        deleted: report.deleted,
        commits: report.commits,
        conflicts: report.conflicts,
        cursor: cache.data.state.cursor(),
    };
    if args.json {
        return json(out, &moved);
    }
    let how = if registered {
        "registered and synced"
    } else if downloaded {
        "downloaded and synced"
    } else {
        "synced"
    };
    say(
        out,
        format!(
            "{how} with {origin} as {account}: pulled {} rows ({} new prompts, {} new versions, {} updated, {} merged, {} deleted); pushed {} records and {} deletions in {} commits; cursor {}",
            moved.pulled,
            moved.prompts_added,
            moved.versions_added,
            moved.metadata_updated,
            moved.conflicts_resolved,
            moved.prompts_deleted,
            moved.pushed,
            moved.deleted,
            moved.commits,
            moved.cursor
        ),
    )
}

fn add(total: &mut SyncReport, r: &SyncReport) {
    total.pulled += r.pulled;
    total.prompts_added += r.prompts_added;
    total.versions_added += r.versions_added;
    total.metadata_updated += r.metadata_updated;
    total.conflicts_resolved += r.conflicts_resolved;
    total.prompts_deleted += r.prompts_deleted;
    total.pushed += r.pushed;
    total.deleted += r.deleted;
    total.commits += r.commits;
    total.conflicts += r.conflicts;
}

/// The recovery key to register a recovery login with, when
/// `PROMPTVAULT_RECOVERY_KEY` is set (checked against the vault).
fn recovery_for(vault: &Vault) -> Result<Option<RecoveryKey>, Fail> {
    if std::env::var_os("PROMPTVAULT_RECOVERY_KEY").is_none() {
        return Ok(None);
    }
    let rk = secrets::recovery_key()?;
    Vault::open(
        vault.header_bytes(),
        Vec::<&[u8]>::new(),
        Credential::RecoveryKey(&rk),
    )
    .map_err(|_| {
        Fail::new(
            Kind::Auth,
            "PROMPTVAULT_RECOVERY_KEY is not this vault's recovery key".into(),
        )
    })?;
    Ok(Some(rk))
}

/// The local vault did not open with this password: if the server holds
/// a newer header of this vault that does (the password changed on another
/// device), write it into the vault file. Any failure means "no": the
/// caller reports the local file's error.
fn adopt_server_header(
    path: &Path,
    mut store: MemoryStore,
    password: &Password,
    remote: &mut Remote,
    cache: &mut Cache,
) -> Result<(), SyncError> {
    let local = store
        .header_record()
        .cloned()
        .ok_or_else(|| SyncError::Transport("no local header".into()))?;
    let session = remote.login()?;
    if session.vault_id != local.header().vault_id() {
        return Err(SyncError::Vault(promptvault::Error::WrongVault));
    }
    cache.set_token(remote.token.clone(), session.expires_in);
    let mut scratch = SyncState::new();
    let inbox = sync::pull(
        remote,
        scratch.begin_download(session.vault_id)?,
        Options::default(),
    )?;
    let header = inbox
        .header()
        .cloned()
        .ok_or_else(|| SyncError::Transport("the server sent no vault header".into()))?;
    if header.header().revision() <= local.header().revision() {
        return Err(SyncError::Vault(promptvault::Error::Authentication));
    }
    // Authentic (its password slot opens with this password, its seal
    // with the vault key) and newer: the local records open under it.
    Vault::open(
        header.as_bytes(),
        store.record_bytes(),
        Credential::Password(password),
    )?;
    store.put_header(header);
    let io = |f: Fail| SyncError::Transport(f.message);
    vault_file::write(path, &store).map_err(io)
}

/// A device without the vault: log in, pull everything, open it with the
/// password and write the vault file.
fn download(
    path: &Path,
    password: &Password,
    remote: &mut Remote,
    cache: &mut Cache,
    report: &mut SyncReport,
) -> Result<(), SyncError> {
    let session = remote.login()?;
    cache.set_token(remote.token.clone(), session.expires_in);
    let mut state = if cache.data.state.vault_id() == Some(session.vault_id) {
        cache.data.state.clone()
    } else {
        SyncState::new()
    };
    let inbox = sync::pull(
        remote,
        state.begin_download(session.vault_id)?,
        Options::default(),
    )?;
    let header: SealedRecord = inbox
        .header()
        .cloned()
        .ok_or_else(|| SyncError::Transport("the server sent no vault header".into()))?;
    let mut vault = Vault::open(
        header.as_bytes(),
        Vec::<&[u8]>::new(),
        Credential::Password(password),
    )?;
    let mut store = MemoryStore::new();
    store.put_header(header);
    let done = state.integrate(&mut vault, &mut store, &inbox)?;
    report.pulled += done.rows;
    report.prompts_added += done.prompts_added;
    report.versions_added += done.versions_added;
    let io = |f: Fail| SyncError::Transport(f.message);
    files::create_private_dir(files::parent_dir(path)).map_err(io)?;
    vault_file::write(path, &store).map_err(io)?;
    cache.data.state = state;
    cache.save().map_err(io)
}

/// `promptvault account delete`: erase the account and every record it
/// owns from the server, after logging in afresh with the password.
pub(crate) fn delete_account(
    path: &Path,
    to: &ServerArgs,
    out: &mut impl Write,
) -> Result<(), Fail> {
    let origin = remote::origin(&to.server).map_err(Fail::invalid)?;
    let account = to.account.as_str();
    check_account(account).map_err(|_| {
        Fail::invalid("an account name is 1 to 128 printable ASCII characters, no spaces")
    })?;
    let fail = |e| fail(e, account);
    let password = secrets::password()?;
    let mut remote = Remote::new(origin.clone(), account.to_owned(), None);
    remote.set_password(password);
    remote.login().map_err(fail)?;
    let (challenge, signature) = remote.signed(Action::Delete).map_err(fail)?;
    let gone: promptvault::protocol::DeleteAccountResponse = remote
        .call(
            "account/delete",
            &promptvault::protocol::DeleteAccountRequest {
                account: account.to_owned(),
                key: KeyKind::Password,
                challenge,
                signature,
            },
        )
        .map_err(fail)?;
    Cache::load(&origin, account, path)?.remove();
    say(
        out,
        format!(
            "Deleted the account {account} from {origin}: its vault and all {} record rows",
            gone.records
        ),
    )
}
