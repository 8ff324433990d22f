//! Login keys and the signed-challenge login (SPEC §12.2).
//!
//! A client proves it holds the password (or the recovery key) without
//! sending either: both derive an Ed25519 signing key, the server keeps the
//! two public keys, and a login is a signature over a single-use,
//! action- and origin-bound challenge.
//!
//! ```text
//! seed(password) = BLAKE2b-256(key = KEK,          "promptvault v1 login key" ‖ 00 ‖ "password")
//! seed(recovery) = BLAKE2b-256(key = recovery key, "promptvault v1 login key" ‖ 00 ‖ "recovery")
//! login key      = Ed25519 signing key with that 32-byte seed (RFC 8032 §5.1.5)
//! ```
//!
//! The label differs from every other derivation under the KEK (the slot
//! key and commitment of SPEC §4.1), so the login key reveals nothing about
//! the vault key, and neither key can be confused with the other.

use core::fmt;

use blake2::Blake2bMac;
use blake2::digest::consts::U32;
use blake2::digest::{KeyInit, Mac};
use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::format::{RecordKind, text};
use crate::hazmat::Key;
use crate::header::KeyHeader;
use crate::kdf::{self, KdfParams, Password, SALT_LEN};
use crate::recovery::RecoveryKey;

/// Label of the login-key seed derivation.
const LOGIN_LABEL: &[u8] = b"promptvault v1 login key";

/// Domain separator at the start of every signed login message.
pub const LOGIN_MESSAGE_CONTEXT: &[u8] = b"promptvault v1 login";

/// Length of a server challenge in bytes.
pub const CHALLENGE_LEN: usize = 32;
/// Length of an Ed25519 public key in bytes.
pub const PUBLIC_KEY_LEN: usize = 32;
/// Length of an Ed25519 signature in bytes.
pub const SIGNATURE_LEN: usize = 64;
/// Longest account name, in bytes.
pub const MAX_ACCOUNT_LEN: usize = 128;
/// Longest origin (server identity), in bytes.
pub const MAX_ORIGIN_LEN: usize = 256;

/// Which credential a login key comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum KeyKind {
    /// Derived from the password's KEK.
    Password,
    /// Derived from the recovery key.
    Recovery,
}

impl KeyKind {
    /// The name used in messages and in the signed login message.
    pub const fn name(self) -> &'static str {
        match self {
            KeyKind::Password => "password",
            KeyKind::Recovery => "recovery",
        }
    }
}

/// What a signed challenge authorises. A signature for one action is
/// worthless for another.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// Create the account and its vault.
    Register,
    /// Open a session.
    Login,
}

impl Action {
    /// The name used in messages and in the signed login message.
    pub const fn name(self) -> &'static str {
        match self {
            Action::Register => "register",
            Action::Login => "login",
        }
    }
}

/// The KDF salt and parameters a client needs to derive its password login
/// key (the answer to a pre-login).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LoginParams {
    /// The vault header's KDF salt.
    pub salt: [u8; SALT_LEN],
    /// The vault header's KDF parameters.
    pub kdf: KdfParams,
}

impl LoginParams {
    /// Reads the salt and parameters from a vault-header record, keylessly.
    ///
    /// # Errors
    ///
    /// As [`crate::inspect::inspect`] for a record that is not a well-formed
    /// vault header ([`Error::WrongKind`] for another kind).
    pub fn from_header(header: &[u8]) -> Result<Self> {
        let h = KeyHeader::parse(header, RecordKind::VaultHeader)?;
        Ok(LoginParams {
            salt: h.salt,
            kdf: h.kdf,
        })
    }
}

/// An Ed25519 login signing key. Zeroized on drop; its `Debug` prints no
/// bytes; the secret never leaves this type.
pub struct LoginKey {
    kind: KeyKind,
    key: SigningKey,
}

impl fmt::Debug for LoginKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoginKey")
            .field("kind", &self.kind)
            .field("public", &text::encode(&self.public_key()))
            .finish_non_exhaustive()
    }
}

fn seed(secret: &Key, kind: KeyKind) -> Result<Zeroizing<[u8; 32]>> {
    let mut mac = <Blake2bMac<U32> as KeyInit>::new_from_slice(secret.expose_secret())
        .map_err(|_| Error::malformed("BLAKE2b key length"))?;
    mac.update(LOGIN_LABEL);
    mac.update(&[0]);
    mac.update(kind.name().as_bytes());
    let mut out = Zeroizing::new([0u8; 32]);
    out.copy_from_slice(&mac.finalize().into_bytes());
    Ok(out)
}

impl LoginKey {
    /// Derives the password login key: runs Argon2id once with the salt
    /// and parameters from a pre-login (or [`LoginParams::from_header`]).
    ///
    /// # Errors
    ///
    /// [`Error::LimitExceeded`] if the KDF work area cannot be allocated.
    ///
    /// # Security
    ///
    /// Costs one Argon2id run, like unlocking: this is what makes each
    /// password guess against a stolen public key as expensive as one
    /// against the vault header. A wrong password yields a different key,
    /// which the server refuses.
    pub fn derive_from_password(password: &Password, params: &LoginParams) -> Result<Self> {
        let kek = kdf::derive_kek(password, &params.salt, params.kdf)?;
        Self::from_secret(&kek, KeyKind::Password)
    }

    /// Derives the recovery login key (no KDF: the recovery key is random).
    ///
    /// # Errors
    ///
    /// Never in practice; the `Result` is for the keyed hash's setup.
    pub fn derive_from_recovery_key(recovery: &RecoveryKey) -> Result<Self> {
        Self::from_secret(recovery.key(), KeyKind::Recovery)
    }

    fn from_secret(secret: &Key, kind: KeyKind) -> Result<Self> {
        let seed = seed(secret, kind)?;
        Ok(LoginKey {
            kind,
            key: SigningKey::from_bytes(&seed),
        })
    }

    /// Which credential this key comes from.
    pub fn kind(&self) -> KeyKind {
        self.kind
    }

    /// The public key the server stores.
    pub fn public_key(&self) -> [u8; PUBLIC_KEY_LEN] {
        self.key.verifying_key().to_bytes()
    }

    /// Signs a server challenge for `action` at `origin` on behalf of
    /// `account` (the message of [`login_message`]).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] for an empty or oversized account or origin.
    pub fn sign_challenge(
        &self,
        challenge: &[u8; CHALLENGE_LEN],
        action: Action,
        origin: &str,
        account: &str,
    ) -> Result<[u8; SIGNATURE_LEN]> {
        let msg = login_message(challenge, action, origin, account, self.kind)?;
        Ok(self.key.sign(&msg).to_bytes())
    }
}

fn push_field(out: &mut Vec<u8>, field: &[u8]) -> Result<()> {
    let len = u32::try_from(field.len()).map_err(|_| Error::invalid("field too long"))?;
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(field);
    Ok(())
}

/// The exact bytes a login key signs (SPEC §12.2):
///
/// ```text
/// "promptvault v1 login" ‖ 00 ‖ f(action) ‖ f(origin) ‖ f(account) ‖ f(key kind) ‖ challenge (32)
/// f(x) = u32le(len(x)) ‖ x
/// ```
///
/// # Errors
///
/// [`Error::InvalidInput`] for an empty account or origin, or one longer
/// than [`MAX_ACCOUNT_LEN`] / [`MAX_ORIGIN_LEN`].
pub fn login_message(
    challenge: &[u8; CHALLENGE_LEN],
    action: Action,
    origin: &str,
    account: &str,
    kind: KeyKind,
) -> Result<Vec<u8>> {
    check_account(account)?;
    if origin.is_empty() || origin.len() > MAX_ORIGIN_LEN {
        return Err(Error::invalid("the origin is empty or too long"));
    }
    let mut out = Vec::with_capacity(128 + origin.len() + account.len());
    out.extend_from_slice(LOGIN_MESSAGE_CONTEXT);
    out.push(0);
    push_field(&mut out, action.name().as_bytes())?;
    push_field(&mut out, origin.as_bytes())?;
    push_field(&mut out, account.as_bytes())?;
    push_field(&mut out, kind.name().as_bytes())?;
    out.extend_from_slice(challenge);
    Ok(out)
}

/// Checks an account name: 1 to [`MAX_ACCOUNT_LEN`] bytes of printable
/// ASCII other than space (letters, digits and `!`–`~`).
///
/// # Errors
///
/// [`Error::InvalidInput`] otherwise.
pub fn check_account(account: &str) -> Result<()> {
    if account.is_empty()
        || account.len() > MAX_ACCOUNT_LEN
        || !account.bytes().all(|b| b.is_ascii_graphic())
    {
        return Err(Error::invalid(
            "an account name is 1 to 128 printable ASCII characters without spaces",
        ));
    }
    Ok(())
}

/// Verifies a login signature keylessly (what the server does).
///
/// # Errors
///
/// [`Error::Authentication`] for a signature that does not verify, or a
/// public key that is not a valid Ed25519 point; [`Error::InvalidInput`]
/// as [`login_message`].
///
/// # Security
///
/// Uses strict verification (RFC 8032 with the small-order and
/// non-canonical checks of `verify_strict`), so one signature has one
/// accepted encoding.
pub fn verify_login(
    public_key: &[u8; PUBLIC_KEY_LEN],
    signature: &[u8; SIGNATURE_LEN],
    challenge: &[u8; CHALLENGE_LEN],
    action: Action,
    origin: &str,
    account: &str,
    kind: KeyKind,
) -> Result<()> {
    let msg = login_message(challenge, action, origin, account, kind)?;
    let vk = VerifyingKey::from_bytes(public_key).map_err(|_| Error::Authentication)?;
    let sig = ed25519_dalek::Signature::from_bytes(signature);
    vk.verify_strict(&msg, &sig)
        .map_err(|_| Error::Authentication)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn fast() -> KdfParams {
        KdfParams::new(KdfParams::MIN_M_COST_KIB, 1, 1).unwrap()
    }

    fn params(salt: u8) -> LoginParams {
        LoginParams {
            salt: [salt; SALT_LEN],
            kdf: fast(),
        }
    }

    #[test]
    fn password_login_key_is_deterministic_and_salted() {
        let pw = Password::new("correct horse").unwrap();
        let a = LoginKey::derive_from_password(&pw, &params(1)).unwrap();
        let b = LoginKey::derive_from_password(&pw, &params(1)).unwrap();
        let c = LoginKey::derive_from_password(&pw, &params(2)).unwrap();
        let d =
            LoginKey::derive_from_password(&Password::new("correct horsE").unwrap(), &params(1))
                .unwrap();
        assert_eq!(a.public_key(), b.public_key());
        assert_ne!(a.public_key(), c.public_key());
        assert_ne!(a.public_key(), d.public_key());
    }

    #[test]
    fn login_seeds_are_separated_from_each_other_and_from_slot_keys() {
        let secret = Key::from_bytes([7; 32]);
        let pw_seed = seed(&secret, KeyKind::Password).unwrap();
        let rk_seed = seed(&secret, KeyKind::Recovery).unwrap();
        assert_ne!(*pw_seed, *rk_seed);
        // Nothing else derived from the same KEK equals a login seed.
        for aad in [&b""[..], b"password"] {
            let slot_key = crate::slot::derive_slot_key(&secret, aad).unwrap();
            let commit = crate::slot::derive_commitment(&secret, aad).unwrap();
            for s in [&*pw_seed, &*rk_seed] {
                assert_ne!(s, slot_key.expose_secret());
                assert_ne!(s, &commit);
                assert_ne!(s, secret.expose_secret());
            }
        }
        // The recovery login key differs from a password login key even
        // when the two secrets were equal.
        let rk = RecoveryKey::generate().unwrap();
        let rlk = LoginKey::derive_from_recovery_key(&rk).unwrap();
        let again = LoginKey::derive_from_recovery_key(&rk).unwrap();
        assert_eq!(rlk.public_key(), again.public_key());
        let as_pw = LoginKey::from_secret(rk.key(), KeyKind::Password).unwrap();
        assert_ne!(rlk.public_key(), as_pw.public_key());
    }

    #[test]
    fn signatures_verify_only_for_their_exact_context() {
        let rk = RecoveryKey::generate().unwrap();
        let key = LoginKey::derive_from_recovery_key(&rk).unwrap();
        let pk = key.public_key();
        let ch = [9u8; CHALLENGE_LEN];
        let sig = key
            .sign_challenge(&ch, Action::Login, "https://a.example", "alice")
            .unwrap();
        let ok = |ch: &[u8; 32], action, origin, account, kind| {
            verify_login(&pk, &sig, ch, action, origin, account, kind).is_ok()
        };
        assert!(ok(
            &ch,
            Action::Login,
            "https://a.example",
            "alice",
            KeyKind::Recovery
        ));
        assert!(!ok(
            &[8; 32],
            Action::Login,
            "https://a.example",
            "alice",
            KeyKind::Recovery
        ));
        assert!(!ok(
            &ch,
            Action::Register,
            "https://a.example",
            "alice",
            KeyKind::Recovery
        ));
        assert!(!ok(
            &ch,
            Action::Login,
            "https://b.example",
            "alice",
            KeyKind::Recovery
        ));
        assert!(!ok(
            &ch,
            Action::Login,
            "https://a.example",
            "alicf",
            KeyKind::Recovery
        ));
        assert!(!ok(
            &ch,
            Action::Login,
            "https://a.example",
            "alice",
            KeyKind::Password
        ));
        let mut bad = sig;
        bad[0] ^= 1;
        assert_eq!(
            verify_login(
                &pk,
                &bad,
                &ch,
                Action::Login,
                "https://a.example",
                "alice",
                KeyKind::Recovery
            ),
            Err(Error::Authentication)
        );
    }

    #[test]
    fn login_message_is_length_prefixed_and_checked() {
        let ch = [1u8; CHALLENGE_LEN];
        let m = login_message(&ch, Action::Login, "o", "a", KeyKind::Password).unwrap();
        let mut want = b"promptvault v1 login\0".to_vec();
        want.extend_from_slice(b"\x05\0\0\0login\x01\0\0\0o\x01\0\0\0a\x08\0\0\0password");
        want.extend_from_slice(&ch);
        assert_eq!(m, want);
        assert!(login_message(&ch, Action::Login, "", "a", KeyKind::Password).is_err());
        assert!(login_message(&ch, Action::Login, "o", "a b", KeyKind::Password).is_err());
        assert!(
            login_message(&ch, Action::Login, "o", &"a".repeat(129), KeyKind::Password).is_err()
        );
    }

    #[test]
    fn debug_prints_no_secret() {
        let rk = RecoveryKey::generate().unwrap();
        let key = LoginKey::derive_from_recovery_key(&rk).unwrap();
        let dbg = format!("{key:?}");
        let seed = seed(rk.key(), KeyKind::Recovery).unwrap();
        assert!(!dbg.contains(&text::encode(&*seed)));
        assert!(dbg.contains(&text::encode(&key.public_key())));
    }
}
