//! Sharing (SPEC §13): identities and their sealed records, bundles and
//! fingerprints, key deliveries (what we write we can open; every flipped
//! byte, another recipient, another sender fail with typed errors), and
//! spaces through the whole story — share, accept, revoke, rotate.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

use promptvault::share::{
    FINGERPRINT_CHARS, Fingerprint, Identity, KEY_DELIVERY_BODY_LEN, KeyDelivery, PublicBundle,
    SpaceKey,
};
use promptvault::{
    Credential, Draft, Error, ErrorCode, KdfParams, MemoryStore, Password, RecordKind,
    SealedRecord, SeenRevisions, Timestamp, Vault,
};
use proptest::prelude::*;

fn fast() -> KdfParams {
    KdfParams::new(KdfParams::MIN_M_COST_KIB, 1, 1).unwrap()
}

fn account_vault() -> Vault {
    Vault::create(&Password::new(PASSWORD).unwrap(), fast())
        .unwrap()
        .vault
}

fn draft(title: &str, body: &str) -> Draft {
    Draft {
        title: title.into(),
        body: body.into(),
        settings: None,
        note: String::new(),
    }
}

fn identity(account: &str) -> Identity {
    Identity::generate(account, Timestamp(1_700_000_000_000)).unwrap()
}

/// One character of a fingerprint's text changed to another symbol.
fn one_char_off(text: &str) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    let i = chars.iter().position(|c| *c != '-').unwrap();
    chars[i] = if chars[i] == 'Z' { 'Y' } else { 'Z' };
    chars.into_iter().collect()
}

#[test]
fn bundles_are_self_signed_and_fingerprints_compare() {
    let alice = identity("alice");
    let bundle = alice.bundle();
    assert_eq!(bundle.account(), "alice");
    assert_eq!(bundle.created(), Timestamp(1_700_000_000_000));
    let again = PublicBundle::from_bytes(bundle.as_bytes()).unwrap();
    assert_eq!(&again, bundle);
    assert_eq!(&PublicBundle::from_text(&bundle.to_text()).unwrap(), bundle);

    let fp = alice.fingerprint().to_string();
    assert_eq!(fp.replace('-', "").len(), FINGERPRINT_CHARS);
    assert_eq!(Fingerprint::parse(&fp).unwrap(), alice.fingerprint());
    bundle.verify_fingerprint(&fp).unwrap();
    bundle.verify_fingerprint(&fp.to_lowercase()).unwrap();
    let wrong = one_char_off(&fp);
    assert_eq!(
        bundle.verify_fingerprint(&wrong).unwrap_err(),
        Error::WrongFingerprint
    );
    assert_eq!(
        bundle.verify_fingerprint("not a fingerprint").unwrap_err(),
        Error::WrongFingerprint
    );
    assert_eq!(Error::WrongFingerprint.code(), ErrorCode::WrongFingerprint);
    // Another identity, even for the same account name, has another one.
    assert_ne!(identity("alice").fingerprint(), alice.fingerprint());
    // Account names follow the sync protocol's rules.
    assert!(matches!(
        Identity::generate("has space", Timestamp(0)),
        Err(Error::InvalidInput { .. })
    ));
}

#[test]
fn every_flipped_bundle_byte_is_refused() {
    let bundle = identity("bob").bundle().clone();
    let bytes = bundle.as_bytes().to_vec();
    for i in 0..bytes.len() {
        let mut b = bytes.clone();
        b[i] ^= 0x01;
        let err = PublicBundle::from_bytes(&b).unwrap_err();
        assert!(
            matches!(
                err.code(),
                ErrorCode::Malformed
                    | ErrorCode::BadSignature
                    | ErrorCode::UnsupportedVersion
                    | ErrorCode::UnsupportedSuite
            ),
            "byte {i}: {err:?}"
        );
    }
    assert!(PublicBundle::from_bytes(&bytes[..bytes.len() - 1]).is_err());
    let mut longer = bytes.clone();
    longer.push(0);
    assert!(PublicBundle::from_bytes(&longer).is_err());
}

const PASSWORD: &str = "correct horse";

fn reopen(store: &MemoryStore) -> Vault {
    Vault::open_store(
        store,
        Credential::Password(&Password::new(PASSWORD).unwrap()),
        &SeenRevisions::default(),
    )
    .unwrap()
}

#[test]
fn the_identity_travels_with_its_vault_and_opens_nowhere_else() {
    let created = Vault::create(&Password::new(PASSWORD).unwrap(), fast()).unwrap();
    let mut store = MemoryStore::new();
    store.apply(&created.changes);
    let mut vault = created.vault;
    assert!(vault.identity().unwrap().is_none());
    let alice = identity("alice");
    let changes = vault.set_identity(&alice).unwrap();
    assert_eq!(changes.puts.len(), 1);
    let rec = changes.puts[0].clone();
    assert_eq!(rec.kind(), RecordKind::Identity);
    assert_eq!(rec.storage_key(), "id");
    store.apply(&changes);
    assert_eq!(vault.identity().unwrap().unwrap().bundle(), alice.bundle());
    // One identity per account: a second would break every pin.
    assert!(matches!(
        vault.set_identity(&identity("alice")),
        Err(Error::InvalidInput { .. })
    ));

    // It comes back with the vault, and still signs and opens.
    let back = reopen(&store).identity().unwrap().unwrap();
    assert_eq!(back.bundle(), alice.bundle());
    let NewSpaceParts { key, .. } = new_space();
    let bob = identity("bob");
    let d = back.deliver(&key, bob.bundle()).unwrap();
    assert_eq!(bob.accept(&d, alice.bundle()).unwrap(), key);

    // It survives a rotation of the vault (re-sealed at the new generation).
    let pw = Password::new(PASSWORD).unwrap();
    let (_, changes) = vault.rotate(&pw).unwrap();
    assert!(
        changes
            .puts
            .iter()
            .any(|r| r.kind() == RecordKind::Identity && r.header().key_generation() == 2)
    );
    store.apply(&changes);
    store.apply(&vault.finish_rotation().unwrap());
    assert!(!vault.rotation_pending());
    assert_eq!(
        reopen(&store).identity().unwrap().unwrap().bundle(),
        alice.bundle()
    );

    // In another vault it does not open; tampered it does not open.
    let mut other = account_vault();
    assert_eq!(
        other.merge([rec.as_bytes()]).unwrap_err(),
        Error::Authentication
    );
    let mut bytes = rec.as_bytes().to_vec();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    let mut fresh = Vault::create(&pw, fast()).unwrap().vault;
    let mut own = MemoryStore::new();
    own.apply(&fresh.snapshot().unwrap());
    let header = own.header().unwrap().to_vec();
    let own_rec = fresh.set_identity(&alice).unwrap().puts.remove(0);
    let mut tampered = own_rec.as_bytes().to_vec();
    let last = tampered.len() - 1;
    tampered[last] ^= 1;
    assert_eq!(
        Vault::open(&header, [tampered], Credential::Password(&pw)).unwrap_err(),
        Error::Authentication
    );
    assert_eq!(
        Vault::open(&header, [bytes], Credential::Password(&pw)).unwrap_err(),
        Error::Authentication
    );
    let ok = Vault::open(&header, [own_rec.as_bytes()], Credential::Password(&pw)).unwrap();
    assert_eq!(ok.identity().unwrap().unwrap().bundle(), alice.bundle());
    // A space has no identity.
    let mut space = new_space().vault;
    assert!(matches!(
        space.set_identity(&alice),
        Err(Error::InvalidInput { .. })
    ));
    // Debug never shows a secret.
    let dbg = format!("{alice:?}");
    assert!(dbg.contains("alice") && !dbg.contains("seed"), "{dbg}");
}

/// Two devices of one account that each made an identity converge on the
/// same one after syncing both ways (SPEC §13.3).
#[test]
fn two_devices_converge_on_one_identity() {
    let created = Vault::create(&Password::new(PASSWORD).unwrap(), fast()).unwrap();
    let mut store = MemoryStore::new();
    store.apply(&created.changes);
    let mut a = reopen(&store);
    let mut b = reopen(&store);
    let ca = a.set_identity(&identity("alice")).unwrap();
    let cb = b.set_identity(&identity("alice")).unwrap();
    a.merge(cb.puts.iter().map(SealedRecord::as_bytes)).unwrap();
    b.merge(ca.puts.iter().map(SealedRecord::as_bytes)).unwrap();
    let (ia, ib) = (
        a.identity().unwrap().unwrap(),
        b.identity().unwrap().unwrap(),
    );
    assert_eq!(ia.bundle(), ib.bundle());
    // Merging what it already holds changes nothing.
    let again = a.merge(ca.puts.iter().map(SealedRecord::as_bytes)).unwrap();
    let again2 = a.merge(cb.puts.iter().map(SealedRecord::as_bytes)).unwrap();
    assert!(
        again.changes.puts.is_empty() && again2.changes.puts.is_empty(),
        "{:?} {:?}",
        again.changes,
        again2.changes
    );
}

struct NewSpaceParts {
    vault: Vault,
    key: SpaceKey,
    store: MemoryStore,
}

fn new_space() -> NewSpaceParts {
    let created = Vault::create_space().unwrap();
    let mut store = MemoryStore::new();
    store.apply(&created.changes);
    NewSpaceParts {
        vault: created.vault,
        key: created.key,
        store,
    }
}

#[test]
fn a_delivery_opens_for_its_recipient_only() {
    let (alice, bob, carol) = (identity("alice"), identity("bob"), identity("carol"));
    let NewSpaceParts { key, .. } = new_space();
    let d = alice.deliver(&key, bob.bundle()).unwrap();
    assert_eq!(d.record().kind(), RecordKind::KeyDelivery);
    assert_eq!(d.record().as_bytes().len(), 72 + KEY_DELIVERY_BODY_LEN);
    assert_eq!(d.space_id(), key.space_id());
    assert_eq!(d.generation(), 1);
    assert_eq!(d.recipient_key_id(), bob.bundle().key_id());
    assert_eq!(d.sender_key_id(), alice.bundle().key_id());
    // Keyless: a server can check it is alice's, to bob.
    d.verify(alice.bundle(), bob.bundle()).unwrap();

    let got = bob.accept(&d, alice.bundle()).unwrap();
    assert_eq!(got, key);
    // Text form round trip.
    let back = KeyDelivery::from_text(&d.record().to_text()).unwrap();
    assert_eq!(bob.accept(&back, alice.bundle()).unwrap(), key);

    // Carol cannot open bob's delivery.
    assert_eq!(
        carol.accept(&d, alice.bundle()).unwrap_err(),
        Error::NotAMember
    );
    // Bob pinning another sender refuses it.
    assert!(matches!(
        bob.accept(&d, carol.bundle()).unwrap_err(),
        Error::BadSignature { .. }
    ));
    // A record of another kind is not a delivery.
    let other = SealedRecord::from_bytes(account_vault().header_bytes().to_vec()).unwrap();
    assert!(matches!(
        KeyDelivery::from_record(other),
        Err(Error::WrongKind { found: 1 })
    ));
}

#[test]
fn a_delivery_signed_by_the_wrong_sender_fails() {
    let (alice, bob, mallory) = (identity("alice"), identity("bob"), identity("mallory"));
    let NewSpaceParts { key, .. } = new_space();
    // Mallory's own delivery, claimed as alice's: the header names mallory.
    let forged = mallory.deliver(&key, bob.bundle()).unwrap();
    assert!(matches!(
        bob.accept(&forged, alice.bundle()).unwrap_err(),
        Error::BadSignature { .. }
    ));
    // ...and with alice's key id spliced into the header, the signature
    // (mallory's) does not verify under alice's key.
    let mut bytes = forged.record().as_bytes().to_vec();
    bytes[44..60].copy_from_slice(&alice.bundle().key_id());
    let spliced = KeyDelivery::from_bytes(bytes).unwrap();
    assert!(matches!(
        bob.accept(&spliced, alice.bundle()).unwrap_err(),
        Error::BadSignature { .. }
    ));
    // Alice's real delivery with mallory's signature over it: refused too.
    let real = alice.deliver(&key, bob.bundle()).unwrap();
    let mut bytes = real.record().as_bytes().to_vec();
    let sig_at = bytes.len() - 64;
    bytes[sig_at..].copy_from_slice(&forged.record().as_bytes()[sig_at..]);
    let resigned = KeyDelivery::from_bytes(bytes).unwrap();
    assert!(matches!(
        bob.accept(&resigned, alice.bundle()).unwrap_err(),
        Error::BadSignature { .. }
    ));
}

#[test]
fn every_flipped_delivery_byte_fails() {
    let (alice, bob) = (identity("alice"), identity("bob"));
    let NewSpaceParts { key, .. } = new_space();
    let d = alice.deliver(&key, bob.bundle()).unwrap();
    let bytes = d.record().as_bytes().to_vec();
    for i in 0..bytes.len() {
        for bit in [0x01u8, 0x80] {
            let mut b = bytes.clone();
            b[i] ^= bit;
            let result = KeyDelivery::from_bytes(b).and_then(|d| bob.accept(&d, alice.bundle()));
            let err = result.expect_err("a flipped byte must not open");
            assert!(
                matches!(
                    err.code(),
                    ErrorCode::Malformed
                        | ErrorCode::WrongKind
                        | ErrorCode::UnsupportedVersion
                        | ErrorCode::UnsupportedSuite
                        | ErrorCode::LimitExceeded
                        | ErrorCode::NotAMember
                        | ErrorCode::BadSignature
                        | ErrorCode::Authentication
                ),
                "byte {i}: {err:?}"
            );
        }
    }
}

/// The whole story: alice shares a prompt with bob (same prompt id on both
/// sides), bob reads it; alice removes bob and rotates; what she writes
/// next bob cannot read (a typed error), carol, still a member, can.
#[test]
fn share_accept_revoke_rotate() {
    let t = Timestamp(1_700_000_000_000);
    let (alice, bob, carol) = (identity("alice"), identity("bob"), identity("carol"));
    let mut alice_vault = account_vault();
    let (pid, _) = alice_vault
        .create_prompt(&draft("Haiku", "write a haiku"), &["poem".into()], false, t)
        .unwrap();

    let NewSpaceParts {
        vault: mut space,
        key,
        mut store,
    } = new_space();
    assert!(space.is_space());
    store.apply(&alice_vault.share_prompt(pid, &mut space, t).unwrap());
    assert_eq!(space.prompt_ids(), vec![pid]);

    // Bob: pinned by fingerprint, then the key is delivered and accepted.
    bob.bundle()
        .verify_fingerprint(&bob.fingerprint().to_string())
        .unwrap();
    let to_bob = alice.deliver(&key, bob.bundle()).unwrap();
    let to_carol = alice.deliver(&key, carol.bundle()).unwrap();
    let bob_key = bob.accept(&to_bob, alice.bundle()).unwrap();
    carol.accept(&to_carol, alice.bundle()).unwrap();

    // Bob keeps the key in his own vault, and reads the space with it.
    let mut bob_vault = account_vault();
    let kept = bob_vault.add_space_key(&bob_key).unwrap();
    assert_eq!(kept.puts.len(), 1);
    assert_eq!(kept.puts[0].storage_key(), format!("s.{}", key.space_id()));
    assert_eq!(kept.puts[0].kind(), RecordKind::SpaceKey);
    let bob_key = bob_vault.space_key(key.space_id()).unwrap().unwrap();
    assert_eq!(bob_vault.space_keys().unwrap(), vec![bob_key.clone()]);
    assert_eq!(
        account_vault()
            .merge(kept.puts.iter().map(SealedRecord::as_bytes))
            .unwrap_err(),
        Error::Authentication
    );
    let bob_space = Vault::open_space(
        store.header().unwrap(),
        store.record_bytes(),
        &bob_key,
        &SeenRevisions::default(),
    )
    .unwrap();
    assert_eq!(bob_space.prompt_ids(), vec![pid]);
    assert_eq!(bob_space.version(pid, None).unwrap().body, "write a haiku");
    let before = store.clone();

    // Alice removes bob: rotate, deliver the new key to carol only.
    let (new_key, changes) = space.rotate_space().unwrap();
    store.apply(&changes);
    store.apply(&space.finish_rotation().unwrap());
    assert_eq!(new_key.generation(), 2);
    let (_, changes) = space
        .add_version(pid, &draft("Haiku", "write a haiku about rain"), t)
        .unwrap();
    store.apply(&changes);
    let carol_key = carol
        .accept(
            &alice.deliver(&new_key, carol.bundle()).unwrap(),
            alice.bundle(),
        )
        .unwrap();
    // Keeping keys: a newer generation replaces the older, never the reverse.
    let mut carol_vault = account_vault();
    carol_vault.add_space_key(&carol_key).unwrap();
    assert!(matches!(
        carol_vault.add_space_key(&key),
        Err(Error::Rollback { found: 1, seen: 2 })
    ));
    assert_eq!(
        carol_vault
            .space_key(key.space_id())
            .unwrap()
            .unwrap()
            .generation(),
        2
    );
    let left = carol_vault.remove_space_key(key.space_id());
    assert_eq!(left.deletes, vec![format!("s.{}", key.space_id())]);
    assert!(carol_vault.space_key(key.space_id()).unwrap().is_none());

    // Bob, with generation 1: the new space is refused with a typed error.
    let err = Vault::open_space(
        store.header().unwrap(),
        store.record_bytes(),
        &bob_key,
        &SeenRevisions::default(),
    )
    .unwrap_err();
    assert_eq!(
        err,
        Error::Revoked {
            held: 1,
            current: 2
        }
    );
    assert_eq!(err.code(), ErrorCode::Revoked);
    // Bob's space as he had it, merging what alice wrote since: refused too.
    let mut stale = Vault::open_space(
        before.header().unwrap(),
        before.record_bytes(),
        &bob_key,
        &SeenRevisions::default(),
    )
    .unwrap();
    let new_records: Vec<&[u8]> = changes.puts.iter().map(SealedRecord::as_bytes).collect();
    assert!(matches!(
        stale.merge(new_records),
        Err(Error::Revoked {
            held: 1,
            current: 2
        })
    ));
    // An old key relabelled as the new generation does not unlock it.
    assert_eq!(
        Vault::open_space(
            store.header().unwrap(),
            store.record_bytes(),
            &SpaceKey::from_parts_for_tests(key.space_id(), 2, [7; 32]),
            &SeenRevisions::default(),
        )
        .unwrap_err(),
        Error::Authentication
    );

    // Carol reads the new version under the same prompt id.
    let carol_space = Vault::open_space(
        store.header().unwrap(),
        store.record_bytes(),
        &carol_key,
        &SeenRevisions::default(),
    )
    .unwrap();
    carol_space.verify().unwrap();
    assert_eq!(
        carol_space.version(pid, None).unwrap().body,
        "write a haiku about rain"
    );
    // Carol's key for the wrong space: refused before any work.
    let other = new_space();
    assert_eq!(
        Vault::open_space(
            other.store.header().unwrap(),
            other.store.record_bytes(),
            &carol_key,
            &SeenRevisions::default(),
        )
        .unwrap_err(),
        Error::WrongVault
    );
}

#[test]
fn spaces_have_no_password_and_vaults_no_space_rotation() {
    let NewSpaceParts {
        vault: mut space, ..
    } = new_space();
    let pw = Password::new("anything").unwrap();
    assert!(matches!(
        space.change_password(&pw, None),
        Err(Error::InvalidInput { .. })
    ));
    assert!(matches!(
        space.replace_recovery_key(),
        Err(Error::InvalidInput { .. })
    ));
    assert!(matches!(space.rotate(&pw), Err(Error::InvalidInput { .. })));
    let mut vault = account_vault();
    assert!(!vault.is_space());
    assert!(matches!(
        vault.rotate_space(),
        Err(Error::InvalidInput { .. })
    ));
    let mut plain = account_vault();
    let (pid, _) = vault
        .create_prompt(&draft("t", "b"), &[], false, Timestamp(1))
        .unwrap();
    assert!(matches!(
        vault.share_prompt(pid, &mut plain, Timestamp(1)),
        Err(Error::InvalidInput { .. })
    ));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// What we write, we can open: any identities, any space key and
    /// generation, any encapsulation randomness.
    #[test]
    fn what_we_deliver_we_can_accept(
        seeds in any::<[[u8; 32]; 4]>(),
        key in any::<[u8; 32]>(),
        generation in 1u32..,
        randomness in proptest::collection::vec(any::<u8>(), 64),
        created in 0u64..(1 << 53),
    ) {
        let sender = Identity::from_seeds(&seeds[0], &seeds[1], "s", Timestamp(created)).unwrap();
        let recipient = Identity::from_seeds(&seeds[2], &seeds[3], "r", Timestamp(created)).unwrap();
        let space = promptvault::VaultId::from_bytes(key[..16].try_into().unwrap());
        let space = if space.as_bytes() == &[0; 16] {
            promptvault::VaultId::from_bytes([1; 16])
        } else {
            space
        };
        let sk = SpaceKey::from_parts_for_tests(space, generation, key);
        let r: [u8; 64] = randomness.try_into().unwrap();
        let d = sender.deliver_with_randomness(&sk, recipient.bundle(), &r).unwrap();
        // Deterministic given the randomness.
        let d2 = sender.deliver_with_randomness(&sk, recipient.bundle(), &r).unwrap();
        prop_assert_eq!(d.record().as_bytes(), d2.record().as_bytes());
        let parsed = KeyDelivery::from_bytes(d.record().as_bytes().to_vec()).unwrap();
        prop_assert_eq!(recipient.accept(&parsed, sender.bundle()).unwrap(), sk);
        // Bundles round-trip through their bytes, fingerprints through text.
        let b = PublicBundle::from_bytes(sender.bundle().as_bytes()).unwrap();
        prop_assert_eq!(&b, sender.bundle());
        let fp = Fingerprint::parse(&b.fingerprint().to_string()).unwrap();
        prop_assert_eq!(fp, b.fingerprint());
    }
}
