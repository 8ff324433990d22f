//! The signed-challenge login (SPEC §12.2), keylessly: the login
//! parameters, the signed message and its verification. A server needs
//! nothing else; the client's signing keys are in `super::client`
//! (`unlock` feature).
//!
//! A client proves it holds the password (or the recovery key) without
//! sending either: both derive an Ed25519 signing key, the server keeps the
//! two public keys, and a login is a signature over a single-use,
//! action- and origin-bound challenge.

use ed25519_dalek::VerifyingKey;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::format::RecordKind;
use crate::kdf::{KdfParams, SALT_LEN};
use crate::key_header::KeyHeader;

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
    /// Erase the account, its vault and every row it owns (re-authentication
    /// for `POST /v1/account/delete`).
    Delete,
    /// Replace the login keys after a password change or a new recovery
    /// key (`POST /v1/account/keys`).
    Rekey,
}

impl Action {
    /// The name used in messages and in the signed login message.
    pub const fn name(self) -> &'static str {
        match self {
            Action::Register => "register",
            Action::Login => "login",
            Action::Delete => "delete",
            Action::Rekey => "rekey",
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
        let d = login_message(&ch, Action::Delete, "o", "a", KeyKind::Recovery).unwrap();
        assert!(d.starts_with(b"promptvault v1 login\0\x06\0\0\0delete"));
        assert_eq!(Action::Delete.name(), "delete");
    }
}
