//! `promptvault sync` and `promptvault account delete`: the vault file and
//! a sync server, through the core's sync engine ([`promptvault::sync`]).
//!
//! The session token and the engine's state live in the XDG state
//! directory (see [`crate::sync_cache`]). The vault file is written before
//! that state after every step, so a crash in between only makes the next
//! sync redo a step.

use std::io::Write;
use std::path::Path;

use promptvault::protocol::{Action, KeyKind, LoginParams, check_account};
use promptvault::sync::{self, Options, SyncError, SyncReport, SyncState};
use promptvault::{Credential, MemoryStore, Password, RecoveryKey, SealedRecord, Vault};
use serde::Serialize;

use crate::cli::{ServerArgs, ServerOpt, SyncArgs};
use crate::clock::unix_secs;
use crate::fail::{Fail, Kind};
use crate::output::{json, say};
use crate::remote::{self, Remote};
use crate::session::Session;
use crate::sharing::{self, Net};
use crate::side_file::Side;
use crate::sync_cache::{self, Cache, Persist};
use crate::{files, secrets, vault_file};

fn fail(e: SyncError, account: &str) -> Fail {
    Fail::from_sync(e, account)
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
    /// The shared spaces held here, each synced after the vault.
    spaces: Vec<SpaceMoved>,
}

/// What a sync moved in one shared space.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SpaceMoved {
    space: String,
    owner: String,
    pulled: usize,
    prompts_added: usize,
    versions_added: usize,
    pushed: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

fn is_fresh(path: &Path) -> bool {
    std::fs::metadata(path).map_or(true, |m| m.is_file() && m.len() == 0)
}

/// The server's origin and the account name, both checked.
fn server_account(to: &ServerArgs) -> Result<(String, &str), Fail> {
    let origin = remote::origin(&to.server).map_err(Fail::invalid)?;
    let account = to.account.as_str();
    check_account(account).map_err(|_| {
        Fail::invalid("an account name is 1 to 128 printable ASCII characters, no spaces")
    })?;
    Ok((origin, account))
}

/// `promptvault sync`.
pub(crate) fn sync(
    path: &Path,
    args: &SyncArgs,
    accept: bool,
    out: &mut impl Write,
) -> Result<(), Fail> {
    let (server, account) = sync_cache::resolve(
        path,
        &ServerOpt {
            server: args.server.clone(),
            account: args.account.clone(),
        },
    )
    .map_err(|f| {
        if f.kind == Kind::Invalid {
            Fail::invalid(
                "give --server URL and --account NAME (the first sync of a vault needs both)",
            )
        } else {
            f
        }
    })?;
    let to = ServerArgs { server, account };
    let (origin, account) = server_account(&to)?;
    let password = secrets::password()?;
    let mut cache = Cache::load(&origin, account, path)?;
    let mut remote = Remote::new(origin.clone(), account.to_owned(), cache.token());
    remote.set_password(password.clone());
    let mut report = SyncReport::default();

    let downloaded = is_fresh(path);
    if downloaded {
        download(path, &password, &mut remote, &mut cache, &mut report)
            .map_err(|e| fail(e, account))?;
    }
    let mut s = open_session(path, &password, accept, downloaded, &mut remote, &mut cache)?;
    let registered = if remote.token.is_none() {
        log_in(path, &mut s, &password, &mut remote, &mut cache)?
    } else {
        false
    };
    exchange(
        path,
        &mut s,
        &password,
        &mut remote,
        &mut cache,
        &mut report,
    )?;
    s.write_store()?;
    follow_keys(&mut s, &password, &mut remote, &mut cache)?;
    sync_cache::remember(path, &origin, account)?;
    let cursor = cache.data.state.cursor();

    // Sharing: publish the identity, then sync every space held here. A
    // space that fails is reported after the others (and the vault) synced.
    let mut side = Side::load(path, &s.vault)?;
    let mut net = Net::from_sync(remote, cache);
    let mut failed: Option<Fail> = None;
    // The vault synced whatever happens next: what moved is printed even
    // when sharing fails.
    let spaces = sharing::after_sync(&mut net, &mut side, &s.vault, accept).unwrap_or_else(|f| {
        failed = Some(f.context("sharing"));
        Vec::new()
    });
    let mut space_views = Vec::new();
    for (hex, r) in spaces {
        let owner = side
            .data
            .spaces
            .get(&hex)
            .map(|e| e.owner.clone())
            .unwrap_or_default();
        match r {
            Ok(r) => space_views.push(SpaceMoved {
                space: hex,
                owner,
                pulled: r.pulled,
                prompts_added: r.prompts_added,
                versions_added: r.versions_added,
                pushed: r.pushed,
                error: None,
            }),
            Err(f) => {
                space_views.push(SpaceMoved {
                    space: hex,
                    owner,
                    pulled: 0,
                    prompts_added: 0,
                    versions_added: 0,
                    pushed: 0,
                    error: Some(f.message.clone()),
                });
                failed.get_or_insert(f);
            }
        }
    }

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
        cursor,
        spaces: space_views,
    };
    print_moved(out, &moved, args.json)?;
    failed.map_or(Ok(()), Err)
}

/// Opens the vault file with the password. If that fails on a vault this
/// run did not download, perhaps the password was changed on another
/// device: the server then holds a newer header that this password opens.
fn open_session(
    path: &Path,
    password: &Password,
    accept: bool,
    downloaded: bool,
    remote: &mut Remote,
    cache: &mut Cache,
) -> Result<Session, Fail> {
    let store = vault_file::read(path)?;
    match Session::open_with(path, store.clone(), Credential::Password(password), accept) {
        Err(f) if f.kind == Kind::Auth && !downloaded => {
            adopt_server_header(path, store, password, remote, cache).map_err(|_| f)?;
            Session::open_with(
                path,
                vault_file::read(path)?,
                Credential::Password(password),
                accept,
            )
        }
        other => other,
    }
}

/// Logs in, or registers the account on the first sync of this vault
/// with it; checks that the account holds this vault and keeps the
/// session token. True when it registered.
fn log_in(
    path: &Path,
    s: &mut Session,
    password: &Password,
    remote: &mut Remote,
    cache: &mut Cache,
) -> Result<bool, Fail> {
    let account = remote.account.clone();
    let fail = |e| fail(e, &account);
    let (vault, store) = s.parts();
    let header = store
        .header_record()
        .cloned()
        .ok_or_else(|| Fail::new(Kind::Corrupt, "the vault file has no header".into()))?;
    let mut registered = false;
    let session = if cache.data.state.vault_id().is_none() {
        // First sync of this vault with this account: register it.
        let params = LoginParams::from_header(header.as_bytes()).map_err(Fail::from_core)?;
        let recovery = recovery_for(vault)?;
        match remote.register(&header, params, password, recovery.as_ref()) {
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
    Ok(registered)
}

/// Runs the sync engine, up to three times: when the vault's header
/// changed on another device (a new password or keys), it unlocks the
/// server's header with the password, keeps the records, and runs again.
fn exchange(
    path: &Path,
    s: &mut Session,
    password: &Password,
    remote: &mut Remote,
    cache: &mut Cache,
    report: &mut SyncReport,
) -> Result<(), Fail> {
    let account = remote.account.clone();
    let fail = |e| fail(e, &account);
    let options = Options::default();
    for _ in 0..3 {
        let (vault, store) = s.parts();
        let mut state = cache.data.state.clone();
        let result = {
            let mut t = Persist {
                remote: &mut *remote,
                cache: &mut *cache,
                path,
            };
            sync::run(vault, store, &mut state, &mut t, options)
        };
        match result {
            Ok(r) => {
                report.add_run(&r);
                break;
            }
            Err(SyncError::HeaderChanged) => {
                // The password or keys changed on another device: unlock
                // the server's header with the password, keep the records.
                let inbox = sync::pull(
                    &mut *remote,
                    state.begin_pull(vault).map_err(fail)?,
                    options,
                )
                .map_err(fail)?;
                let Some(h) = inbox.newer_header(vault).cloned() else {
                    continue;
                };
                *vault = Vault::open(
                    h.as_bytes(),
                    store.record_bytes(),
                    Credential::Password(password),
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
    Ok(())
}

/// After a password change here, the server holds the new header: its
/// login keys follow it (SPEC §12.3). Then keeps the session token.
fn follow_keys(
    s: &mut Session,
    password: &Password,
    remote: &mut Remote,
    cache: &mut Cache,
) -> Result<(), Fail> {
    let account = remote.account.clone();
    let fail = |e| fail(e, &account);
    let (vault, _) = s.parts();
    let params = LoginParams::from_header(vault.header_bytes()).map_err(Fail::from_core)?;
    let rekeyed = remote.prelogin().map_err(fail)? != params;
    if rekeyed {
        let recovery = recovery_for(vault)?;
        remote
            .rekey(password, params, recovery.as_ref())
            .map_err(fail)?;
    }
    cache.set_token(
        remote.token.clone(),
        if remote.token.is_some() { 3600 } else { 0 },
    );
    cache.data.token_until = cache.data.token_until.min(unix_secs() + 3000);
    cache.save()
}

/// What a sync moved: as JSON, or as one line.
fn print_moved(out: &mut impl Write, moved: &Moved<'_>, as_json: bool) -> Result<(), Fail> {
    if as_json {
        return json(out, moved);
    }
    let how = if moved.registered {
        "registered and synced"
    } else if moved.downloaded {
        "downloaded and synced"
    } else {
        "synced"
    };
    say(
        out,
        format!(
            "{how} with {} as {}: pulled {} rows ({} new prompts, {} new versions, {} updated, {} merged, {} deleted); pushed {} records and {} deletions in {} commits; cursor {}",
            moved.server,
            moved.account,
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
    )?;
    for sp in &moved.spaces {
        match &sp.error {
            None => say(
                out,
                format!(
                    "  shared space {} (owner {}): pulled {} rows ({} new prompts, {} new versions); pushed {} records",
                    crate::output::short(&sp.space),
                    sp.owner,
                    sp.pulled,
                    sp.prompts_added,
                    sp.versions_added,
                    sp.pushed
                ),
            )?,
            Some(e) => say(
                out,
                format!(
                    "  shared space {} (owner {}): not synced: {e}",
                    crate::output::short(&sp.space),
                    sp.owner
                ),
            )?,
        }
    }
    Ok(())
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
    let (origin, account) = server_account(to)?;
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
