//! Sharing with another account (SPEC §12.12, §13), the parts the commands
//! share: the account's connection and its sharing routes, publishing the
//! identity, finding a prompt in the vault or in a shared space, and
//! syncing one space through the core's engine on a space session.
//!
//! Keys and pins live in the side file ([`crate::side_file`]); a space's
//! sync state and space session in [`crate::sync_cache`], keyed by the
//! space's store file.

use std::path::Path;

use promptvault::protocol::SessionResponse;
use promptvault::share::{Identity, KeyDelivery, PublicBundle, SpaceKey};
use promptvault::sync::{self, Options, SyncError, SyncReport, SyncState};
use promptvault::{MemoryStore, Password, PromptId, SeenRevisions, Vault, VaultId};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::cli::ServerOpt;
use crate::clock::now;
use crate::fail::{Fail, Kind};
use crate::output::short;
use crate::remote::{self, Remote};
use crate::session::Session;
use crate::side_file::Side;
use crate::sync_cache::{self, Cache, Persist};
use crate::vault_file;

/// A space as `spaces/list` answers it.
#[derive(Deserialize, Clone, Debug)]
pub(crate) struct SpaceInfo {
    /// The space id (hex).
    pub(crate) space: String,
    /// The owning account.
    pub(crate) owner: String,
    /// Every member, the owner included.
    pub(crate) members: Vec<String>,
}

/// An invitation as `inbox` answers it.
#[derive(Deserialize, Clone, Debug)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Invitation {
    /// Its id.
    pub(crate) id: String,
    /// The sending account.
    pub(crate) from: String,
    /// The space (hex).
    pub(crate) space: String,
    /// The key-delivery record (text).
    pub(crate) delivery: String,
    /// When it was sent (Unix seconds).
    #[serde(default)]
    pub(crate) created_at: u64,
}

/// `identity/fetch`'s answer.
#[derive(Deserialize)]
struct BundleAnswer {
    bundle: String,
}

/// `spaces/list`'s answer.
#[derive(Deserialize)]
struct SpacesAnswer {
    spaces: Vec<SpaceInfo>,
}

/// `inbox`'s answer.
#[derive(Deserialize)]
struct InboxAnswer {
    invitations: Vec<Invitation>,
}

/// What [`after_sync`] did per space (its id, hex).
pub(crate) type SpaceResults = Vec<(String, Result<SyncReport, Fail>)>;

/// The account's connection to its server, for the sharing routes.
pub(crate) struct Net {
    pub(crate) origin: String,
    pub(crate) account: String,
    pub(crate) remote: Remote,
    cache: Cache,
}

impl Net {
    /// Connects as the account the vault at `path` last synced as (or the
    /// one `to` names), reusing its session token.
    ///
    /// # Errors
    ///
    /// Invalid when the vault never synced and `to` names nothing.
    pub(crate) fn connect(path: &Path, to: &ServerOpt, password: Password) -> Result<Self, Fail> {
        let (server, account) = sync_cache::resolve(path, to)?;
        let origin = remote::origin(&server).map_err(Fail::invalid)?;
        let cache = Cache::load(&origin, &account, path)?;
        let mut remote = Remote::new(origin.clone(), account.clone(), cache.token());
        remote.set_password(password);
        Ok(Net {
            origin,
            account,
            remote,
            cache,
        })
    }

    /// A connection from a sync that already logged in.
    pub(crate) fn from_sync(remote: Remote, cache: Cache) -> Self {
        Net {
            origin: remote.origin.clone(),
            account: remote.account.clone(),
            remote,
            cache,
        }
    }

    /// Calls a sharing route, mapping its refusals to typed failures.
    ///
    /// # Errors
    ///
    /// NotFound for a missing account, identity, space or invitation;
    /// NotAMember; Auth for a refused login; Other otherwise.
    pub(crate) fn call(&mut self, route: &str, body: &Value) -> Result<Value, Fail> {
        let r = self.remote.call::<_, Value>(route, body);
        if self.remote.token.is_some() {
            self.cache.set_token(self.remote.token.clone(), 3000);
            let _ = self.cache.save();
        }
        r.map_err(|e| match e {
            SyncError::Refused {
                status,
                code,
                message,
            } => match code.as_str() {
                "no_identity" | "no_account" | "no_space" | "no_invitation" => {
                    Fail::new(Kind::NotFound, message)
                }
                "not_a_member" => Fail::new(Kind::NotAMember, message),
                _ => Fail::from_sync(
                    SyncError::Refused {
                        status,
                        code,
                        message,
                    },
                    &self.account,
                ),
            },
            other => Fail::from_sync(other, &self.account),
        })
    }

    /// `account`'s published bundle, checked to name that account.
    ///
    /// # Errors
    ///
    /// NotFound when it has none; Corrupt for one that does not parse;
    /// Fingerprint for a bundle made for another account.
    pub(crate) fn bundle(&mut self, account: &str) -> Result<Option<PublicBundle>, Fail> {
        let got = match self.call("identity/fetch", &json!({ "account": account })) {
            Ok(v) => v,
            Err(f) if f.kind == Kind::NotFound => return Ok(None),
            Err(f) => return Err(f),
        };
        let text = serde_json::from_value::<BundleAnswer>(got)
            .map(|a| a.bundle)
            .unwrap_or_default();
        let bundle = PublicBundle::from_text(&text).map_err(|e| {
            Fail::new(
                Kind::Corrupt,
                format!("the identity the server holds for {account} is not valid ({e})"),
            )
        })?;
        if bundle.account() != account {
            return Err(Fail::new(
                Kind::Fingerprint,
                format!(
                    "the identity the server gave for {account} was made for another account \
                     ({}); nothing was sent",
                    bundle.account()
                ),
            ));
        }
        Ok(Some(bundle))
    }

    /// As [`Net::bundle`], failing when the account has none.
    ///
    /// # Errors
    ///
    /// As [`Net::bundle`]; NotFound.
    pub(crate) fn required_bundle(&mut self, account: &str) -> Result<PublicBundle, Fail> {
        self.bundle(account)?.ok_or_else(|| {
            Fail::new(
                Kind::NotFound,
                format!(
                    "there is no sharing identity for {account} on {}: no such account, or it \
                     has not synced since sharing arrived (its next `promptvault sync` makes one)",
                    self.origin
                ),
            )
        })
    }

    /// The spaces this account is a member of.
    ///
    /// # Errors
    ///
    /// As [`Net::call`].
    pub(crate) fn spaces(&mut self) -> Result<Vec<SpaceInfo>, Fail> {
        let v = self.call("spaces/list", &json!({}))?;
        serde_json::from_value::<SpacesAnswer>(v)
            .map(|a| a.spaces)
            .map_err(|e| {
                Fail::new(
                    Kind::Other,
                    format!("the server's list of spaces is not the protocol's ({e})"),
                )
            })
    }

    /// The invitations waiting for this account.
    ///
    /// # Errors
    ///
    /// As [`Net::call`].
    pub(crate) fn inbox(&mut self) -> Result<Vec<Invitation>, Fail> {
        let v = self.call("inbox", &json!({}))?;
        serde_json::from_value::<InboxAnswer>(v)
            .map(|a| a.invitations)
            .map_err(|e| {
                Fail::new(
                    Kind::Other,
                    format!("the server's inbox is not the protocol's ({e})"),
                )
            })
    }

    /// A space session for `space`.
    ///
    /// # Errors
    ///
    /// NotAMember (with a message naming the owner) once this account
    /// was removed; as [`Net::call`].
    fn space_session(&mut self, space: &str, owner: &str) -> Result<SessionResponse, Fail> {
        let v = self
            .call("spaces/session", &json!({ "space": space }))
            .map_err(|f| {
                if f.kind == Kind::NotAMember || f.kind == Kind::NotFound {
                    removed(owner)
                } else {
                    f
                }
            })?;
        serde_json::from_value(v).map_err(|e| {
            Fail::new(
                Kind::Other,
                format!("the server's space session is not the protocol's ({e})"),
            )
        })
    }

    /// Delivers `key` to `to` (whose bundle the caller pinned) through the
    /// inbox.
    ///
    /// # Errors
    ///
    /// As [`Identity::deliver`] and [`Net::call`].
    pub(crate) fn deliver(
        &mut self,
        identity: &Identity,
        key: &SpaceKey,
        to: &PublicBundle,
    ) -> Result<(), Fail> {
        let delivery = identity.deliver(key, to).map_err(Fail::from_core)?;
        self.call(
            "inbox/send",
            &json!({
                "to": to.account(),
                "space": key.space_id().to_hex(),
                "delivery": delivery.record().to_text(),
            }),
        )?;
        Ok(())
    }
}

/// The failure of a sync of a space this account was removed from.
fn removed(owner: &str) -> Fail {
    Fail::new(
        Kind::NotAMember,
        format!(
            "you are no longer a member of the space shared by {owner}; what you synced before \
             stays readable here"
        ),
    )
}

/// The failure when there is no identity yet.
pub(crate) fn no_identity() -> Fail {
    Fail::new(
        Kind::NotFound,
        "this vault has no sharing identity yet: run `promptvault sync --server URL --account \
         NAME` (the first sync makes one)"
            .into(),
    )
}

/// After a sync of the vault: makes this account's identity if it has
/// none anywhere, and publishes it when the server's bundle differs.
///
/// An identity is made only when the server holds none for the account:
/// when it holds one this device does not have, it was made on another
/// device, and publishing a new one would break every pin of it (syncing
/// identities between devices is not done yet).
///
/// # Errors
///
/// As [`Net::call`], sealing and writing the side file.
pub(crate) fn publish_identity(net: &mut Net, side: &mut Side, vault: &Vault) -> Result<(), Fail> {
    let account = net.account.clone();
    let on_server = net.bundle(&account)?;
    let identity = match side.identity(vault)? {
        Some(id) => id,
        None if on_server.is_some() => {
            eprintln!(
                "promptvault: note: the sharing identity of {account} was made on another device; \
                 share from that device (identities are not synced between devices)"
            );
            return Ok(());
        }
        None => {
            let id = Identity::generate(&account, now()).map_err(Fail::from_core)?;
            side.set_identity(vault, &id)?;
            side.save()?;
            id
        }
    };
    if identity.bundle().account() != account {
        eprintln!(
            "promptvault: note: this vault's sharing identity belongs to {}, not {account}; it \
             is not published for {account}",
            identity.bundle().account()
        );
        return Ok(());
    }
    if on_server.as_ref().map(PublicBundle::as_bytes) != Some(identity.bundle().as_bytes()) {
        net.call(
            "identity/publish",
            &json!({ "bundle": identity.bundle().to_text() }),
        )?;
    }
    Ok(())
}

/// Where a prompt lives.
pub(crate) enum Found {
    /// In the account's own vault.
    Own(PromptId),
    /// In a shared space (its session, the space id hex).
    Space(Box<Session>, PromptId, String),
}

/// Opens the space `hex` from its store with the key of its header's
/// generation.
///
/// # Errors
///
/// NotFound without a store; NotAMember without a key for the store's
/// generation; as [`Session::open_space`].
pub(crate) fn open_space(
    side: &Side,
    own: &Vault,
    hex: &str,
    accept: bool,
) -> Result<Session, Fail> {
    let id: VaultId = hex
        .parse()
        .map_err(|_| Fail::new(Kind::Corrupt, format!("a space id {hex} is not valid")))?;
    let path = side.space_path(&id);
    let store = vault_file::read(&path)?;
    let generation = store
        .header_record()
        .map(|h| h.header().key_generation())
        .unwrap_or_default();
    let key = side
        .space_keys(own, hex)
        .into_iter()
        .find(|k| k.generation() == generation)
        .ok_or_else(|| {
            Fail::new(
                Kind::NotAMember,
                format!(
                    "no key of generation {generation} is held for the space {}",
                    short(hex)
                ),
            )
        })?;
    Session::open_space(&path, store, &key, accept)
}

/// Every space held here whose store opens, with its id (hex); a space
/// that does not open is reported on stderr and skipped.
pub(crate) fn held_spaces(side: &Side, own: &Vault, accept: bool) -> Vec<(String, Session)> {
    let mut out = Vec::new();
    for hex in side.data.spaces.keys() {
        match open_space(side, own, hex, accept) {
            Ok(s) => out.push((hex.clone(), s)),
            Err(f) if f.kind == Kind::NotFound => {}
            Err(f) => eprintln!(
                "promptvault: warning: shared space {}: {}",
                short(hex),
                f.message
            ),
        }
    }
    out
}

/// Finds the prompt whose id starts with `prefix`: in the own vault, else
/// in a space held here.
///
/// # Errors
///
/// As [`Session::prompt`].
pub(crate) fn find_prompt(
    own: &Session,
    path: &Path,
    prefix: &str,
    accept: bool,
) -> Result<Found, Fail> {
    match own.prompt(prefix) {
        Ok(id) => return Ok(Found::Own(id)),
        Err(f) if f.kind != Kind::NotFound => return Err(f),
        Err(_) => {}
    }
    let side = Side::load(path, &own.vault)?;
    for (hex, s) in held_spaces(&side, &own.vault, accept) {
        if let Ok(id) = s.prompt(prefix) {
            return Ok(Found::Space(Box::new(s), id, hex));
        }
    }
    own.prompt(prefix).map(Found::Own)
}

/// Opens the own vault with the password and finds `prefix` in it or in
/// a space: the session the prompt lives in, and its id.
///
/// # Errors
///
/// As [`Session::open`] and [`find_prompt`].
pub(crate) fn open_prompt(
    path: &Path,
    accept: bool,
    prefix: &str,
) -> Result<(Session, PromptId), Fail> {
    let own = Session::open(path, accept)?;
    match find_prompt(&own, path, prefix, accept)? {
        Found::Own(id) => Ok((own, id)),
        Found::Space(s, id, _) => Ok((*s, id)),
    }
}

fn unauthorized(e: &SyncError) -> bool {
    matches!(e, SyncError::Refused { code, .. } if code == "unauthorized")
}

/// One space's connection: its space session and its sync state.
struct SpaceLink {
    remote: Remote,
    cache: Cache,
    hex: String,
    owner: String,
}

impl SpaceLink {
    fn new(net: &Net, side: &Side, hex: &str, path: &Path) -> Result<Self, Fail> {
        let cache = Cache::load(&net.origin, &net.account, path)?;
        let remote = Remote::for_space(net.origin.clone(), net.account.clone(), cache.token());
        let owner = side
            .data
            .spaces
            .get(hex)
            .map(|e| e.owner.clone())
            .unwrap_or_default();
        Ok(SpaceLink {
            remote,
            cache,
            hex: hex.to_owned(),
            owner,
        })
    }

    /// Asks for a new space session.
    fn renew(&mut self, net: &mut Net) -> Result<(), Fail> {
        let s = net.space_session(&self.hex, &self.owner)?;
        self.remote.token = Some(s.token);
        self.cache
            .set_token(self.remote.token.clone(), s.expires_in);
        self.cache.save()
    }

    /// Downloads the whole space with `key` into a new store at `path`;
    /// what it brought is added to `report`.
    fn download(
        &mut self,
        net: &mut Net,
        key: &SpaceKey,
        path: &Path,
        report: &mut SyncReport,
    ) -> Result<(MemoryStore, Vault), Fail> {
        for attempt in 0..2 {
            let mut state = SyncState::new();
            let pulled = state
                .begin_download(key.space_id())
                .and_then(|inbox| sync::pull(&mut self.remote, inbox, Options::default()));
            let inbox = match pulled {
                Ok(i) => i,
                Err(e) if unauthorized(&e) && attempt == 0 => {
                    self.renew(net)?;
                    continue;
                }
                Err(e) => return Err(Fail::from_sync(e, &net.account)),
            };
            let header = inbox.header().cloned().ok_or_else(|| {
                Fail::new(
                    Kind::Other,
                    "the server sent no header for the space".into(),
                )
            })?;
            let mut vault = Vault::open_space(
                header.as_bytes(),
                Vec::<&[u8]>::new(),
                key,
                &SeenRevisions::default(),
            )
            .map_err(|e| match e {
                promptvault::Error::Revoked { .. } => removed(&self.owner),
                other => Fail::from_core(other),
            })?;
            let mut store = MemoryStore::new();
            store.put_header(header);
            let done = state
                .integrate(&mut vault, &mut store, &inbox)
                .map_err(|e| Fail::from_sync(e, &net.account))?;
            report.pulled += done.rows;
            report.prompts_added += done.prompts_added;
            report.versions_added += done.versions_added;
            vault_file::write(path, &store)?;
            self.cache.data.state = state;
            self.cache.save()?;
            return Ok((store, vault));
        }
        Err(Fail::new(
            Kind::Other,
            "the server refused the space session twice".into(),
        ))
    }
}

/// The newest key of `hex` delivered by its owner (pinned here) through
/// the inbox at `generation`, accepted; the invitation is deleted.
fn pick_up_key(
    net: &mut Net,
    side: &Side,
    identity: &Identity,
    hex: &str,
    owner: &str,
    generation: u32,
) -> Result<Option<SpaceKey>, Fail> {
    let Some(sender) = side.pinned(owner)? else {
        return Ok(None);
    };
    for inv in net.inbox()? {
        if inv.space != hex || inv.from != owner {
            continue;
        }
        let Ok(delivery) = KeyDelivery::from_text(&inv.delivery) else {
            continue;
        };
        if delivery.space_id().to_hex() != hex || delivery.generation() != generation {
            continue;
        }
        let key = identity
            .accept(&delivery, &sender)
            .map_err(Fail::from_core)?;
        net.call("inbox/delete", &json!({ "id": inv.id }))?;
        return Ok(Some(key));
    }
    Ok(None)
}

/// Syncs the space `hex` held here (or downloads it when its store does
/// not exist yet, with the newest key held): pull, merge, push through
/// the core's engine on a space session. When the space moved to a newer
/// key generation, the new key is picked up from the inbox (from the
/// pinned owner only), the space downloaded again under it, and what this
/// device had that the server lacks copied in and pushed.
///
/// # Errors
///
/// NotAMember once this account was removed (its store stays as it was);
/// as the engine otherwise.
pub(crate) fn sync_space(
    net: &mut Net,
    side: &mut Side,
    own: &Vault,
    hex: &str,
    accept: bool,
) -> Result<(Session, SyncReport), Fail> {
    let id: VaultId = hex
        .parse()
        .map_err(|_| Fail::new(Kind::Corrupt, format!("a space id {hex} is not valid")))?;
    let path = side.space_path(&id);
    side.create_dir()?;
    let mut link = SpaceLink::new(net, side, hex, &path)?;
    let mut report = SyncReport::default();
    let mut s = if std::fs::symlink_metadata(&path).is_ok() {
        open_space(side, own, hex, accept)?
    } else {
        let key = side
            .space_keys(own, hex)
            .into_iter()
            .next()
            .ok_or_else(|| {
                Fail::new(
                    Kind::NotAMember,
                    format!("no key is held for the space {hex}"),
                )
            })?;
        let (store, vault) = link.download(net, &key, &path, &mut report)?;
        Session::from_parts(&path, store, vault, true)?
    };
    let account = net.account.clone();
    for _ in 0..4 {
        let result = {
            let (vault, store) = s.parts();
            let mut state = link.cache.data.state.clone();
            let mut t = Persist {
                remote: &mut link.remote,
                cache: &mut link.cache,
                path: &path,
            };
            sync::run(vault, store, &mut state, &mut t, Options::default())
        };
        match result {
            Ok(r) => {
                report.add_run(&r);
                s.write_store()?;
                return Ok((s, report));
            }
            Err(e) if unauthorized(&e) => link.renew(net)?,
            Err(SyncError::HeaderChanged) => {
                s = rekeyed(net, side, own, &mut link, s, &path, &mut report)?;
            }
            Err(e) => return Err(Fail::from_sync(e, &account)),
        }
    }
    Err(Fail::new(
        Kind::Other,
        format!("the space {} did not settle after four runs", short(hex)),
    ))
}

/// The server holds a newer header of the space: when it is at a newer
/// key generation, picks up that key (from the inbox, sent by the pinned
/// owner), downloads the space again under it and copies in every version
/// this device has that it lacks; otherwise adopts the header.
fn rekeyed(
    net: &mut Net,
    side: &mut Side,
    own: &Vault,
    link: &mut SpaceLink,
    mut s: Session,
    path: &Path,
    report: &mut SyncReport,
) -> Result<Session, Fail> {
    let account = net.account.clone();
    let (vault, store) = s.parts();
    let mut state = link.cache.data.state.clone();
    let inbox = state
        .begin_pull(vault)
        .and_then(|i| sync::pull(&mut link.remote, i, Options::default()))
        .map_err(|e| Fail::from_sync(e, &account))?;
    let Some(h) = inbox.newer_header(vault).cloned() else {
        return Ok(s);
    };
    let generation = h.header().key_generation();
    if generation == vault.key_generation() {
        let key = side
            .space_keys(own, &link.hex)
            .into_iter()
            .find(|k| k.generation() == generation)
            .ok_or_else(|| removed(&link.owner))?;
        *vault = Vault::open_space(
            h.as_bytes(),
            store.record_bytes(),
            &key,
            &SeenRevisions::default(),
        )
        .map_err(Fail::from_core)?;
        store.put_header(h);
        return Ok(s);
    }
    let identity = side.identity(own)?.ok_or_else(no_identity)?;
    let key = match side
        .space_keys(own, &link.hex)
        .into_iter()
        .find(|k| k.generation() == generation)
    {
        Some(k) => k,
        None => pick_up_key(net, side, &identity, &link.hex, &link.owner, generation)?
            .ok_or_else(|| removed(&link.owner))?,
    };
    side.add_space_key(own, &key, &link.owner)?;
    side.save()?;
    let (store, vault) = link.download(net, &key, path, report)?;
    let mut fresh = Session::from_parts(path, store, vault, true)?;
    // What this device wrote and the server lacks: copied in, to push.
    for id in s.vault.prompt_ids() {
        let c = s
            .vault
            .share_prompt(id, &mut fresh.vault, now())
            .map_err(Fail::from_core)?;
        fresh.save(&c)?;
    }
    side.drop_keys_before(own, &link.hex, generation);
    side.save()?;
    Ok(fresh)
}

/// Refreshes the owner and members of every space held here from the
/// server's list.
///
/// # Errors
///
/// As [`Net::spaces`].
pub(crate) fn refresh_members(net: &mut Net, side: &mut Side) -> Result<(), Fail> {
    for info in net.spaces()? {
        if let Some(e) = side.data.spaces.get_mut(&info.space) {
            e.owner = info.owner;
            e.members = info.members;
            e.on_server = true;
            e.removed = false;
        }
    }
    Ok(())
}

/// Syncs every space held here after the vault synced: the identity is
/// published first, members refreshed, then each space synced. A space
/// that fails does not stop the others.
///
/// # Errors
///
/// The first space's failure (after trying all); as publishing.
pub(crate) fn after_sync(
    net: &mut Net,
    side: &mut Side,
    own: &Vault,
    accept: bool,
) -> Result<SpaceResults, Fail> {
    publish_identity(net, side, own)?;
    if side.data.spaces.is_empty() {
        return Ok(Vec::new());
    }
    refresh_members(net, side)?;
    side.save()?;
    let mut done = Vec::new();
    let spaces: Vec<String> = side.data.spaces.keys().cloned().collect();
    for hex in spaces {
        let r = sync_space(net, side, own, &hex, accept).map(|(_, r)| r);
        if let (Err(f), Some(e)) = (&r, side.data.spaces.get_mut(&hex)) {
            e.removed = f.kind == Kind::NotAMember;
        }
        done.push((hex, r));
    }
    side.save()?;
    Ok(done)
}
