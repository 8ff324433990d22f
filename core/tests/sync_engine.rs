//! The sans-IO sync engine (`promptvault::sync`, SPEC §12.11) against an
//! in-memory reference server written from SPEC §12.4–12.6 alone: devices
//! converge whatever the order of syncs, deletions propagate and an
//! offline edit beats a deletion, a hostile server is caught with nothing
//! changed and nothing pushed, a failure at any step loses nothing, and a
//! vault too large for one commit leaves the server consistent after every
//! commit.
// Test code: unwrap/expect/indexing/panic are how a test fails.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

use promptvault::protocol::{Change, CommitRequest, CommitResponse, PullRequest, PullResponse};
use promptvault::sync::{
    self, Answer, Machine, Misbehavior, Options, Request, Step, SyncError, SyncReport, SyncState,
    Transport,
};
use promptvault::{
    Credential, Draft, Error, KdfParams, MemoryStore, Password, PromptId, RecordKind, RecoveryKey,
    SealedRecord, Timestamp, Vault, VaultId, VersionId,
};
use proptest::prelude::*;

// ---------------------------------------------------------------------------
// Fixtures

fn fast() -> KdfParams {
    KdfParams::new(KdfParams::MIN_M_COST_KIB, 1, 1).unwrap()
}

fn pw() -> Password {
    Password::new("pw").unwrap()
}

struct Fixture {
    /// The header of a fresh vault, and its recovery key (unlocking with it
    /// skips the KDF, which keeps every test fast).
    header: Vec<u8>,
    recovery: RecoveryKey,
    /// A prompt-meta record of another vault.
    foreign: SealedRecord,
    /// An export-header record.
    export_header: SealedRecord,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let c = Vault::create(&pw(), fast()).unwrap();
        let header = c.changes.header.as_ref().unwrap().as_bytes().to_vec();
        let mut other = Vault::create(&pw(), fast()).unwrap().vault;
        let (_, ch) = other
            .create_prompt(&draft("x", "y"), &[], false, Timestamp(1))
            .unwrap();
        let foreign = ch
            .puts
            .iter()
            .find(|r| r.kind() == RecordKind::PromptMeta)
            .unwrap()
            .clone();
        let export = c.vault.export(&pw(), fast()).unwrap();
        let first = SealedRecord::from_bytes(export[..72 + 148].to_vec()).unwrap();
        assert_eq!(first.kind(), RecordKind::ExportHeader);
        Fixture {
            header,
            recovery: c.recovery_key,
            foreign,
            export_header: first,
        }
    })
}

fn draft(title: &str, body: &str) -> Draft {
    Draft {
        title: title.into(),
        body: body.into(),
        ..Draft::default()
    }
}

fn now() -> Timestamp {
    use std::sync::atomic::{AtomicU64, Ordering};
    static T: AtomicU64 = AtomicU64::new(1_000);
    Timestamp(T.fetch_add(1, Ordering::Relaxed))
}

fn open(header: &[u8], store: &MemoryStore) -> Vault {
    Vault::open(
        header,
        store.record_bytes(),
        Credential::RecoveryKey(&fixture().recovery),
    )
    .unwrap()
}

// ---------------------------------------------------------------------------
// The reference server (SPEC §12.4–12.6)

/// The largest page the server sends (a client may ask for less).
const SERVER_PAGE_BYTES: u64 = 4 << 20;

fn refused(status: u16, code: &str, message: impl Into<String>) -> SyncError {
    SyncError::Refused {
        status,
        code: code.into(),
        message: message.into(),
    }
}

#[derive(Clone)]
struct Server {
    vault: VaultId,
    /// The vault's counter: the cursor of the last accepted commit.
    counter: u64,
    /// Every key's current row: `(seq, record)`, `None` a tombstone.
    rows: BTreeMap<String, (u64, Option<SealedRecord>)>,
    /// The revision each tombstone's deleted record had (SPEC §12.6: a put
    /// over it must rise above it).
    tomb_revisions: BTreeMap<String, u64>,
    /// Tombstones with `seq <=` this were purged.
    floor: u64,
    /// Keep tombstones for this many commits (`None`: forever).
    keep_tombstones: Option<u64>,
    /// Idempotency keys and their first answer.
    answered: BTreeMap<String, (CommitRequest, CommitResponse)>,
    /// Every record ever stored, by key (what a hostile server could replay).
    history: BTreeMap<String, Vec<SealedRecord>>,
    /// Check after every accepted commit that a fresh device can download
    /// the vault and that its prompt set equals the checkpoint.
    audit: bool,
    audits: usize,
    audit_failures: Vec<String>,
}

impl Server {
    fn new(vault: VaultId) -> Self {
        Server {
            vault,
            counter: 0,
            rows: BTreeMap::new(),
            tomb_revisions: BTreeMap::new(),
            floor: 0,
            keep_tombstones: None,
            answered: BTreeMap::new(),
            history: BTreeMap::new(),
            audit: true,
            audits: 0,
            audit_failures: Vec::new(),
        }
    }

    fn live(&self) -> BTreeMap<String, SealedRecord> {
        self.rows
            .iter()
            .filter_map(|(k, (_, r))| r.clone().map(|r| (k.clone(), r)))
            .collect()
    }

    fn handle_pull(&self, req: &PullRequest) -> Result<PullResponse, SyncError> {
        if req.after > self.counter {
            return Err(refused(409, "cursor_ahead", "after the vault's counter"));
        }
        if req.after > 0 && req.after < self.floor {
            return Ok(PullResponse::StartOver { oldest: self.floor });
        }
        let mut after: Vec<(u64, &String, &Option<SealedRecord>)> = self
            .rows
            .iter()
            .filter(|(_, (seq, _))| *seq > req.after)
            .map(|(k, (seq, r))| (*seq, k, r))
            .collect();
        after.sort_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
        let cap = req
            .max_bytes
            .unwrap_or(SERVER_PAGE_BYTES)
            .min(SERVER_PAGE_BYTES);
        let mut changes = Vec::new();
        let mut bytes = 0u64;
        let mut i = 0;
        while i < after.len() {
            let seq = after[i].0;
            let end = after[i..]
                .iter()
                .position(|r| r.0 != seq)
                .map_or(after.len(), |n| i + n);
            let size: u64 = after[i..end]
                .iter()
                .map(|r| r.2.as_ref().map_or(0, |r| r.as_bytes().len() as u64))
                .sum();
            // Whole commits only, at least one.
            if !changes.is_empty() && bytes + size > cap {
                break;
            }
            bytes += size;
            for (seq, key, rec) in &after[i..end] {
                changes.push(Change {
                    key: (*key).clone(),
                    seq: *seq,
                    record: rec.as_ref().map(SealedRecord::to_text),
                    revision: self.tomb_revision(key, rec.is_none()),
                });
            }
            i = end;
        }
        let cursor = changes.last().map_or(req.after, |c: &Change| c.seq);
        Ok(PullResponse::Changes {
            changes,
            cursor,
            more: i < after.len(),
        })
    }

    fn tomb_revision(&self, key: &str, tombstone: bool) -> Option<u64> {
        if tombstone {
            self.tomb_revisions.get(key).copied().filter(|r| *r > 0)
        } else {
            None
        }
    }

    fn current(&self, key: &str) -> Change {
        match self.rows.get(key) {
            Some((seq, rec)) => Change {
                key: key.to_owned(),
                seq: *seq,
                record: rec.as_ref().map(SealedRecord::to_text),
                revision: self.tomb_revision(key, rec.is_none()),
            },
            None => Change {
                key: key.to_owned(),
                seq: 0,
                record: None,
                revision: None,
            },
        }
    }

    fn seen_matches(&self, key: &str, seen: u64) -> bool {
        match self.rows.get(key) {
            Some((seq, _)) => *seq == seen,
            None => seen == 0 || seen <= self.floor,
        }
    }

    fn handle_commit(&mut self, req: &CommitRequest) -> Result<CommitResponse, SyncError> {
        let k = &req.idempotency_key;
        if k.len() < 16
            || k.len() > 64
            || !k
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(refused(400, "bad_request", "idempotency key"));
        }
        if let Some((first, answer)) = self.answered.get(k) {
            if first == req {
                return Ok(answer.clone());
            }
            return Err(refused(422, "idempotency_key_reused", "another request"));
        }
        let answer = self.apply_commit(req)?;
        self.answered
            .insert(k.clone(), (req.clone(), answer.clone()));
        Ok(answer)
    }

    fn apply_commit(&mut self, req: &CommitRequest) -> Result<CommitResponse, SyncError> {
        // Parse and check every record keylessly (§12.6) before anything.
        let mut puts = Vec::new();
        let mut keys = BTreeSet::new();
        for p in &req.puts {
            let r = SealedRecord::from_text(&p.record)
                .map_err(|e| refused(400, "malformed_record", e.to_string()))?;
            if r.header().vault_id() != self.vault {
                return Err(refused(422, "wrong_vault", "another vault"));
            }
            if matches!(
                r.kind(),
                RecordKind::ExportHeader | RecordKind::ExportPayload
            ) {
                return Err(refused(422, "not_allowed", "export record"));
            }
            let key = r.storage_key();
            if !keys.insert(key.clone()) {
                return Err(refused(400, "bad_request", "a key twice"));
            }
            puts.push((key, p.seen, r));
        }
        for d in &req.deletes {
            if d.key == "h" || d.key == "c" {
                return Err(refused(422, "not_allowed", "deleting h or c"));
            }
            if !keys.insert(d.key.clone()) {
                return Err(refused(400, "bad_request", "a key twice"));
            }
        }
        // Compare-and-swap on `seen`, all or nothing.
        let mut conflicts = Vec::new();
        for (key, seen, r) in &puts {
            let same = matches!(self.rows.get(key), Some((_, Some(live))) if live == r);
            if !same && !self.seen_matches(key, *seen) {
                conflicts.push(self.current(key));
            }
        }
        for d in &req.deletes {
            if !self.seen_matches(&d.key, d.seen) {
                conflicts.push(self.current(&d.key));
            }
        }
        if !conflicts.is_empty() {
            return Ok(CommitResponse::Conflict { rows: conflicts });
        }
        // Write-once and rising revisions against the live row.
        let mut changed = false;
        for (key, _, r) in &puts {
            let Some((_, Some(live))) = self.rows.get(key) else {
                // Over a tombstone: revisions never go down under a key.
                if let Some(rev) = self.tomb_revision(key, true) {
                    if r.header().revision() <= rev {
                        return Err(refused(409, "revision_not_increased", key.clone()));
                    }
                }
                changed = true;
                continue;
            };
            if live == r {
                continue;
            }
            changed = true;
            let (lh, nh) = (live.header(), r.header());
            match r.kind() {
                RecordKind::PromptVersion | RecordKind::PromptIndex
                    if nh.key_generation() > lh.key_generation() => {}
                RecordKind::PromptVersion | RecordKind::PromptIndex | RecordKind::ItemKey => {
                    return Err(refused(409, "immutable_record", key.clone()));
                }
                RecordKind::VaultHeader | RecordKind::PromptMeta | RecordKind::Checkpoint => {
                    if nh.revision() <= lh.revision() {
                        return Err(refused(409, "revision_not_increased", key.clone()));
                    }
                }
                // Account records (SPEC §13.3): only forward in their order.
                RecordKind::Identity | RecordKind::SpaceKey => {
                    if !promptvault::share::supersedes(r, live) {
                        return Err(refused(409, "revision_not_increased", key.clone()));
                    }
                }
                _ => unreachable!("refused above"),
            }
        }
        for d in &req.deletes {
            changed |= matches!(self.rows.get(&d.key), Some((_, Some(_))));
        }
        if !changed {
            return Ok(CommitResponse::Accepted {
                cursor: self.counter,
            });
        }
        self.counter += 1;
        let seq = self.counter;
        for (key, _, r) in puts {
            if matches!(self.rows.get(&key), Some((_, Some(live))) if *live == r) {
                continue;
            }
            self.history.entry(key.clone()).or_default().push(r.clone());
            self.tomb_revisions.remove(&key);
            self.rows.insert(key, (seq, Some(r)));
        }
        for d in &req.deletes {
            if let Some((_, Some(live))) = self.rows.get(&d.key) {
                let rev = live.header().revision();
                self.tomb_revisions.insert(d.key.clone(), rev);
                self.rows.insert(d.key.clone(), (seq, None));
            }
        }
        if let Some(keep) = self.keep_tombstones {
            let floor = seq.saturating_sub(keep);
            if floor > self.floor {
                self.rows.retain(|_, (s, r)| r.is_some() || *s > floor);
                let rows = &self.rows;
                self.tomb_revisions.retain(|k, _| rows.contains_key(k));
                self.floor = floor;
            }
        }
        if self.audit {
            self.audits += 1;
            if let Err(e) = self.check_consistent() {
                self.audit_failures.push(format!("after commit {seq}: {e}"));
            }
        }
        Ok(CommitResponse::Accepted { cursor: seq })
    }

    /// A fresh device downloads the vault: every record must authenticate
    /// and merge, and the served prompt set must equal the checkpoint's
    /// (the engine checks that on a full pull with a checkpoint).
    fn check_consistent(&self) -> Result<(), String> {
        let live = self.live();
        if live.keys().any(|k| k.starts_with("m.")) && !live.contains_key("c") {
            return Err("prompts but no checkpoint".into());
        }
        let mut copy = self.clone();
        copy.audit = false;
        Device::download(&mut copy)
            .map(|_| ())
            .map_err(|e| format!("{e:?}"))
    }
}

impl Transport for Server {
    fn pull(&mut self, request: &PullRequest) -> Result<PullResponse, SyncError> {
        self.handle_pull(request)
    }

    fn commit(&mut self, request: &CommitRequest) -> Result<CommitResponse, SyncError> {
        self.handle_commit(request)
    }
}

// ---------------------------------------------------------------------------
// Devices

#[derive(Clone)]
struct Device {
    vault: Vault,
    store: MemoryStore,
    state: SyncState,
}

/// Everything observable about a device, to show a failed step changed
/// nothing.
#[derive(Debug, PartialEq, Eq)]
struct Snapshot {
    bundle: Vec<u8>,
    records: Vec<Vec<u8>>,
    seen: String,
    header: Vec<u8>,
    view: String,
    state: String,
}

impl Device {
    /// The first device: a fresh vault (from the fixture's header).
    fn first() -> Self {
        let f = fixture();
        let mut store = MemoryStore::new();
        store.put_header(SealedRecord::from_bytes(f.header.clone()).unwrap());
        Device {
            vault: open(&f.header, &store),
            store,
            state: SyncState::new(),
        }
    }

    /// Another device: log in and pull everything (SPEC §12.11 "First sync").
    fn download<T: Transport>(t: &mut T) -> Result<Self, SyncError> {
        let vault_id = fixture_vault_id();
        let mut state = SyncState::new();
        let inbox = sync::pull(t, state.begin_download(vault_id)?, Options::default())?;
        let header = inbox
            .header()
            .cloned()
            .ok_or_else(|| SyncError::Transport("no header".into()))?;
        let mut vault = Vault::open(
            header.as_bytes(),
            Vec::<&[u8]>::new(),
            Credential::RecoveryKey(&fixture().recovery),
        )?;
        let mut store = MemoryStore::new();
        store.put_header(header);
        state.integrate(&mut vault, &mut store, &inbox)?;
        Ok(Device {
            vault,
            store,
            state,
        })
    }

    fn apply(&mut self, c: &promptvault::Changeset) {
        self.store.apply(c);
    }

    fn create(&mut self, title: &str, body: &str) -> PromptId {
        let (id, c) = self
            .vault
            .create_prompt(&draft(title, body), &[], false, now())
            .unwrap();
        self.apply(&c);
        id
    }

    fn edit(&mut self, id: PromptId, body: &str) -> VersionId {
        let title = self.vault.summary(id).unwrap().title;
        let (v, c) = self
            .vault
            .add_version(id, &draft(&title, body), now())
            .unwrap();
        self.apply(&c);
        v
    }

    fn tag(&mut self, id: PromptId, tag: &str) {
        let c = self.vault.add_tags(id, &[tag.to_owned()], now()).unwrap();
        self.apply(&c);
    }

    fn delete(&mut self, id: PromptId) {
        let c = self.vault.delete_prompt(id).unwrap();
        self.apply(&c);
    }

    fn versions(&self, id: PromptId) -> Vec<VersionId> {
        self.vault
            .history(id)
            .unwrap()
            .iter()
            .map(|e| e.id)
            .collect()
    }

    fn try_sync<T: Transport>(&mut self, t: &mut T) -> Result<SyncReport, SyncError> {
        sync::run(
            &mut self.vault,
            &mut self.store,
            &mut self.state,
            t,
            Options::default(),
        )
    }

    /// A sync that reopens the vault when another device changed the
    /// header, as the CLI does.
    fn sync(&mut self, server: &mut Server) -> SyncReport {
        self.sync_reopening(server)
            .unwrap_or_else(|e| panic!("sync failed: {e:?}"))
    }

    fn sync_reopening(&mut self, server: &mut Server) -> Result<SyncReport, SyncError> {
        for _ in 0..3 {
            match self.try_sync(server) {
                Ok(r) => return Ok(r),
                Err(SyncError::HeaderChanged) => {
                    let inbox = sync::pull(
                        server,
                        self.state.begin_pull(&self.vault).unwrap(),
                        Options::default(),
                    )
                    .unwrap();
                    let h = inbox.newer_header(&self.vault).unwrap().clone();
                    self.vault = open(h.as_bytes(), &self.store);
                    self.store.put_header(h);
                }
                Err(e) => return Err(e),
            }
        }
        panic!("the header kept changing");
    }

    fn view(&self) -> String {
        assert!(self.vault.damaged_prompts().is_empty());
        let mut out = Vec::new();
        for id in self.vault.prompt_ids() {
            let s = serde_json::to_value(self.vault.summary(id).unwrap()).unwrap();
            let h = serde_json::to_value(self.vault.history(id).unwrap()).unwrap();
            let bodies: Vec<_> = self
                .versions(id)
                .into_iter()
                .map(|v| serde_json::to_value(self.vault.version(id, Some(v)).unwrap()).unwrap())
                .collect();
            out.push(serde_json::json!({"id": id.to_hex(), "summary": s, "history": h, "bodies": bodies}));
        }
        serde_json::to_string(&out).unwrap()
    }

    fn snapshot(&self) -> Snapshot {
        Snapshot {
            bundle: self.store.to_bundle().unwrap(),
            // Item keys and metadata are sealed afresh by `records`: compare
            // what they are, and versions byte for byte.
            records: self
                .vault
                .records()
                .unwrap()
                .iter()
                .map(|r| match r.kind() {
                    RecordKind::PromptVersion => r.as_bytes().to_vec(),
                    _ => format!("{} {}", r.storage_key(), r.header().revision()).into_bytes(),
                })
                .collect(),
            seen: serde_json::to_string(&self.vault.seen_revisions()).unwrap(),
            header: self.vault.header_bytes().to_vec(),
            view: self.view(),
            state: serde_json::to_string(&self.state).unwrap(),
        }
    }

    /// Every `(prompt, version)` this device holds.
    fn all_versions(&self) -> BTreeSet<(PromptId, VersionId)> {
        self.vault
            .prompt_ids()
            .into_iter()
            .flat_map(|p| self.versions(p).into_iter().map(move |v| (p, v)))
            .collect()
    }
}

fn fixture_vault_id() -> VaultId {
    SealedRecord::from_bytes(fixture().header.clone())
        .unwrap()
        .header()
        .vault_id()
}

/// A server with one device that registered the vault (an empty vault).
fn world() -> (Server, Device) {
    let mut server = Server::new(fixture_vault_id());
    let mut a = Device::first();
    a.sync(&mut server);
    (server, a)
}

/// Syncs every device, round after round, until a round pushes nothing;
/// then every device holds exactly what the server holds.
fn settle(server: &mut Server, devices: &mut [&mut Device]) {
    try_settle(server, devices).unwrap_or_else(|e| panic!("sync failed: {e:?}"));
}

fn try_settle(server: &mut Server, devices: &mut [&mut Device]) -> Result<(), SyncError> {
    for round in 0.. {
        assert!(round < 4, "no quiescence after {round} rounds");
        let mut pushed = 0;
        for d in devices.iter_mut() {
            let r = d.sync_reopening(server)?;
            pushed += r.pushed + r.deleted;
        }
        if pushed == 0 {
            break;
        }
    }
    assert_converged(server, devices);
    Ok(())
}

fn assert_converged(server: &Server, devices: &[&mut Device]) {
    assert!(
        server.audit_failures.is_empty(),
        "{:?}",
        server.audit_failures
    );
    let live = server.live();
    let first = &devices[0];
    let first_view = first.view();
    for d in devices {
        assert_eq!(d.view(), first_view, "devices disagree");
        assert_eq!(d.store, first.store, "stores differ");
        assert_eq!(d.state.cursor(), server.counter);
        // The store is exactly the server's rows (minus the checkpoint).
        assert_eq!(
            d.store.header_record().map(SealedRecord::as_bytes),
            live.get("h").map(SealedRecord::as_bytes)
        );
        let stored: BTreeMap<String, &[u8]> = d
            .store
            .records()
            .map(|r| (r.storage_key(), r.as_bytes()))
            .collect();
        let served: BTreeMap<String, &[u8]> = live
            .iter()
            .filter(|(k, _)| *k != "h" && *k != "c")
            .map(|(k, r)| (k.clone(), r.as_bytes()))
            .collect();
        if stored != served {
            let only_store: Vec<_> = stored.keys().filter(|k| !served.contains_key(*k)).collect();
            let only_server: Vec<_> = served.keys().filter(|k| !stored.contains_key(*k)).collect();
            let differ: Vec<_> = stored
                .iter()
                .filter(|(k, v)| served.get(*k).is_some_and(|w| w != *v))
                .map(|(k, _)| k)
                .collect();
            panic!(
                "store and server differ: only stored {only_store:?}, only served {only_server:?}, different {differ:?}"
            );
        }
    }
}

/// What was written and what was deliberately removed, across devices.
#[derive(Default, Clone)]
struct Ledger {
    written: BTreeSet<(PromptId, VersionId)>,
    removed_versions: BTreeSet<(PromptId, VersionId)>,
    removed_prompts: BTreeSet<PromptId>,
}

impl Ledger {
    fn expected(&self) -> BTreeSet<(PromptId, VersionId)> {
        self.written
            .iter()
            .filter(|(p, v)| {
                !self.removed_prompts.contains(p) && !self.removed_versions.contains(&(*p, *v))
            })
            .copied()
            .collect()
    }

    fn assert_kept(&self, d: &Device) {
        let held = d.all_versions();
        let missing: Vec<_> = self.expected().difference(&held).copied().collect();
        assert!(missing.is_empty(), "versions lost: {missing:?}");
        for p in d.vault.prompt_ids() {
            let h = d.versions(p);
            let set: BTreeSet<_> = h.iter().collect();
            assert_eq!(set.len(), h.len(), "a version listed twice");
        }
    }
}

// ---------------------------------------------------------------------------
// Convergence

/// Three devices, offline edits of the same prompt, new prompts, tags,
/// deletions of versions and prompts, prune and restore, synced in every
/// order: all end identical and keep every version not deliberately
/// removed.
#[test]
fn three_devices_converge_in_any_order() {
    let (mut server, mut a) = world();
    let shared = a.create("shared", "v1");
    let doomed = a.create("doomed", "d1");
    let pruned = a.create("pruned", "p1");
    a.edit(pruned, "p2");
    a.edit(pruned, "p3");
    a.sync(&mut server);
    let mut b = Device::download(&mut server).unwrap();
    let mut c = Device::download(&mut server).unwrap();
    let mut ledger = Ledger::default();
    for p in [shared, doomed, pruned] {
        for v in a.versions(p) {
            ledger.written.insert((p, v));
        }
    }

    // Offline on each device.
    ledger.written.insert((shared, a.edit(shared, "from a")));
    a.tag(shared, "alpha");
    let na = a.create("new on a", "x");
    ledger.written.insert((na, a.versions(na)[0]));

    ledger.written.insert((shared, b.edit(shared, "from b")));
    b.tag(shared, "beta");
    let before = b.versions(pruned);
    let ch = b.vault.prune_history(pruned, 1, now()).unwrap();
    b.apply(&ch);
    let after: BTreeSet<_> = b.versions(pruned).into_iter().collect();
    for v in before.into_iter().filter(|v| !after.contains(v)) {
        ledger.removed_versions.insert((pruned, v));
    }
    let nb = b.create("new on b", "y");
    ledger.written.insert((nb, b.versions(nb)[0]));

    let old = c.versions(shared)[0];
    let (restored, ch) = c.vault.restore_version(shared, old, now()).unwrap();
    c.apply(&ch);
    ledger.written.insert((shared, restored));
    let dv = c.edit(doomed, "d2");
    ledger.written.insert((doomed, dv));
    let ch = c.vault.delete_version(doomed, dv, now()).unwrap();
    c.apply(&ch);
    ledger.removed_versions.insert((doomed, dv));
    let ch = c.vault.set_favorite(shared, true, now()).unwrap();
    c.apply(&ch);
    c.delete(doomed);
    ledger.removed_prompts.insert(doomed);

    let orders: [[usize; 3]; 6] = [
        [0, 1, 2],
        [0, 2, 1],
        [1, 0, 2],
        [1, 2, 0],
        [2, 0, 1],
        [2, 1, 0],
    ];
    for order in orders {
        let mut s = server.clone();
        let mut devs = [a.clone(), b.clone(), c.clone()];
        for i in order {
            devs[i].sync(&mut s);
        }
        let [mut x, mut y, mut z] = devs;
        settle(&mut s, &mut [&mut x, &mut y, &mut z]);
        for d in [&x, &y, &z] {
            ledger.assert_kept(d);
            // Versions are a union; tags and flags are the winning
            // metadata's (SPEC §8), the same everywhere (`settle`).
            assert!(!d.vault.prompt_ids().contains(&doomed));
            assert_eq!(d.versions(pruned).len(), 1);
        }
        assert!(s.audits > 0);
    }
}

/// A prompt deleted on one device disappears everywhere, and its rows are
/// tombstones on the server.
#[test]
fn deleting_a_prompt_propagates() {
    let (mut server, mut a) = world();
    let p = a.create("gone", "soon");
    let q = a.create("stays", "here");
    a.sync(&mut server);
    let mut b = Device::download(&mut server).unwrap();
    let mut c = Device::download(&mut server).unwrap();
    b.delete(p);
    let r = b.sync(&mut server);
    assert!(r.deleted >= 3, "{r:?}");
    let ra = a.sync(&mut server);
    assert_eq!(ra.prompts_deleted, 1);
    settle(&mut server, &mut [&mut a, &mut b, &mut c]);
    for d in [&a, &b, &c] {
        assert_eq!(d.vault.prompt_ids(), vec![q]);
    }
    let hex = p.to_hex();
    assert!(server.live().keys().all(|k| !k.contains(&hex)));
}

/// The account records of issue 15 (the sharing identity, space keys)
/// travel with the vault: a new device gets them, and two devices that each
/// made an identity offline converge on one (SPEC §13.3).
#[cfg(feature = "sharing")]
#[test]
fn identity_and_space_keys_sync_and_converge() {
    use promptvault::share::Identity;
    let (mut server, mut a) = world();
    let mut b = Device::download(&mut server).unwrap();
    let (ia, ib) = (
        Identity::generate("alice", now()).unwrap(),
        Identity::generate("alice", now()).unwrap(),
    );
    let c = a.vault.set_identity(&ia).unwrap();
    a.apply(&c);
    let c = b.vault.set_identity(&ib).unwrap();
    b.apply(&c);
    let space = Vault::create_space().unwrap();
    let c = a.vault.add_space_key(&space.key).unwrap();
    a.apply(&c);
    settle(&mut server, &mut [&mut a, &mut b]);
    let kept = a.vault.identity().unwrap().unwrap();
    assert_eq!(b.vault.identity().unwrap().unwrap().bundle(), kept.bundle());
    assert!(kept.bundle() == ia.bundle() || kept.bundle() == ib.bundle());
    assert_eq!(
        b.vault.space_key(space.key.space_id()).unwrap(),
        Some(space.key.clone())
    );
    let mut c = Device::download(&mut server).unwrap();
    assert_eq!(c.vault.identity().unwrap().unwrap().bundle(), kept.bundle());
    settle(&mut server, &mut [&mut a, &mut b, &mut c]);
    // Leaving the space on one device forgets its key everywhere.
    let gone = b.vault.remove_space_key(space.key.space_id());
    assert_eq!(gone.deletes.len(), 1);
    b.apply(&gone);
    settle(&mut server, &mut [&mut a, &mut b, &mut c]);
    for d in [&a, &b, &c] {
        assert!(d.vault.space_keys().unwrap().is_empty());
    }
    // ...and the vault still reopens from each store with its identity.
    for d in [&a, &b, &c] {
        let again = open(d.store.header().unwrap(), &d.store);
        assert_eq!(again.identity().unwrap().unwrap().bundle(), kept.bundle());
    }
}

/// Deleted on A (and pushed) while B edited it offline: B's edit wins, the
/// prompt comes back everywhere with every version B held.
#[test]
fn an_offline_edit_beats_a_deletion() {
    let (mut server, mut a) = world();
    let p = a.create("contested", "v1");
    a.sync(&mut server);
    let mut b = Device::download(&mut server).unwrap();
    let v1 = b.versions(p)[0];
    a.delete(p);
    a.sync(&mut server);
    let v2 = b.edit(p, "edited offline");
    b.sync(&mut server);
    settle(&mut server, &mut [&mut a, &mut b]);
    for d in [&a, &b] {
        assert_eq!(d.versions(p), vec![v1, v2]);
        assert_eq!(d.vault.version(p, None).unwrap().body, "edited offline");
    }
}

/// Deleted on B (not yet pushed) while A edited and pushed: B's pull brings
/// only the changed rows of a prompt it no longer holds, so it pulls
/// everything again (`needs_full_pull`) and the edit wins.
#[test]
fn an_edit_beats_a_local_deletion_through_a_full_pull() {
    let (mut server, mut a) = world();
    let p = a.create("contested", "v1");
    let q = a.create("other", "o1");
    a.sync(&mut server);
    let mut b = Device::download(&mut server).unwrap();
    let v1 = a.versions(p)[0];
    b.delete(p);
    let v2 = a.edit(p, "edited there");
    a.sync(&mut server);
    let r = b.sync(&mut server);
    assert!(r.full_pull, "{r:?}");
    settle(&mut server, &mut [&mut a, &mut b]);
    for d in [&a, &b] {
        assert_eq!(d.versions(p), vec![v1, v2]);
        assert!(d.vault.prompt_ids().contains(&q));
    }
}

/// The same through the step API: `integrate` says `needs_full_pull` and
/// changes nothing about the prompt; the full pull then brings it back.
#[test]
fn needs_full_pull_is_reported_by_integrate() {
    let (mut server, mut a) = world();
    let p = a.create("contested", "v1");
    a.sync(&mut server);
    let mut b = Device::download(&mut server).unwrap();
    b.delete(p);
    a.edit(p, "edited there");
    a.sync(&mut server);
    let inbox = sync::pull(
        &mut server,
        b.state.begin_pull(&b.vault).unwrap(),
        Options::default(),
    )
    .unwrap();
    let done = b
        .state
        .integrate(&mut b.vault, &mut b.store, &inbox)
        .unwrap();
    assert!(done.needs_full_pull);
    assert!(!b.vault.prompt_ids().contains(&p));
    let inbox = sync::pull(
        &mut server,
        b.state.begin_full_pull(&b.vault).unwrap(),
        Options::default(),
    )
    .unwrap();
    let again = b
        .state
        .integrate(&mut b.vault, &mut b.store, &inbox)
        .unwrap();
    assert!(!again.needs_full_pull);
    assert_eq!(b.versions(p), a.versions(p));
}

/// Tombstones purged on the server: a device behind the purge floor gets
/// `start-over`, pulls everything and still converges (a prompt deleted
/// meanwhile goes, its own offline prompt stays).
#[test]
fn start_over_after_a_purge_converges() {
    let (mut server, mut a) = world();
    server.keep_tombstones = Some(1);
    let p = a.create("deleted later", "x");
    a.sync(&mut server);
    let mut b = Device::download(&mut server).unwrap();
    let mine = b.create("offline on b", "y");
    a.delete(p);
    a.sync(&mut server);
    for i in 0..3 {
        a.create(&format!("more {i}"), "z");
        a.sync(&mut server);
    }
    assert!(server.floor > b.state.cursor());
    let r = b.sync(&mut server);
    assert!(r.pulled > 0);
    settle(&mut server, &mut [&mut a, &mut b]);
    assert!(!b.vault.prompt_ids().contains(&p));
    assert!(a.vault.prompt_ids().contains(&mine));
}

/// A password change on one device reaches the others as `HeaderChanged`;
/// after reopening they converge on the new header.
#[test]
fn a_header_change_propagates() {
    let (mut server, mut a) = world();
    a.create("p", "x");
    a.sync(&mut server);
    let mut b = Device::download(&mut server).unwrap();
    let ch = a
        .vault
        .change_password(&Password::new("new").unwrap(), None)
        .unwrap();
    a.apply(&ch);
    a.sync(&mut server);
    assert_eq!(
        b.try_sync(&mut server).unwrap_err(),
        SyncError::HeaderChanged
    );
    b.sync(&mut server);
    settle(&mut server, &mut [&mut a, &mut b]);
    assert_eq!(b.vault.header_revision(), 2);
}

// ---------------------------------------------------------------------------
// A hostile server

/// A server that rewrites pull answers, and counts commits it forwards.
struct Evil<'a, F> {
    server: &'a mut Server,
    hook: F,
    commits: usize,
}

impl<F: FnMut(&Server, &PullRequest, PullResponse) -> PullResponse> Transport for Evil<'_, F> {
    fn pull(&mut self, request: &PullRequest) -> Result<PullResponse, SyncError> {
        let page = self.server.handle_pull(request)?;
        Ok((self.hook)(self.server, request, page))
    }

    fn commit(&mut self, request: &CommitRequest) -> Result<CommitResponse, SyncError> {
        self.commits += 1;
        self.server.handle_commit(request)
    }
}

fn changes(page: PullResponse) -> (Vec<Change>, u64, bool) {
    match page {
        PullResponse::Changes {
            changes,
            cursor,
            more,
        } => (changes, cursor, more),
        PullResponse::StartOver { .. } => panic!("unexpected start-over"),
    }
}

fn page(changes: Vec<Change>, cursor: u64, more: bool) -> PullResponse {
    PullResponse::Changes {
        changes,
        cursor,
        more,
    }
}

/// Adds rows to a page at its cursor, keeping `(seq, key)` order.
fn with_rows(p: PullResponse, extra: Vec<(String, Option<&SealedRecord>)>) -> PullResponse {
    let (mut ch, cursor, more) = changes(p);
    for (key, rec) in extra {
        ch.retain(|c| c.key != key);
        ch.push(Change {
            key,
            seq: cursor,
            record: rec.map(SealedRecord::to_text),
            revision: None,
        });
    }
    ch.sort_by(|a, b| (a.seq, &a.key).cmp(&(b.seq, &b.key)));
    page(ch, cursor, more)
}

/// The situation of every hostile test: A and B synced a vault with
/// prompts `p` (edited once) and `q`; then A made more changes (`more`) and
/// pushed them; B has an offline edit, and syncs through the hostile
/// server.
struct Stage {
    server: Server,
    a: Device,
    b: Device,
    p: PromptId,
    q: PromptId,
}

fn stage(more: impl FnOnce(&mut Device, PromptId, PromptId)) -> Stage {
    let (mut server, mut a) = world();
    let p = a.create("p", "p1");
    let q = a.create("q", "q1");
    a.sync(&mut server);
    let mut b = Device::download(&mut server).unwrap();
    a.edit(p, "p2");
    a.sync(&mut server);
    b.sync(&mut server);
    more(&mut a, p, q);
    a.sync(&mut server);
    b.edit(q, "offline on b");
    Stage { server, a, b, p, q }
}

/// Runs B's sync through `hook`: it must fail with `expected`, change
/// nothing on B, push nothing; and an honest sync afterwards still
/// converges (nothing was poisoned).
fn refuse<F>(mut s: Stage, hook: F, expected: &dyn Fn(&SyncError) -> bool)
where
    F: FnMut(&Server, &PullRequest, PullResponse) -> PullResponse,
{
    let before = s.b.snapshot();
    let counter = s.server.counter;
    let mut evil = Evil {
        server: &mut s.server,
        hook,
        commits: 0,
    };
    let err = s.b.try_sync(&mut evil).unwrap_err();
    assert!(expected(&err), "unexpected error {err:?}");
    assert_eq!(evil.commits, 0, "committed after a hostile answer");
    assert_eq!(s.server.counter, counter);
    // (`assert!`, not `assert_eq!`: the snapshots are long.)
    assert!(
        s.b.snapshot() == before,
        "a refused sync changed the device"
    );
    settle(&mut s.server, &mut [&mut s.a, &mut s.b]);
}

fn misbehaved(what: Misbehavior) -> impl Fn(&SyncError) -> bool {
    move |e| matches!(e, SyncError::Server { what: w, .. } if *w == what)
}

fn keys_of(p: PromptId) -> impl Fn(&Change) -> bool {
    let hex = p.to_hex();
    move |c| c.key.contains(&hex)
}

#[test]
fn hostile_hidden_prompt() {
    let mut new = None;
    let s = stage(|a, _, _| new = Some(a.create("new", "n")));
    let new = new.unwrap();
    let is_new = keys_of(new);
    refuse(
        s,
        move |_, _, p| {
            let (mut ch, cursor, more) = changes(p);
            let n = ch.len();
            ch.retain(|c| !is_new(c));
            assert!(ch.len() < n);
            page(ch, cursor, more)
        },
        &misbehaved(Misbehavior::HiddenPrompt),
    );
}

#[test]
fn hostile_hidden_prompt_on_download() {
    let (mut server, mut a) = world();
    let p = a.create("hidden", "x");
    a.create("shown", "y");
    a.sync(&mut server);
    let is_p = keys_of(p);
    let mut evil = Evil {
        server: &mut server,
        hook: move |_: &Server, _: &PullRequest, pg| {
            let (mut ch, cursor, more) = changes(pg);
            ch.retain(|c| !is_p(c));
            page(ch, cursor, more)
        },
        commits: 0,
    };
    let err = Device::download(&mut evil).err().unwrap();
    assert!(misbehaved(Misbehavior::HiddenPrompt)(&err), "{err:?}");
}

#[test]
fn hostile_unlisted_prompt_brought_back() {
    let s = stage(|a, p, _| a.delete(p));
    let p = s.p;
    refuse(
        s,
        move |srv, _, pg| {
            // Serve p's last records instead of its tombstones.
            let (ch, cursor, more) = changes(pg);
            let back: Vec<Change> = ch
                .into_iter()
                .map(|mut c| {
                    if keys_of(p)(&c) {
                        assert!(c.record.is_none());
                        c.record = Some(srv.history[&c.key].last().unwrap().to_text());
                    }
                    c
                })
                .collect();
            page(back, cursor, more)
        },
        &misbehaved(Misbehavior::UnlistedPrompt),
    );
}

#[test]
fn hostile_unlisted_prompt_injected() {
    // A prompt written behind the checkpoint's back: a third device's
    // prompt, served without the checkpoint that lists it.
    let mut extra = None;
    let s = stage(|a, _, _| {
        let mut scratch = a.clone();
        let id = scratch.create("sneaked", "in");
        extra = Some(
            scratch
                .store
                .records()
                .filter(|r| r.storage_key().contains(&id.to_hex()))
                .cloned()
                .collect::<Vec<_>>(),
        );
        a.tag(a.vault.prompt_ids()[0], "t");
    });
    let extra = extra.unwrap();
    refuse(
        s,
        move |_, _, pg| {
            with_rows(
                pg,
                extra.iter().map(|r| (r.storage_key(), Some(r))).collect(),
            )
        },
        &misbehaved(Misbehavior::UnlistedPrompt),
    );
}

#[test]
fn hostile_metadata_rollback() {
    let s = stage(|a, _, q| a.tag(q, "t"));
    let mkey = format!("m.{}", s.p.to_hex());
    refuse(
        s,
        move |srv, _, pg| {
            let old = srv.history[&mkey][0].clone();
            assert_eq!(old.header().revision(), 1);
            with_rows(pg, vec![(mkey.clone(), Some(&old))])
        },
        &misbehaved(Misbehavior::Rollback),
    );
}

#[test]
fn hostile_header_rollback() {
    let mut s = stage(|_, _, _| {});
    let ch =
        s.a.vault
            .change_password(&Password::new("new").unwrap(), None)
            .unwrap();
    s.a.apply(&ch);
    s.a.sync(&mut s.server);
    s.b.sync(&mut s.server);
    assert_eq!(s.b.vault.header_revision(), 2);
    s.a.tag(s.q, "more");
    s.a.sync(&mut s.server);
    s.b.edit(s.q, "offline again");
    refuse(
        s,
        |srv, _, pg| {
            let old = srv.history["h"][0].clone();
            assert_eq!(old.header().revision(), 1);
            with_rows(pg, vec![("h".into(), Some(&old))])
        },
        &misbehaved(Misbehavior::Rollback),
    );
}

#[test]
fn hostile_checkpoint_rollback() {
    let s = stage(|a, _, _| {
        a.create("changes the set", "x");
    });
    refuse(
        s,
        |srv, _, pg| {
            // B saw the one before the newest; serve the one before that.
            let hist = &srv.history["c"];
            let old = hist[hist.len() - 3].clone();
            with_rows(pg, vec![("c".into(), Some(&old))])
        },
        &misbehaved(Misbehavior::Rollback),
    );
}

#[test]
fn hostile_checkpoint_deleted() {
    let s = stage(|a, _, q| a.tag(q, "t"));
    refuse(
        s,
        |_, _, pg| with_rows(pg, vec![("c".into(), None)]),
        &misbehaved(Misbehavior::Rollback),
    );
}

#[test]
fn hostile_checkpoint_tampered() {
    let s = stage(|a, _, _| {
        a.create("changes the set", "x");
    });
    refuse(
        s,
        |srv, _, pg| {
            let mut bytes = srv.live()["c"].as_bytes().to_vec();
            let last = bytes.len() - 1;
            bytes[last] ^= 1;
            let bad = SealedRecord::from_bytes(bytes).unwrap();
            with_rows(pg, vec![("c".into(), Some(&bad))])
        },
        &|e| matches!(e, SyncError::Vault(Error::Authentication)),
    );
}

#[test]
fn hostile_cursor_backwards() {
    let s = stage(|a, _, q| a.tag(q, "t"));
    refuse(
        s,
        |_, req, _| page(Vec::new(), req.after - 1, false),
        &misbehaved(Misbehavior::Protocol),
    );
}

/// An inbox begun before the state moved on (a stale pull) cannot take
/// the cursor back.
#[test]
fn a_stale_pull_is_a_rollback() {
    let mut s = stage(|_, _, _| {});
    let stale = s.b.state.clone();
    let mut old = stale.clone();
    let inbox = sync::pull(
        &mut s.server,
        old.begin_pull(&s.b.vault).unwrap(),
        Options::default(),
    )
    .unwrap();
    s.b.sync(&mut s.server);
    s.a.tag(s.q, "t");
    s.a.sync(&mut s.server);
    s.b.sync(&mut s.server);
    let before = s.b.snapshot();
    let err =
        s.b.state
            .integrate(&mut s.b.vault, &mut s.b.store, &inbox)
            .unwrap_err();
    assert!(misbehaved(Misbehavior::Rollback)(&err), "{err:?}");
    assert!(
        s.b.snapshot() == before,
        "a refused step changed the device"
    );
}

#[test]
fn hostile_seq_out_of_order() {
    let mut s = stage(|a, _, q| a.tag(q, "t"));
    // A second commit B has not pulled yet.
    s.a.tag(s.p, "u");
    s.a.sync(&mut s.server);
    refuse(
        s,
        |_, _, pg| {
            let (mut ch, cursor, more) = changes(pg);
            let seqs: BTreeSet<u64> = ch.iter().map(|c| c.seq).collect();
            assert!(seqs.len() >= 2, "needs two commits in a page");
            ch.reverse();
            page(ch, cursor, more)
        },
        &misbehaved(Misbehavior::Protocol),
    );
}

#[test]
fn hostile_seq_beyond_page_cursor() {
    let s = stage(|a, _, q| a.tag(q, "t"));
    refuse(
        s,
        |_, _, pg| {
            let (mut ch, cursor, more) = changes(pg);
            ch.last_mut().unwrap().seq = cursor + 1;
            page(ch, cursor, more)
        },
        &misbehaved(Misbehavior::Protocol),
    );
}

#[test]
fn hostile_seq_at_or_below_after() {
    let s = stage(|a, _, q| a.tag(q, "t"));
    refuse(
        s,
        |_, req, pg| {
            let (mut ch, cursor, more) = changes(pg);
            ch[0].seq = req.after;
            page(ch, cursor, more)
        },
        &misbehaved(Misbehavior::Protocol),
    );
}

#[test]
fn hostile_record_under_wrong_key() {
    let s = stage(|a, _, q| a.tag(q, "t"));
    let p = s.p;
    refuse(
        s,
        move |_, _, pg| {
            let (mut ch, cursor, more) = changes(pg);
            let c = ch.iter_mut().find(|c| c.key.starts_with("m.")).unwrap();
            c.key = format!("m.{}", p.to_hex());
            ch.sort_by(|a, b| (a.seq, &a.key).cmp(&(b.seq, &b.key)));
            page(ch, cursor, more)
        },
        &misbehaved(Misbehavior::Protocol),
    );
}

#[test]
fn hostile_record_of_another_vault() {
    let s = stage(|a, _, q| a.tag(q, "t"));
    refuse(
        s,
        |_, _, pg| {
            let r = &fixture().foreign;
            with_rows(pg, vec![(r.storage_key(), Some(r))])
        },
        &misbehaved(Misbehavior::Protocol),
    );
}

#[test]
fn hostile_export_record() {
    let s = stage(|a, _, q| a.tag(q, "t"));
    refuse(
        s,
        |_, _, pg| {
            let r = &fixture().export_header;
            with_rows(pg, vec![(r.storage_key(), Some(r))])
        },
        &misbehaved(Misbehavior::Protocol),
    );
}

#[test]
fn hostile_malformed_record() {
    let s = stage(|a, _, q| a.tag(q, "t"));
    refuse(
        s,
        |_, _, pg| {
            let (mut ch, cursor, more) = changes(pg);
            let r = ch.iter_mut().find(|c| c.record.is_some()).unwrap();
            r.record = Some("AAAA".into());
            page(ch, cursor, more)
        },
        &misbehaved(Misbehavior::Protocol),
    );
}

#[test]
fn hostile_page_without_progress() {
    let s = stage(|a, _, q| a.tag(q, "t"));
    refuse(
        s,
        |_, req, _| page(Vec::new(), req.after, true),
        &misbehaved(Misbehavior::Protocol),
    );
}

#[test]
fn hostile_start_over_from_zero() {
    let s = stage(|a, _, q| a.tag(q, "t"));
    refuse(
        s,
        |_, _, _| PullResponse::StartOver { oldest: 1 },
        &misbehaved(Misbehavior::Protocol),
    );
}

/// A full pull that leaves out rows of a prompt B held (the server
/// pretends they were purged) while the checkpoint still lists it.
#[test]
fn hostile_start_over_hiding_a_prompt() {
    let s = stage(|a, _, q| a.tag(q, "t"));
    let p = s.p;
    refuse(
        s,
        move |srv, req, _| {
            if req.after > 0 {
                return PullResponse::StartOver { oldest: 1 };
            }
            let (mut ch, cursor, more) = changes(srv.handle_pull(req).unwrap());
            ch.retain(|c| !keys_of(p)(c));
            page(ch, cursor, more)
        },
        &misbehaved(Misbehavior::HiddenPrompt),
    );
}

// ---------------------------------------------------------------------------
// Failures at every step

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fail {
    /// The request is lost before the server sees it (or the crash comes
    /// before the store is persisted).
    Before,
    /// The server applies it and the answer is lost (or the crash comes
    /// after the store is persisted and before the state is).
    After,
}

/// A transport whose `fail_at`-th call fails, persisting the store and
/// state at every checkpoint (what a device finds after a crash).
/// Before the first commit another device commits (`interloper`), so the
/// sync meets a conflict and retries.
struct Flaky<'a> {
    server: &'a mut Server,
    interloper: Option<Device>,
    fail_at: usize,
    mode: Fail,
    calls: usize,
    tripped: bool,
    persisted: (MemoryStore, SyncState),
}

impl Flaky<'_> {
    fn hit(&mut self) -> bool {
        let hit = self.calls == self.fail_at;
        self.calls += 1;
        self.tripped |= hit;
        hit
    }
}

fn lost() -> SyncError {
    SyncError::Transport("connection lost".into())
}

impl Transport for Flaky<'_> {
    fn pull(&mut self, request: &PullRequest) -> Result<PullResponse, SyncError> {
        let hit = self.hit();
        if hit && self.mode == Fail::Before {
            return Err(lost());
        }
        let answer = self.server.handle_pull(request)?;
        if hit { Err(lost()) } else { Ok(answer) }
    }

    fn commit(&mut self, request: &CommitRequest) -> Result<CommitResponse, SyncError> {
        if let Some(mut other) = self.interloper.take() {
            other.sync(self.server);
        }
        let hit = self.hit();
        if hit && self.mode == Fail::Before {
            return Err(lost());
        }
        let answer = self.server.handle_commit(request)?;
        if hit { Err(lost()) } else { Ok(answer) }
    }

    fn checkpoint(&mut self, store: &MemoryStore, state: &SyncState) -> Result<(), SyncError> {
        if self.hit() {
            if self.mode == Fail::After {
                self.persisted.0 = store.clone();
            }
            return Err(SyncError::Transport("crash".into()));
        }
        self.persisted = (store.clone(), state.clone());
        Ok(())
    }
}

/// A (who runs the failing sync), B and C with a synced vault and offline
/// changes of every kind on A and B; B has pushed already.
fn busy_world() -> (Server, Device, Device, Device, Ledger) {
    let (mut server, mut a) = world();
    let shared = a.create("shared", "s1");
    let doomed = a.create("doomed", "d1");
    let keep = a.create("keep", "k1");
    a.edit(keep, "k2");
    a.sync(&mut server);
    let mut b = Device::download(&mut server).unwrap();
    let mut c = Device::download(&mut server).unwrap();
    let mut ledger = Ledger::default();
    for p in [shared, doomed, keep] {
        for v in a.versions(p) {
            ledger.written.insert((p, v));
        }
    }
    ledger.written.insert((shared, a.edit(shared, "from a")));
    let n = a.create("new on a", "n");
    ledger.written.insert((n, a.versions(n)[0]));
    a.delete(doomed);
    ledger.removed_prompts.insert(doomed);
    a.tag(keep, "a-tag");
    ledger.written.insert((shared, b.edit(shared, "from b")));
    let m = b.create("new on b", "m");
    ledger.written.insert((m, b.versions(m)[0]));
    b.tag(keep, "b-tag");
    b.sync(&mut server);
    ledger.written.insert((keep, c.edit(keep, "from c")));
    // A new prompt changes the checkpoint: C's push conflicts with A's.
    let o = c.create("new on c", "o");
    ledger.written.insert((o, c.versions(o)[0]));
    (server, a, b, c, ledger)
}

/// Whatever call fails (a pull, a commit before or after the server
/// applied it, a crash between persisting the store and the state), the
/// device restarts from what it persisted, syncs again, and nothing is
/// lost or duplicated.
#[test]
fn a_failure_at_any_step_loses_nothing() {
    let (server0, a0, b0, c0, ledger) = busy_world();
    for mode in [Fail::Before, Fail::After] {
        let mut failures = 0;
        for fail_at in 0.. {
            let mut server = server0.clone();
            let (a, mut b) = (a0.clone(), b0.clone());
            let mut t = Flaky {
                server: &mut server,
                interloper: Some(c0.clone()),
                fail_at,
                mode,
                calls: 0,
                tripped: false,
                persisted: (a.store.clone(), a.state.clone()),
            };
            let mut live = a.clone();
            let result = live.try_sync(&mut t);
            let (tripped, (store, state), calls) = (t.tripped, t.persisted, t.calls);
            if !tripped {
                let r = result.unwrap();
                assert!(r.conflicts >= 1, "the interloper made no conflict: {r:?}");
                assert!(fail_at >= calls);
                break;
            }
            failures += 1;
            assert!(result.is_err(), "call {fail_at} failed, the sync did not");
            // The in-memory device carries on...
            let mut carried = live;
            // ...and a crashed one restarts from what it persisted.
            let header = store.header().unwrap().to_vec();
            let mut restarted = Device {
                vault: open(&header, &store),
                store,
                state,
            };
            let mut server2 = server.clone();
            let mut b2 = b.clone();
            let mut c = c0.clone();
            settle(&mut server, &mut [&mut carried, &mut b, &mut c]);
            let mut c2 = c0.clone();
            settle(&mut server2, &mut [&mut restarted, &mut b2, &mut c2]);
            for d in [&carried, &b, &restarted, &b2] {
                ledger.assert_kept(d);
            }
        }
        assert!(failures >= 6, "{mode:?}: only {failures} failure points");
    }
}

/// A transport that sends every commit twice (a retry after a lost
/// answer): the idempotency key makes the second a replay.
struct Resend<'a>(&'a mut Server);

impl Transport for Resend<'_> {
    fn pull(&mut self, request: &PullRequest) -> Result<PullResponse, SyncError> {
        self.0.handle_pull(request)
    }

    fn commit(&mut self, request: &CommitRequest) -> Result<CommitResponse, SyncError> {
        let first = self.0.handle_commit(request)?;
        let second = self.0.handle_commit(request)?;
        assert_eq!(first, second);
        Ok(second)
    }
}

#[test]
fn a_resent_commit_is_applied_once() {
    let (mut server, mut a, mut b, mut c, ledger) = busy_world();
    let before = server.counter;
    let r = a.try_sync(&mut Resend(&mut server)).unwrap();
    assert_eq!(server.counter, before + u64::from(r.commits));
    settle(&mut server, &mut [&mut a, &mut b, &mut c]);
    for d in [&a, &b, &c] {
        ledger.assert_kept(d);
    }
}

// ---------------------------------------------------------------------------
// Chunking

/// 2 600 prompts are 7 800 records: more than one commit. After each
/// commit a fresh device downloads the server's vault (every prompt whole,
/// the prompt set equal to the checkpoint); the same for deleting them.
#[test]
fn a_vault_too_large_for_one_commit_is_consistent_after_every_commit() {
    let mut server = Server::new(fixture_vault_id());
    let mut a = Device::first();
    let ids: Vec<PromptId> = (0..2600).map(|i| a.create(&format!("p{i}"), "b")).collect();
    let r = a.sync(&mut server);
    assert!(r.commits >= 2, "{r:?}");
    assert_eq!(server.audits, r.commits as usize);
    assert!(
        server.audit_failures.is_empty(),
        "{:?}",
        server.audit_failures
    );
    let mut b = Device::download(&mut server).unwrap();
    assert_eq!(b.vault.len(), 2600);
    for id in &ids[..2590] {
        a.delete(*id);
    }
    let audits = server.audits;
    let r = a.sync(&mut server);
    assert!(r.commits >= 2, "{r:?}");
    assert_eq!(server.audits - audits, r.commits as usize);
    settle(&mut server, &mut [&mut a, &mut b]);
    assert_eq!(b.vault.prompt_ids().len(), 10);
}

// ---------------------------------------------------------------------------
// Random interleavings

#[derive(Clone, Debug)]
enum Op {
    Create(usize),
    Edit(usize, usize),
    Tag(usize, usize, u8),
    Untag(usize, usize, u8),
    Favorite(usize, usize, bool),
    DeletePrompt(usize, usize),
    DeleteVersion(usize, usize, usize),
    Prune(usize, usize, usize),
    Restore(usize, usize, usize),
    Sync(usize),
}

fn op() -> impl Strategy<Value = Op> {
    let dev = 0..3usize;
    prop_oneof![
        3 => dev.clone().prop_map(Op::Create),
        4 => (dev.clone(), any::<usize>()).prop_map(|(d, p)| Op::Edit(d, p)),
        2 => (dev.clone(), any::<usize>(), 0..3u8).prop_map(|(d, p, t)| Op::Tag(d, p, t)),
        1 => (dev.clone(), any::<usize>(), 0..3u8).prop_map(|(d, p, t)| Op::Untag(d, p, t)),
        1 => (dev.clone(), any::<usize>(), any::<bool>()).prop_map(|(d, p, f)| Op::Favorite(d, p, f)),
        1 => (dev.clone(), any::<usize>()).prop_map(|(d, p)| Op::DeletePrompt(d, p)),
        1 => (dev.clone(), any::<usize>(), any::<usize>()).prop_map(|(d, p, v)| Op::DeleteVersion(d, p, v)),
        1 => (dev.clone(), any::<usize>(), 1..3usize).prop_map(|(d, p, k)| Op::Prune(d, p, k)),
        1 => (dev.clone(), any::<usize>(), any::<usize>()).prop_map(|(d, p, v)| Op::Restore(d, p, v)),
        5 => dev.prop_map(Op::Sync),
    ]
}

fn pick<T: Copy>(items: &[T], i: usize) -> Option<T> {
    (!items.is_empty()).then(|| items[i % items.len()])
}

/// Applies one operation; the ledger records what it wrote or removed.
fn apply_op(
    d: &mut Device,
    server: &mut Server,
    op: &Op,
    ledger: &mut Ledger,
) -> Result<(), SyncError> {
    let ids = d.vault.prompt_ids();
    let tag = |t: u8| vec![format!("t{t}")];
    match *op {
        Op::Create(_) => {
            let id = d.create("c", "body");
            ledger.written.insert((id, d.versions(id)[0]));
        }
        Op::Sync(_) => {
            d.sync_reopening(server)?;
        }
        Op::Edit(_, p) => {
            if let Some(p) = pick(&ids, p) {
                let v = d.edit(p, &format!("edit {}", now().0));
                ledger.written.insert((p, v));
            }
        }
        Op::Tag(_, p, t) => {
            if let Some(p) = pick(&ids, p) {
                let c = d.vault.add_tags(p, &tag(t), now()).unwrap();
                d.apply(&c);
            }
        }
        Op::Untag(_, p, t) => {
            if let Some(p) = pick(&ids, p) {
                let c = d.vault.remove_tags(p, &tag(t), now()).unwrap();
                d.apply(&c);
            }
        }
        Op::Favorite(_, p, f) => {
            if let Some(p) = pick(&ids, p) {
                let c = d.vault.set_favorite(p, f, now()).unwrap();
                d.apply(&c);
            }
        }
        Op::DeletePrompt(_, p) => {
            if let Some(p) = pick(&ids, p) {
                d.delete(p);
                ledger.removed_prompts.insert(p);
            }
        }
        Op::DeleteVersion(_, p, v) => {
            if let Some(p) = pick(&ids, p) {
                let v = pick(&d.versions(p), v).unwrap();
                if let Ok(c) = d.vault.delete_version(p, v, now()) {
                    d.apply(&c);
                    ledger.removed_versions.insert((p, v));
                }
            }
        }
        Op::Prune(_, p, keep) => {
            if let Some(p) = pick(&ids, p) {
                let before = d.versions(p);
                let c = d.vault.prune_history(p, keep, now()).unwrap();
                d.apply(&c);
                let after: BTreeSet<_> = d.versions(p).into_iter().collect();
                for v in before.into_iter().filter(|v| !after.contains(v)) {
                    ledger.removed_versions.insert((p, v));
                }
            }
        }
        Op::Restore(_, p, v) => {
            if let Some(p) = pick(&ids, p) {
                let v = pick(&d.versions(p), v).unwrap();
                let (nv, c) = d.vault.restore_version(p, v, now()).unwrap();
                d.apply(&c);
                ledger.written.insert((p, nv));
            }
        }
    }
    Ok(())
}

fn device_of(op: &Op) -> usize {
    match *op {
        Op::Create(d)
        | Op::Sync(d)
        | Op::Edit(d, ..)
        | Op::Tag(d, ..)
        | Op::Untag(d, ..)
        | Op::Favorite(d, ..)
        | Op::DeletePrompt(d, ..)
        | Op::DeleteVersion(d, ..)
        | Op::Prune(d, ..)
        | Op::Restore(d, ..) => d,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    /// Random operations on three devices with random sync points: every
    /// commit leaves the server consistent with its checkpoint, the
    /// devices converge, and no version is lost that was not deliberately
    /// removed.
    #[test]
    fn random_interleavings_converge(ops in proptest::collection::vec(op(), 1..40)) {
        let (mut server, mut a) = world();
        let mut b = Device::download(&mut server).unwrap();
        let mut c = Device::download(&mut server).unwrap();
        let mut ledger = Ledger::default();
        for o in &ops {
            let d = match device_of(o) {
                0 => &mut a,
                1 => &mut b,
                _ => &mut c,
            };
            let step = apply_op(d, &mut server, o, &mut ledger);
            prop_assert!(step.is_ok(), "{:?}", step);
            prop_assert!(server.audit_failures.is_empty(), "{:?}", server.audit_failures);
        }
        let settled = try_settle(&mut server, &mut [&mut a, &mut b, &mut c]);
        prop_assert!(settled.is_ok(), "{:?}", settled);
        for d in [&a, &b, &c] {
            ledger.assert_kept(d);
        }
    }
}

/// A pull that deletes a prompt (honestly) and brings a record that does
/// not authenticate: the deletion must not happen either.
#[test]
fn hostile_tampered_record_next_to_a_deletion() {
    let s = stage(|a, p, _| a.delete(p));
    let q = s.q;
    refuse(
        s,
        move |srv, _, pg| {
            let (key, rec) = srv
                .live()
                .into_iter()
                .find(|(k, _)| *k == format!("m.{}", q.to_hex()))
                .unwrap();
            let mut bytes = rec.as_bytes().to_vec();
            let last = bytes.len() - 1;
            bytes[last] ^= 1;
            let bad = SealedRecord::from_bytes(bytes).unwrap();
            with_rows(pg, vec![(key, Some(&bad))])
        },
        &|e| matches!(e, SyncError::Vault(Error::Authentication)),
    );
}

// ---------------------------------------------------------------------------
// Known issues (found by the proptest above; not engine bugs a local fix
// can close: see the report in the commit message)

/// C saw `p`'s metadata at revision 3; A deleted `p`; B, offline since
/// revision 1, edited it (revision 2) and its edit won. The tombstone says
/// it deleted revision 3 (SPEC §12.6), so B re-seals its metadata at 4
/// before pushing it, and C sees the prompt come back above what it saw,
/// not a rollback. (Found by the proptest when tombstones carried no
/// revision.)
#[test]
fn a_resurrected_prompt_rises_above_the_deleted_revision() {
    let (mut server, mut a) = world();
    let p = a.create("p", "1");
    a.sync(&mut server);
    let mut b = Device::download(&mut server).unwrap();
    a.edit(p, "2");
    a.edit(p, "3");
    a.sync(&mut server);
    let mut c = Device::download(&mut server).unwrap();
    a.delete(p);
    a.sync(&mut server);
    b.edit(p, "offline");
    b.sync(&mut server);
    c.sync_reopening(&mut server).unwrap();
    settle(&mut server, &mut [&mut a, &mut b, &mut c]);
}

/// A prompt with versions v1 and v2 on A and B; A deletes v1 and B v2,
/// the later deletion by `b_later`'s choice; then A syncs, then B. Returns
/// (server, a, b, prompt, v1, v2, B's report).
fn concurrent_version_deletions(
    b_later: bool,
) -> (
    Server,
    Device,
    Device,
    PromptId,
    VersionId,
    VersionId,
    SyncReport,
) {
    let (mut server, mut a) = world();
    let p = a.create("p", "1");
    let v2 = a.edit(p, "2");
    a.sync(&mut server);
    let mut b = Device::download(&mut server).unwrap();
    let v1 = a.versions(p)[0];
    let deletions: [(&mut Device, VersionId); 2] = if b_later {
        [(&mut a, v1), (&mut b, v2)]
    } else {
        [(&mut b, v2), (&mut a, v1)]
    };
    for (d, v) in deletions {
        let ch = d.vault.delete_version(p, v, now()).unwrap();
        d.apply(&ch);
    }
    a.sync(&mut server);
    let report = b.sync(&mut server);
    (server, a, b, p, v1, v2, report)
}

/// A deletes version 1 of two, B deletes version 2, B's deletion the
/// later: merged, the tombstones would leave no version, so the winner's
/// current version survives (SPEC §8). B's metadata wins and keeps v1,
/// which A deleted: B puts it back over A's tombstone and A takes it.
#[test]
fn concurrent_deletions_of_every_version_keep_the_winners_current() {
    let (mut server, mut a, mut b, p, v1, _, _) = concurrent_version_deletions(true);
    settle(&mut server, &mut [&mut a, &mut b]);
    assert_eq!(a.versions(p), vec![v1]);
    assert_eq!(b.versions(p), vec![v1]);
    assert_eq!(a.vault.version(p, None).unwrap().body, "1");
}

/// The same with A's deletion the later: A's metadata wins and keeps v2,
/// whose record B deleted. B's pull does not bring it (it did not change
/// on the server), so B pulls everything once and merges then.
#[test]
fn a_kept_version_this_device_deleted_comes_back_through_a_full_pull() {
    let (mut server, mut a, mut b, p, _, v2, r) = concurrent_version_deletions(false);
    assert!(r.full_pull, "{r:?}");
    settle(&mut server, &mut [&mut a, &mut b]);
    assert_eq!(a.versions(p), vec![v2]);
    assert_eq!(b.versions(p), vec![v2]);
    assert_eq!(b.vault.version(p, None).unwrap().body, "2");
}

/// The machine driven step by step, as a caller without blocking I/O does
/// (the blocking `run` is a loop over it): a merge, then a commit after the
/// store changed (persist asked first), then the end; an answer out of
/// place is the caller's mistake and changes nothing.
#[test]
fn the_machine_step_by_step() {
    let (mut server, mut a) = world();
    let p = a.create("p", "1");
    a.sync(&mut server);
    let mut b = Device::download(&mut server).unwrap();
    a.edit(p, "2");
    a.sync(&mut server);
    b.create("q", "b's");

    let (mut m, mut step) = Machine::start(&b.vault, &mut b.state, Options::default()).unwrap();
    let mut sent = Vec::new();
    let report = loop {
        match step {
            Step::Send {
                request,
                persist,
                backoff,
            } => {
                assert_eq!(backoff, None);
                sent.push((matches!(request, Request::Commit(_)), persist));
                let answer = match &request {
                    Request::Pull(r) => Answer::Pull(server.pull(r).unwrap()),
                    Request::Commit(r) => Answer::Commit(server.commit(r).unwrap()),
                };
                step = m
                    .resume(&mut b.vault, &mut b.store, &mut b.state, answer)
                    .unwrap();
            }
            Step::Done { report, persist } => {
                assert!(persist);
                break report;
            }
        }
    };
    // One pull (one page), then B's new prompt after persisting the merge.
    assert_eq!(sent, vec![(false, false), (true, true)]);
    assert_eq!((report.versions_added, report.commits), (1, 1));
    assert_eq!(report.cursor, b.state.cursor());

    // After the end, and of the wrong kind: refused, nothing changes.
    let page = server
        .pull(&b.state.begin_pull(&b.vault).unwrap().request(None))
        .unwrap();
    let before = (b.view(), b.state.cursor());
    let late = m.resume(&mut b.vault, &mut b.store, &mut b.state, Answer::Pull(page));
    assert!(
        matches!(late, Err(SyncError::Vault(Error::InvalidInput { .. }))),
        "{late:?}"
    );
    let (mut m, _) = Machine::start(&b.vault, &mut b.state, Options::default()).unwrap();
    let wrong = m.resume(
        &mut b.vault,
        &mut b.store,
        &mut b.state,
        Answer::Commit(CommitResponse::Accepted { cursor: 99 }),
    );
    assert!(
        matches!(wrong, Err(SyncError::Vault(Error::InvalidInput { .. }))),
        "{wrong:?}"
    );
    assert_eq!((b.view(), b.state.cursor()), before);
    settle(&mut server, &mut [&mut a, &mut b]);
}

/// The HTTP side of a step, for callers with their own HTTP stack: method,
/// path and body of a request, and the answer read back from a status and
/// body — 200 and a commit's 409 are answers, a typed refusal is
/// `Refused`, a 5xx or a foreign body is a transport error.
#[test]
fn requests_and_answers_over_http() {
    let (mut server, a) = world();
    let pull = Request::Pull(PullRequest {
        after: 0,
        max_bytes: None,
    });
    assert_eq!((Request::METHOD, pull.path()), ("POST", "/v1/pull"));
    let page = server
        .pull(&serde_json::from_str(&pull.body()).unwrap())
        .unwrap();
    let body = serde_json::to_vec(&page).unwrap();
    assert_eq!(
        Answer::from_http(&pull, 200, &body).unwrap(),
        Answer::Pull(page)
    );
    let (_, first) = Machine::start(&a.vault, &mut SyncState::new(), Options::default()).unwrap();
    let Step::Send { request, .. } = first else {
        panic!("{first:?}")
    };
    assert_eq!(request, pull);

    let commit = Request::Commit(CommitRequest {
        idempotency_key: "k".repeat(16),
        puts: Vec::new(),
        deletes: Vec::new(),
    });
    assert_eq!(commit.path(), "/v1/commit");
    let conflict = CommitResponse::Conflict { rows: Vec::new() };
    assert_eq!(
        Answer::from_http(&commit, 409, &serde_json::to_vec(&conflict).unwrap()).unwrap(),
        Answer::Commit(conflict)
    );
    let refusal = br#"{"error": {"code": "unauthorized", "message": "log in"}}"#;
    assert!(matches!(
        Answer::from_http(&commit, 401, refusal),
        Err(SyncError::Refused { status: 401, ref code, .. }) if code == "unauthorized"
    ));
    // A 409 on a pull is no answer: the refusal it carries.
    assert!(matches!(
        Answer::from_http(&pull, 409, refusal),
        Err(SyncError::Refused { status: 409, .. })
    ));
    for (status, body) in [(503, &b"busy"[..]), (200, b"<html>"), (404, b"not json")] {
        assert!(
            matches!(
                Answer::from_http(&pull, status, body),
                Err(SyncError::Transport(_))
            ),
            "{status}"
        );
    }
}

/// Answers outside the sync loop (login, registration, rekey, account
/// deletion) read the same way: a 200 with the expected JSON, else the
/// typed refusal or a transport error — never a half-read value.
#[test]
fn answers_outside_the_loop_over_http() {
    use promptvault::protocol::{PreLoginResponse, SessionResponse};
    let session = br#"{"token":"dG9rZW4","expiresIn":3600,"vaultId":"00112233445566778899aabbccddeeff","cursor":0}"#;
    match sync::read_answer::<SessionResponse>(200, session) {
        Ok(s) => assert_eq!((s.token.as_str(), s.expires_in), ("dG9rZW4", 3600)),
        // The session's exact fields are the protocol's: say which broke.
        Err(e) => panic!("{e}"),
    }
    let wrong = br#"{"error": {"code": "authentication_failed", "message": "no"}}"#;
    assert!(matches!(
        sync::read_answer::<SessionResponse>(401, wrong),
        Err(SyncError::Refused { status: 401, ref code, .. }) if code == "authentication_failed"
    ));
    // A 200 of another shape is not taken for the expected answer.
    assert!(matches!(
        sync::read_answer::<PreLoginResponse>(200, session),
        Err(SyncError::Transport(_))
    ));
    for (status, body) in [(502, &b"down"[..]), (200, b"<html>"), (400, b"not json")] {
        assert!(
            matches!(
                sync::read_answer::<SessionResponse>(status, body),
                Err(SyncError::Transport(_))
            ),
            "{status}"
        );
    }
}
