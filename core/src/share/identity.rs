//! An account's sharing identity (SPEC §13.3): the secret X-Wing and
//! Ed25519 seeds, the self-signed public bundle made from them, the sealed
//! record that keeps them in the account's own vault, and the two things an
//! identity does — deliver a space key to a member, and accept one.

use ed25519_dalek::{Signer as _, SigningKey};
use hpke::Serializable as _;
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::format::{HEADER_LEN, KEY_LEN, RecordHeader, RecordKind, write};
use crate::hazmat::Key;
use crate::ids::{ID_LEN, Timestamp};
use crate::record::SealedRecord;
use crate::vault::{Changeset, Vault};
use crate::{rng, sealing};

use super::bundle::{self, Fingerprint, PublicBundle, SIGNING_KEY_LEN};
use super::delivery::{self, KEY_DELIVERY_BODY_LEN, KeyDelivery};
use super::space::SpaceKey;
use super::suite::{self, DrawnRng, ENCAP_RANDOMNESS_LEN, KemPrivateKey};

/// Length of each secret seed (X-Wing decapsulation key, Ed25519 secret key).
pub const SEED_LEN: usize = 32;

/// An account's sharing identity: an X-Wing key pair (post-quantum hybrid
/// KEM, through HPKE) to receive space keys, and an Ed25519 key pair to
/// sign its bundle and the deliveries it sends.
///
/// Made once per account ([`Identity::generate`]), kept sealed in the
/// account's vault ([`Vault::set_identity`]), and published as its
/// [`PublicBundle`]. Dropping it zeroizes both secrets; `Debug` shows only
/// the public side.
#[derive(Clone)]
pub struct Identity {
    kem_seed: Zeroizing<[u8; SEED_LEN]>,
    kem: KemPrivateKey,
    signing: SigningKey,
    bundle: PublicBundle,
}

impl core::fmt::Debug for Identity {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Identity")
            .field("bundle", &self.bundle)
            .finish_non_exhaustive()
    }
}

impl Identity {
    /// Makes a new identity for `account`: two fresh seeds from the
    /// operating system, and the bundle they sign.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] for an account name the sync protocol
    /// refuses ([`crate::protocol::check_account`]) or a time beyond
    /// 2^53 − 1; [`Error::Randomness`].
    pub fn generate(account: &str, created: Timestamp) -> Result<Identity> {
        let kem_seed = Zeroizing::new(rng::array::<SEED_LEN>()?);
        let signing_seed = Zeroizing::new(rng::array::<SEED_LEN>()?);
        Self::from_seeds(&kem_seed, &signing_seed, account, created)
    }

    /// Rebuilds an identity from its two seeds (what the identity record
    /// holds). A test hook for the frozen vectors; not API.
    ///
    /// # Errors
    ///
    /// As [`Identity::generate`].
    #[doc(hidden)]
    pub fn from_seeds(
        kem_seed: &[u8; SEED_LEN],
        signing_seed: &[u8; SEED_LEN],
        account: &str,
        created: Timestamp,
    ) -> Result<Identity> {
        let (kem, kem_pk) = suite::keypair(kem_seed)?;
        let signing = SigningKey::from_bytes(signing_seed);
        let vk: [u8; SIGNING_KEY_LEN] = signing.verifying_key().to_bytes();
        let mut bytes = bundle::unsigned_bundle(account, created, &vk, &kem_pk.to_bytes())?;
        let signature = signing.sign(&bundle::signature_message(&bytes));
        bytes.extend_from_slice(&signature.to_bytes());
        let bundle = PublicBundle::from_bytes(&bytes)?;
        Ok(Identity {
            kem_seed: Zeroizing::new(*kem_seed),
            kem,
            signing,
            bundle,
        })
    }

    /// The public bundle to publish.
    #[must_use]
    pub fn bundle(&self) -> &PublicBundle {
        &self.bundle
    }

    /// This identity's fingerprint (of its bundle).
    #[must_use]
    pub fn fingerprint(&self) -> Fingerprint {
        self.bundle.fingerprint()
    }

    /// Delivers `key` to `recipient`: HPKE-seals it to the recipient's
    /// X-Wing key, binding the space, the generation and both identities,
    /// and signs the record (SPEC §13.4).
    ///
    /// # Errors
    ///
    /// [`Error::Malformed`] if the recipient's X-Wing key is not canonical;
    /// [`Error::Randomness`].
    ///
    /// # Security
    ///
    /// `recipient` must be a bundle the caller pinned — checked against the
    /// fingerprint its owner gave ([`PublicBundle::verify_fingerprint`]) —
    /// never one taken from a server unchecked: the server could hand out
    /// its own.
    pub fn deliver(&self, key: &SpaceKey, recipient: &PublicBundle) -> Result<KeyDelivery> {
        let mut drawn = Zeroizing::new(vec![0u8; ENCAP_RANDOMNESS_LEN]);
        rng::fill(&mut drawn)?;
        self.deliver_with(key, recipient, &mut DrawnRng::new(drawn))
    }

    /// As [`Identity::deliver`] with the 64 bytes of X-Wing encapsulation
    /// randomness given. A test hook for the frozen vectors; not API.
    ///
    /// # Errors
    ///
    /// As [`Identity::deliver`].
    #[doc(hidden)]
    pub fn deliver_with_randomness(
        &self,
        key: &SpaceKey,
        recipient: &PublicBundle,
        randomness: &[u8; ENCAP_RANDOMNESS_LEN],
    ) -> Result<KeyDelivery> {
        let drawn = Zeroizing::new(randomness.to_vec());
        self.deliver_with(key, recipient, &mut DrawnRng::new(drawn))
    }

    fn deliver_with(
        &self,
        key: &SpaceKey,
        recipient: &PublicBundle,
        rng: &mut DrawnRng,
    ) -> Result<KeyDelivery> {
        let pk = suite::public_key(recipient.kem_public_key_bytes())?;
        let header = RecordHeader {
            kind: RecordKind::KeyDelivery,
            key_gen: key.generation(),
            vault_id: key.space_id(),
            id1: recipient.key_id(),
            id2: self.bundle.key_id(),
            revision: 0,
            body_len: u32::try_from(KEY_DELIVERY_BODY_LEN)
                .map_err(|_| Error::malformed("key delivery length"))?,
        };
        let aad = write::encode_header(&header);
        let info = delivery::hpke_info(
            &key.space_id(),
            key.generation(),
            self.bundle.hash(),
            recipient.hash(),
        );
        let (enc, ct) = suite::seal_with(&pk, &info, &aad, key.key().expose_secret(), rng)?;
        let msg = delivery::signed_message(&aad, &enc, &ct, self.bundle.hash(), recipient.hash());
        let signature = self.signing.sign(&msg).to_bytes();
        let mut bytes = Vec::with_capacity(HEADER_LEN + KEY_DELIVERY_BODY_LEN);
        bytes.extend_from_slice(&aad);
        bytes.extend_from_slice(&enc);
        bytes.extend_from_slice(&ct);
        bytes.extend_from_slice(&signature);
        KeyDelivery::from_bytes(bytes)
    }

    /// Accepts a delivery from `sender`: checks it is addressed to this
    /// identity, verifies the sender's signature, then opens the space key.
    ///
    /// # Errors
    ///
    /// [`Error::NotAMember`] for a delivery addressed to another identity;
    /// [`Error::BadSignature`] when `sender` did not sign it (another
    /// sender, or a modified record); [`Error::Authentication`] when the
    /// HPKE open fails (a record signed by the sender but not sealed to
    /// this key).
    ///
    /// # Security
    ///
    /// `sender` must be a pinned bundle (see [`Identity::deliver`]). The
    /// key is only as good as the space header it unlocks: opening the
    /// space ([`Vault::open_space`]) authenticates it.
    pub fn accept(&self, delivery: &KeyDelivery, sender: &PublicBundle) -> Result<SpaceKey> {
        delivery.verify(sender, &self.bundle)?;
        let parts = delivery.parts()?;
        let info = delivery::hpke_info(
            &delivery.space_id(),
            delivery.generation(),
            sender.hash(),
            self.bundle.hash(),
        );
        let plain = suite::open(&self.kem, parts.enc, &info, parts.header, parts.ciphertext)?;
        let key = Key::from_slice(&plain).map_err(|_| Error::Authentication)?;
        Ok(SpaceKey::new(
            delivery.space_id(),
            delivery.generation(),
            key,
        ))
    }

    /// The identity record's plaintext: both seeds, then the bundle.
    fn plaintext(&self) -> Zeroizing<Vec<u8>> {
        let bundle = self.bundle.as_bytes();
        let mut out = Zeroizing::new(Vec::with_capacity(2 * SEED_LEN + bundle.len()));
        out.extend_from_slice(self.kem_seed.as_slice());
        out.extend_from_slice(self.signing.as_bytes());
        out.extend_from_slice(bundle);
        out
    }
}

/// The storage key of the identity record.
const IDENTITY_KEY: &str = "id";

impl Vault {
    /// Keeps `identity` in this vault: seals it as the identity record
    /// (kind 9, storage key `id`) under the current vault key. The record
    /// then travels with the vault — sync, merge, rotation re-seal it.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] for a shared space, or when the vault holds
    /// an identity already (replacing one would break every pin of its
    /// fingerprint; SPEC §13.3); [`Error::Randomness`].
    pub fn set_identity(&mut self, identity: &Identity) -> Result<Changeset> {
        self.refuse_space("a shared space has no identity")?;
        if self.extra(IDENTITY_KEY).is_some() {
            return Err(Error::invalid("this vault already has a sharing identity"));
        }
        let rec = self.seal_identity(identity)?;
        Ok(self.put_extra(rec))
    }

    /// Seals `identity` as an identity record of this vault (kind 9,
    /// storage key `id`) under the current vault key, without keeping it:
    /// for a client that stores the record beside the vault's store (the
    /// reference CLI's side file, SPEC §12.12) and seals it again after a
    /// rotation itself. [`Vault::set_identity`] keeps it in the vault,
    /// where open, merge, sync and rotation carry it.
    ///
    /// # Errors
    ///
    /// [`Error::Randomness`].
    pub fn seal_identity(&self, identity: &Identity) -> Result<SealedRecord> {
        let header = RecordHeader {
            kind: RecordKind::Identity,
            key_gen: self.key_generation(),
            vault_id: self.id(),
            id1: [0; ID_LEN],
            id2: [0; ID_LEN],
            revision: 0,
            body_len: 0,
        };
        sealing::seal(self.vault_key_current(), header, &identity.plaintext())
    }

    /// The identity this vault keeps, if any.
    ///
    /// # Errors
    ///
    /// [`Error::Authentication`] when its record's seeds do not give the
    /// keys of the bundle it carries (only a holder of the vault key can
    /// write one, so this is tampering).
    pub fn identity(&self) -> Result<Option<Identity>> {
        self.extra(IDENTITY_KEY)
            .map(|r| self.open_identity(r))
            .transpose()
    }

    /// Opens an identity record of this vault, kept anywhere (see
    /// [`Vault::seal_identity`]); any generation this vault holds a key for.
    ///
    /// # Errors
    ///
    /// [`Error::Authentication`] for a record of another vault or kind, one
    /// no held vault key opens, or content whose seeds do not give the keys
    /// of the bundle it carries.
    pub fn open_identity(&self, record: &SealedRecord) -> Result<Identity> {
        let h = record.header();
        if h.kind != RecordKind::Identity || h.vault_id != self.id() {
            return Err(Error::Authentication);
        }
        let key = self.vault_key(h.key_gen).ok_or(Error::Authentication)?;
        let plain = sealing::open(key, record)?;
        let (kem_seed, rest) = plain
            .split_at_checked(SEED_LEN)
            .ok_or(Error::Authentication)?;
        let (signing_seed, bundle) = rest
            .split_at_checked(SEED_LEN)
            .ok_or(Error::Authentication)?;
        let bundle = PublicBundle::from_bytes(bundle).map_err(|_| Error::Authentication)?;
        let kem_seed: Zeroizing<[u8; SEED_LEN]> =
            Zeroizing::new(kem_seed.try_into().map_err(|_| Error::Authentication)?);
        let signing_seed: Zeroizing<[u8; SEED_LEN]> =
            Zeroizing::new(signing_seed.try_into().map_err(|_| Error::Authentication)?);
        let identity =
            Identity::from_seeds(&kem_seed, &signing_seed, bundle.account(), bundle.created())
                .map_err(|_| Error::Authentication)?;
        if identity.bundle.as_bytes() != bundle.as_bytes() {
            // Ed25519 signing is deterministic: the same seeds and fields
            // give the same bytes, so a difference is tampering.
            return Err(Error::Authentication);
        }
        Ok(identity)
    }
}

const _: () = assert!(KEY_LEN == SEED_LEN);
