//! The sharing commands: `identity`, `share`, `inbox`, `accept`, `revoke`
//! (SPEC §12.12, §13). They use the server and account the vault last
//! synced with ([`crate::sync_cache::remembered`]) unless told otherwise.

use std::io::Write;
use std::path::Path;

use promptvault::share::{KeyDelivery, PublicBundle};
use promptvault::{Credential, MemoryStore, PromptId, Vault};
use serde::Serialize;
use serde_json::json;

use crate::cli::{RevokeArgs, ServerOpt, ShareArgs};
use crate::clock::now;
use crate::fail::{Fail, Kind};
use crate::output::{fmt_time, json, say, short};
use crate::session::Session;
use crate::sharing::{self, Found, Net};
use crate::side_file::Side;
use crate::{secrets, vault_file};

/// The own vault opened with the password, its side file, and the
/// connection to the server (with the same password).
fn open_all(path: &Path, accept: bool, to: &ServerOpt) -> Result<(Session, Side, Net), Fail> {
    let password = secrets::password()?;
    let own = Session::open_with(
        path,
        vault_file::read(path)?,
        Credential::Password(&password),
        accept,
    )?;
    let side = Side::load(path, &own.vault)?;
    let net = Net::connect(path, to, password)?;
    Ok((own, side, net))
}

#[derive(Serialize)]
struct IdentityView<'a> {
    account: &'a str,
    fingerprint: String,
}

/// `identity`: this account's fingerprint.
pub(crate) fn identity(
    path: &Path,
    accept: bool,
    out: &mut impl Write,
    as_json: bool,
) -> Result<(), Fail> {
    let own = Session::open(path, accept)?;
    let side = Side::load(path, &own.vault)?;
    let id = side
        .identity(&own.vault)?
        .ok_or_else(sharing::no_identity)?;
    let view = IdentityView {
        account: id.bundle().account(),
        fingerprint: id.fingerprint().to_string(),
    };
    if as_json {
        return json(out, &view);
    }
    say(out, format!("{}  {}", view.fingerprint, view.account))
}

/// Checks `bundle` (fetched for `account`) against the fingerprint the
/// user gave and against a pin held here.
fn verify_recipient(
    side: &Side,
    account: &str,
    bundle: &PublicBundle,
    fingerprint: &str,
) -> Result<(), Fail> {
    bundle.verify_fingerprint(fingerprint).map_err(|_| {
        Fail::new(
            Kind::Fingerprint,
            format!(
                "the fingerprint {fingerprint} does not match {account}'s published identity: \
                 nothing was shared. Compare it with {account} again (they run `promptvault \
                 identity`); if it still differs, someone may be impersonating them"
            ),
        )
    })?;
    if let Some(pinned) = side.pinned(account)? {
        if pinned.as_bytes() != bundle.as_bytes() {
            eprintln!(
                "promptvault: note: {account}'s identity changed since it was pinned here; the \
                 one matching the fingerprint you gave is pinned now"
            );
        }
    }
    Ok(())
}

/// `share PROMPT --with ACCOUNT --fingerprint FP`.
pub(crate) fn share(
    path: &Path,
    accept: bool,
    out: &mut impl Write,
    a: &ShareArgs,
) -> Result<(), Fail> {
    let (mut own, mut side, mut net) = open_all(path, accept, &a.to)?;
    let identity = side
        .identity(&own.vault)?
        .ok_or_else(sharing::no_identity)?;
    if a.with == net.account {
        return Err(Fail::invalid("share with another account than your own"));
    }
    let found = sharing::find_prompt(&own, path, &a.prompt, accept)?;
    if let Found::Space(_, _, hex) = &found {
        let owner = side
            .data
            .spaces
            .get(hex)
            .map(|e| e.owner.clone())
            .unwrap_or_default();
        if owner != net.account {
            return Err(Fail::invalid(format!(
                "this prompt is in a space {owner} shared with you; only {owner} adds members"
            )));
        }
    }
    // Verify the recipient before anything is created or sent.
    let bundle = net.required_bundle(&a.with)?;
    verify_recipient(&side, &a.with, &bundle, &a.fingerprint)?;

    let (hex, id, moved) = match found {
        Found::Space(_, id, hex) => (hex, id, false),
        Found::Own(id) => {
            // A space of ours that already holds it: an earlier `share`
            // stopped before the prompt left the vault. Finish that one.
            let earlier = sharing::held_spaces(&side, &own.vault, accept)
                .into_iter()
                .find(|(hex, sp)| {
                    sp.vault.prompt_ids().contains(&id)
                        && side
                            .data
                            .spaces
                            .get(hex)
                            .is_some_and(|e| e.owner == net.account)
                })
                .map(|(hex, _)| hex);
            let hex = match earlier {
                Some(hex) => hex,
                None => new_space(&mut own, &mut side, id, &net.account)?,
            };
            publish_space(&mut net, &mut side, &own.vault, &hex)?;
            (hex, id, true)
        }
    };
    net.call(
        "spaces/members/add",
        &json!({ "space": hex, "account": a.with }),
    )?;
    let key = side
        .space_keys(&own.vault, &hex)
        .into_iter()
        .next()
        .ok_or_else(|| Fail::new(Kind::Other, "the space's key is missing".into()))?;
    net.deliver(&identity, &key, &bundle)?;
    side.pin(&bundle);
    if let Some(e) = side.data.spaces.get_mut(&hex) {
        if !e.members.contains(&a.with) {
            e.members.push(a.with.clone());
        }
    }
    side.save()?;
    if moved {
        // Only now, with the space stored here and on the server: the
        // prompt lives in the space from here on.
        let c = own.vault.delete_prompt(id).map_err(Fail::from_core)?;
        own.save(&c)?;
    }
    say(
        out,
        format!(
            "Shared prompt {} with {} (fingerprint {} verified and pinned) in space {}; it now \
             lives in the shared space, and edits sync to every member",
            short(&id.to_hex()),
            a.with,
            bundle.fingerprint(),
            short(&hex)
        ),
    )
}

/// Makes a space holding prompt `id` (same id), stored here with its key
/// (owned by `me`). Returns its id (hex).
fn new_space(own: &mut Session, side: &mut Side, id: PromptId, me: &str) -> Result<String, Fail> {
    let new = Vault::create_space().map_err(Fail::from_core)?;
    let mut space = new.vault;
    let mut store = MemoryStore::new();
    store.apply(&new.changes);
    let c = own
        .vault
        .share_prompt(id, &mut space, now())
        .map_err(Fail::from_core)?;
    store.apply(&c);
    side.create_dir()?;
    vault_file::write(&side.space_path(&space.id()), &store)?;
    side.add_space_key(&own.vault, &new.key, me)?;
    side.save()?;
    Ok(space.id().to_hex())
}

/// Creates the space `hex` on the server unless that was done (a
/// `vault_taken` for a space the server lists as ours counts as done),
/// then pushes it.
fn publish_space(net: &mut Net, side: &mut Side, own: &Vault, hex: &str) -> Result<(), Fail> {
    let on_server = side.data.spaces.get(hex).is_some_and(|e| e.on_server);
    if !on_server {
        if let Err(f) = net.call("spaces/create", &json!({ "space": hex })) {
            let ours = net
                .spaces()?
                .iter()
                .any(|s| s.space == hex && s.owner == net.account);
            if !ours {
                return Err(f);
            }
        }
        if let Some(e) = side.data.spaces.get_mut(hex) {
            e.on_server = true;
        }
        side.save()?;
    }
    sharing::sync_space(net, side, own, hex, true)?;
    Ok(())
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct InvitationView {
    id: String,
    from: String,
    space: String,
    generation: Option<u32>,
    created_at: u64,
}

/// `inbox`: the invitations waiting.
pub(crate) fn inbox(
    path: &Path,
    accept: bool,
    out: &mut impl Write,
    to: &ServerOpt,
    as_json: bool,
) -> Result<(), Fail> {
    let (_own, _side, mut net) = open_all(path, accept, to)?;
    let list: Vec<InvitationView> = net
        .inbox()?
        .into_iter()
        .map(|i| InvitationView {
            generation: KeyDelivery::from_text(&i.delivery)
                .ok()
                .map(|d| d.generation()),
            id: i.id,
            from: i.from,
            space: i.space,
            created_at: i.created_at,
        })
        .collect();
    if as_json {
        return json(out, &list);
    }
    for i in &list {
        say(
            out,
            format!(
                "{}  from {}  space {}  {}",
                i.id,
                i.from,
                short(&i.space),
                fmt_time(promptvault::Timestamp(i.created_at.saturating_mul(1000)))
            ),
        )?;
    }
    say(
        out,
        format!(
            "{} invitation(s); `promptvault accept ID` takes one",
            list.len()
        ),
    )
}

/// `accept ID`.
pub(crate) fn accept(
    path: &Path,
    accept_rollback: bool,
    out: &mut impl Write,
    id: &str,
    to: &ServerOpt,
) -> Result<(), Fail> {
    let (own, mut side, mut net) = open_all(path, accept_rollback, to)?;
    let identity = side
        .identity(&own.vault)?
        .ok_or_else(sharing::no_identity)?;
    let wanted = id.to_ascii_lowercase();
    let hits: Vec<_> = net
        .inbox()?
        .into_iter()
        .filter(|i| i.id.to_ascii_lowercase().starts_with(&wanted))
        .collect();
    let inv = match hits.as_slice() {
        [one] if !wanted.is_empty() => one.clone(),
        [] => {
            return Err(Fail::new(
                Kind::NotFound,
                format!("no invitation {id} (see `promptvault inbox`)"),
            ));
        }
        _ => return Err(Fail::invalid(format!("{id} matches several invitations"))),
    };
    // The sender: pinned here, or pinned now (on first use).
    let published = net.required_bundle(&inv.from)?;
    let sender = match side.pinned(&inv.from)? {
        Some(p) if p.as_bytes() != published.as_bytes() => {
            return Err(Fail::new(
                Kind::Fingerprint,
                format!(
                    "{}'s identity on the server ({}) is not the one pinned here ({}): refusing \
                     the invitation. Compare fingerprints with {} before trusting a new one",
                    inv.from,
                    published.fingerprint(),
                    p.fingerprint(),
                    inv.from
                ),
            ));
        }
        Some(p) => p,
        None => published,
    };
    let delivery = KeyDelivery::from_text(&inv.delivery).map_err(|e| {
        Fail::new(
            Kind::Corrupt,
            format!("the invitation is not a key delivery ({e})"),
        )
    })?;
    if delivery.space_id().to_hex() != inv.space {
        return Err(Fail::new(
            Kind::Fingerprint,
            "the invitation's key is for another space than it says: refused".into(),
        ));
    }
    let key = identity
        .accept(&delivery, &sender)
        .map_err(Fail::from_core)?;
    let owner = net
        .spaces()?
        .into_iter()
        .find(|s| s.space == inv.space)
        .map_or_else(|| inv.from.clone(), |s| s.owner);
    side.add_space_key(&own.vault, &key, &owner)?;
    side.pin(&sender);
    side.save()?;
    sharing::refresh_members(&mut net, &mut side)?;
    side.save()?;
    let (s, _) = sharing::sync_space(&mut net, &mut side, &own.vault, &inv.space, true)?;
    side.drop_keys_before(&own.vault, &inv.space, key.generation());
    side.save()?;
    net.call("inbox/delete", &json!({ "id": inv.id }))?;
    say(
        out,
        format!(
            "Accepted the space {} shared by {} (fingerprint {} pinned): {} prompt(s)",
            short(&inv.space),
            owner,
            sender.fingerprint(),
            s.vault.prompt_ids().len()
        ),
    )
}

/// `revoke PROMPT --from ACCOUNT`.
pub(crate) fn revoke(
    path: &Path,
    accept: bool,
    out: &mut impl Write,
    a: &RevokeArgs,
) -> Result<(), Fail> {
    let (own, mut side, mut net) = open_all(path, accept, &a.to)?;
    let identity = side
        .identity(&own.vault)?
        .ok_or_else(sharing::no_identity)?;
    let Found::Space(_, id, hex) = sharing::find_prompt(&own, path, &a.prompt, accept)? else {
        return Err(Fail::invalid(format!("prompt {} is not shared", a.prompt)));
    };
    let entry = side.data.spaces.get(&hex).cloned().unwrap_or_default();
    if entry.owner != net.account {
        return Err(Fail::invalid(format!(
            "only the owner of this space, {}, removes members",
            entry.owner
        )));
    }
    if a.from == net.account {
        return Err(Fail::invalid("the owner cannot remove itself"));
    }
    // First the server (immediate), then the key (for what comes after).
    match net.call(
        "spaces/members/remove",
        &json!({ "space": hex, "account": a.from }),
    ) {
        Ok(_) => {}
        Err(f) if f.kind == Kind::NotAMember && !entry.members.contains(&a.from) => {
            return Err(Fail::new(
                Kind::NotFound,
                format!("{} is not a member of this space", a.from),
            ));
        }
        Err(f) if f.kind == Kind::NotAMember || f.kind == Kind::NotFound => {}
        Err(f) => return Err(f),
    }
    let (mut s, _) = sharing::sync_space(&mut net, &mut side, &own.vault, &hex, accept)?;
    let (key, mut c) = s.vault.rotate_space().map_err(Fail::from_core)?;
    c.extend(s.vault.finish_rotation().map_err(Fail::from_core)?);
    // The new key is kept before the space is written under it.
    side.add_space_key(&own.vault, &key, &net.account)?;
    side.save()?;
    s.save(&c)?;
    drop(s);
    sharing::sync_space(&mut net, &mut side, &own.vault, &hex, accept)?;
    side.drop_keys_before(&own.vault, &hex, key.generation());
    sharing::refresh_members(&mut net, &mut side)?;
    let members = side
        .data
        .spaces
        .get(&hex)
        .map(|e| e.members.clone())
        .unwrap_or_default();
    let mut delivered = Vec::new();
    let me = net.account.clone();
    for m in members.iter().filter(|m| **m != me && **m != a.from) {
        match side.pinned(m)? {
            Some(b) => {
                net.deliver(&identity, &key, &b)?;
                delivered.push(m.clone());
            }
            None => eprintln!(
                "promptvault: warning: no identity pinned for {m}: the new key was not sent to \
                 them; share the prompt with them again (with their fingerprint)"
            ),
        }
    }
    side.save()?;
    say(
        out,
        format!(
            "Removed {} from the space of prompt {} and rotated its key to generation {}; {} \
             cannot read anything written from now on (what they synced before, they keep). \
             New key sent to: {}",
            a.from,
            short(&id.to_hex()),
            key.generation(),
            a.from,
            if delivered.is_empty() {
                "nobody else".to_owned()
            } else {
                delivered.join(", ")
            }
        ),
    )
}
