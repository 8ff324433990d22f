//! The client's half of the sync protocol (`unlock` feature): the login
//! keys that sign challenges, derived from the password's KEK or the
//! recovery key, and commits built from a vault's changesets.
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
use ed25519_dalek::{Signer as _, SigningKey};
use zeroize::Zeroizing;

use super::login::{
    Action, CHALLENGE_LEN, KeyKind, LoginParams, PUBLIC_KEY_LEN, SIGNATURE_LEN, login_message,
};
use super::messages::{
    ChallengeResponse, CommitRequest, Delete, LoginRequest, Put, RegisterRequest, decode_fixed,
};
use crate::argon::{self, Password};
use crate::error::{Error, Result};
use crate::format::text;
use crate::hazmat::Key;
use crate::record::SealedRecord;
use crate::recovery::RecoveryKey;
use crate::vault::Changeset;

/// Label of the login-key seed derivation.
const LOGIN_LABEL: &[u8] = b"promptvault v1 login key";

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
        let kek = argon::derive_kek(password, &params.salt, params.kdf)?;
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

    /// The body of `POST /v1/login` (SPEC §12.3): the server's answer to a
    /// `login` challenge, signed for `origin` (`scheme://host[:port]`, the
    /// server as this client reaches it — not the answer's informative
    /// `origin`) and `account`.
    ///
    /// # Errors
    ///
    /// [`Error::Encoding`] / [`Error::InvalidInput`] for a challenge that
    /// is not 32 bytes of base64url; as [`LoginKey::sign_challenge`].
    pub fn login_request(
        &self,
        challenge: &ChallengeResponse,
        origin: &str,
        account: &str,
    ) -> Result<LoginRequest> {
        let bytes = decode_fixed::<CHALLENGE_LEN>(&challenge.challenge)?;
        let signature = self.sign_challenge(&bytes, Action::Login, origin, account)?;
        Ok(LoginRequest {
            account: account.to_owned(),
            key: self.kind,
            challenge: challenge.challenge.clone(),
            signature: text::encode(&signature),
        })
    }

    /// The body of `POST /v1/register` (SPEC §12.3) for the vault of
    /// `header` with this password login key and no recovery key (its
    /// other records follow by sync): a `register` challenge signed for
    /// `origin` and `account`.
    ///
    /// # Errors
    ///
    /// As [`LoginKey::login_request`]; [`Error::InvalidInput`] for a
    /// recovery login key (registration names the password key) or a
    /// record that is not a vault header.
    pub fn register_request(
        &self,
        challenge: &ChallengeResponse,
        origin: &str,
        account: &str,
        header: &SealedRecord,
    ) -> Result<RegisterRequest> {
        if self.kind != KeyKind::Password {
            return Err(Error::invalid("registration needs the password login key"));
        }
        if header.kind() != crate::format::RecordKind::VaultHeader {
            return Err(Error::invalid("registration needs the vault-header record"));
        }
        let bytes = decode_fixed::<CHALLENGE_LEN>(&challenge.challenge)?;
        let signature = self.sign_challenge(&bytes, Action::Register, origin, account)?;
        Ok(RegisterRequest {
            account: account.to_owned(),
            challenge: challenge.challenge.clone(),
            password_key: text::encode(&self.public_key()),
            recovery_key: None,
            password_signature: text::encode(&signature),
            recovery_signature: None,
            header: header.to_text(),
            records: Vec::new(),
        })
    }
}

impl CommitRequest {
    /// Builds a commit from a core changeset; `seen` gives the `seq` the
    /// client last saw for a storage key (0 for none). Needs the `unlock`
    /// feature, like [`Changeset`].
    pub fn from_changeset(
        idempotency_key: String,
        changes: &Changeset,
        mut seen: impl FnMut(&str) -> u64,
    ) -> Self {
        let puts = changes
            .header
            .iter()
            .chain(changes.puts.iter())
            .map(|r| Put {
                seen: seen(&r.storage_key()),
                record: r.to_text(),
            })
            .collect();
        let deletes = changes
            .deletes
            .iter()
            .map(|k| Delete {
                key: k.clone(),
                seen: seen(k),
            })
            .collect();
        CommitRequest {
            idempotency_key,
            puts,
            deletes,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::kdf::{KdfParams, SALT_LEN};
    use crate::protocol::verify_login;

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
    fn login_and_register_bodies_are_signed_for_their_action() {
        let pw = Password::new("correct horse").unwrap();
        let mut created = crate::Vault::create(&pw, fast()).unwrap();
        let header = created.vault.header_record();
        let params = LoginParams::from_header(header.as_bytes()).unwrap();
        let key = LoginKey::derive_from_password(&pw, &params).unwrap();
        let ch = ChallengeResponse {
            challenge: text::encode(&[5u8; CHALLENGE_LEN]),
            origin: "http://informative".into(),
            expires_in: 60,
        };
        let check = |sig: &str, action| {
            let sig = decode_fixed::<SIGNATURE_LEN>(sig).unwrap();
            verify_login(
                &key.public_key(),
                &sig,
                &[5; CHALLENGE_LEN],
                action,
                "http://o",
                "alice",
                KeyKind::Password,
            )
        };
        let login = key.login_request(&ch, "http://o", "alice").unwrap();
        assert_eq!(login.account, "alice");
        assert_eq!(login.key, KeyKind::Password);
        assert_eq!(login.challenge, ch.challenge);
        assert!(check(&login.signature, Action::Login).is_ok());
        assert!(check(&login.signature, Action::Register).is_err());

        let reg = key
            .register_request(&ch, "http://o", "alice", &header)
            .unwrap();
        assert!(check(&reg.password_signature, Action::Register).is_ok());
        assert_eq!(reg.password_key, text::encode(&key.public_key()));
        assert_eq!(reg.header, header.to_text());
        assert!(reg.recovery_key.is_none() && reg.recovery_signature.is_none());
        assert!(reg.records.is_empty());

        // Refusals: a bad challenge, a record that is not a header, a
        // recovery key, an empty origin.
        let bad = ChallengeResponse {
            challenge: "AAAA".into(),
            ..ch.clone()
        };
        assert!(key.login_request(&bad, "http://o", "alice").is_err());
        let (_, changes) = created
            .vault
            .create_prompt(
                &crate::Draft {
                    title: "t".into(),
                    body: "b".into(),
                    ..Default::default()
                },
                &[],
                false,
                crate::Timestamp(1),
            )
            .unwrap();
        let not_header = changes.puts.first().unwrap();
        assert_eq!(
            key.register_request(&ch, "http://o", "alice", not_header)
                .unwrap_err()
                .code(),
            crate::ErrorCode::InvalidInput
        );
        let rk = LoginKey::derive_from_recovery_key(&created.recovery_key).unwrap();
        assert!(
            rk.register_request(&ch, "http://o", "alice", &header)
                .is_err()
        );
        assert!(key.login_request(&ch, "", "alice").is_err());
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
