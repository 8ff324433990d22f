//! The sync protocol's messages (SPEC §12): plain serde values, JSON on the
//! wire, binary fields as unpadded base64url, records in their canonical
//! text form (SPEC §5).

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::format::text;
use crate::ids::VaultId;
use crate::kdf::{KdfParams, SALT_LEN};

use super::login::{Action, KeyKind, LoginParams};

/// Path prefix of every endpoint of this protocol version.
pub const API_PREFIX: &str = "/v1";

/// Decodes base64url text of exactly `N` bytes.
///
/// # Errors
///
/// [`Error::Encoding`] for text that is not canonical base64url;
/// [`Error::InvalidInput`] for another length.
pub fn decode_fixed<const N: usize>(text_form: &str) -> Result<[u8; N]> {
    let bytes = text::decode(text_form)?;
    <[u8; N]>::try_from(bytes.as_slice()).map_err(|_| Error::invalid("wrong length"))
}

/// `POST /v1/prelogin`: ask for an account's KDF salt and parameters.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PreLoginRequest {
    /// The account name.
    pub account: String,
}

/// The answer to a pre-login. For an unknown account it is a deterministic
/// fake, indistinguishable from a real one with default parameters.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PreLoginResponse {
    /// The KDF salt (16 bytes, base64url).
    pub salt: String,
    /// The KDF parameters.
    pub kdf: KdfParams,
}

impl PreLoginResponse {
    /// Builds the answer from login parameters.
    pub fn new(params: &LoginParams) -> Self {
        PreLoginResponse {
            salt: text::encode(&params.salt),
            kdf: params.kdf,
        }
    }

    /// The parameters, checked against the KDF bounds before any work.
    ///
    /// # Errors
    ///
    /// [`Error::Encoding`] / [`Error::InvalidInput`] for a bad salt;
    /// [`Error::KdfParamsOutOfBounds`] for parameters outside SPEC §1.1.
    pub fn params(&self) -> Result<LoginParams> {
        let salt = decode_fixed::<SALT_LEN>(&self.salt)?;
        Ok(LoginParams {
            salt,
            kdf: self.kdf,
        })
    }
}

/// `POST /v1/challenge`: ask for a fresh single-use challenge.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ChallengeRequest {
    /// The account name.
    pub account: String,
    /// What the signed challenge will authorise.
    pub action: Action,
}

/// A challenge: 32 random bytes, valid once, for a short time, for the
/// account and action it was asked for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ChallengeResponse {
    /// The challenge (32 bytes, base64url).
    pub challenge: String,
    /// The origin the server expects in the signed message.
    pub origin: String,
    /// Seconds until it expires.
    pub expires_in: u64,
}

/// `POST /v1/login`: a signed challenge for [`Action::Login`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LoginRequest {
    /// The account name.
    pub account: String,
    /// Which login key signed.
    pub key: KeyKind,
    /// The challenge, as received.
    pub challenge: String,
    /// The Ed25519 signature (64 bytes, base64url) over SPEC §12.2's message.
    pub signature: String,
}

/// `POST /v1/account/delete` (with the session's bearer token): erase the
/// account, its vault and every row the server holds for it. A fresh
/// challenge for [`Action::Delete`], signed by the password or the recovery
/// login key, re-authenticates the request: a stolen session alone cannot
/// erase an account.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DeleteAccountRequest {
    /// The account name (the session's account).
    pub account: String,
    /// Which login key signed.
    pub key: KeyKind,
    /// A challenge received for [`Action::Delete`].
    pub challenge: String,
    /// The Ed25519 signature (64 bytes, base64url) over SPEC §12.2's message.
    pub signature: String,
}

/// The answer to an account deletion: everything is gone.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DeleteAccountResponse {
    /// The erased vault.
    pub vault_id: VaultId,
    /// How many record rows (records and tombstones) were erased.
    pub records: u64,
}

/// `POST /v1/account/keys` (with the session's bearer token): replace the
/// login keys after the vault header changed. `passwordKey` is the key
/// derived from the password and the salt of the vault header the server
/// now holds; it may differ from the stored one only when that header's
/// salt or KDF parameters differ from the account's (a password change
/// was pushed). Every key given signs a fresh [`Action::Rekey`]
/// challenge (proof of possession). The answer is the new pre-login.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RekeyRequest {
    /// The account name (the session's account).
    pub account: String,
    /// A challenge received for [`Action::Rekey`].
    pub challenge: String,
    /// The password login public key (32 bytes, base64url).
    pub password_key: String,
    /// Its signature over the challenge.
    pub password_signature: String,
    /// A new recovery login public key, if the recovery key changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovery_key: Option<String>,
    /// Its signature over the challenge (exactly when `recovery_key` is).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovery_signature: Option<String>,
}

/// `POST /v1/register`: create an account and its vault in one step.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RegisterRequest {
    /// The account name.
    pub account: String,
    /// A challenge received for [`Action::Register`].
    pub challenge: String,
    /// The password login public key (32 bytes, base64url).
    pub password_key: String,
    /// The recovery login public key (32 bytes, base64url). Optional: a
    /// client that does not hold the recovery key when it registers (the
    /// CLI's first sync asks only for the password) registers without it,
    /// and then cannot log in with the recovery key (SPEC §12.3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovery_key: Option<String>,
    /// The password login key's signature over the challenge.
    pub password_signature: String,
    /// The recovery login key's signature over the challenge (present
    /// exactly when `recovery_key` is).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovery_signature: Option<String>,
    /// The vault-header record (text form).
    pub header: String,
    /// The vault's other records (text form); may be empty.
    pub records: Vec<String>,
}

/// A session, the answer to a login or a registration.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SessionResponse {
    /// The bearer token (32 bytes, base64url). Secret.
    pub token: String,
    /// Seconds until it expires.
    pub expires_in: u64,
    /// The account's vault.
    pub vault_id: VaultId,
    /// The vault's current cursor.
    pub cursor: u64,
}

/// `POST /v1/pull`: changes after a cursor.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PullRequest {
    /// The cursor of the last change the client has applied (0 = none).
    pub after: u64,
    /// The most record bytes the client wants in one page (the server
    /// applies its own cap too; a page always holds at least one change).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_bytes: Option<u64>,
}

/// One row of a vault: the record stored under `key` at `seq`, or a
/// tombstone (`record` absent) when it was deleted at `seq`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Change {
    /// The storage key (SPEC §5).
    pub key: String,
    /// The cursor value of the commit that wrote this row.
    pub seq: u64,
    /// The record's text form; absent for a tombstone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record: Option<String>,
    /// For a tombstone of a kind with revisions (metadata, header,
    /// checkpoint): the revision of the record it deleted. A record put
    /// under that key again must be above it (SPEC §12.6), so revisions
    /// under a key never go down, not even across a deletion.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<u64>,
}

/// The answer to a pull.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "kebab-case")]
pub enum PullResponse {
    /// Rows written after the cursor, in cursor order.
    #[serde(rename_all = "camelCase")]
    Changes {
        /// The rows.
        changes: Vec<Change>,
        /// The cursor to send next (the last row's `seq`, or `after`).
        cursor: u64,
        /// Whether more rows follow.
        more: bool,
    },
    /// The cursor is older than the deletions the server still keeps: drop
    /// the cursor and pull again from 0, then merge everything.
    #[serde(rename_all = "camelCase")]
    StartOver {
        /// The oldest cursor the server can still continue from.
        oldest: u64,
    },
}

/// One put of a commit.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Put {
    /// The `seq` of the row the client last saw under this record's
    /// storage key; 0 if it saw none.
    pub seen: u64,
    /// The record (text form); its storage key comes from its header.
    pub record: String,
}

/// One delete of a commit.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Delete {
    /// The storage key.
    pub key: String,
    /// The `seq` of the row the client last saw under it.
    pub seen: u64,
}

/// Longest idempotency key, in characters.
pub const MAX_IDEMPOTENCY_KEY_LEN: usize = 64;

/// `POST /v1/commit`: apply puts and deletes atomically, if every `seen`
/// still matches.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CommitRequest {
    /// A client-chosen unique key (16 to 64 characters of base64url
    /// alphabet); retrying the same request with the same key is answered
    /// with the first answer.
    pub idempotency_key: String,
    /// Records to store.
    #[serde(default)]
    pub puts: Vec<Put>,
    /// Keys to delete.
    #[serde(default)]
    pub deletes: Vec<Delete>,
}

/// The answer to a commit.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "kebab-case")]
pub enum CommitResponse {
    /// Applied whole; `cursor` is the commit's cursor value, which is the
    /// `seq` of every row it wrote.
    #[serde(rename_all = "camelCase")]
    Accepted {
        /// The commit's cursor.
        cursor: u64,
    },
    /// Nothing applied: some `seen` did not match. `rows` holds the
    /// current row (or tombstone) of every mismatched key; a key with no
    /// row at all appears with `seq` 0 and no record.
    #[serde(rename_all = "camelCase")]
    Conflict {
        /// The current rows of the mismatched keys.
        rows: Vec<Change>,
    },
}

/// `POST /v1/wait`: long-poll until the vault's cursor passes `after`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WaitRequest {
    /// Return as soon as the cursor is greater than this.
    pub after: u64,
    /// How long to wait at most, in milliseconds (the server caps it).
    pub timeout_ms: u64,
}

/// The answer to a wait.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WaitResponse {
    /// The vault's cursor now.
    pub cursor: u64,
    /// Whether it is greater than `after` (false: timed out).
    pub changed: bool,
}

/// Every refusal's body: `{"error": {"code": "...", "message": "..."}}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ErrorResponse {
    /// The refusal.
    pub error: ErrorDetail,
}

/// A typed refusal: a stable code (SPEC §12.9) and a human message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ErrorDetail {
    /// The stable code, e.g. `"wrong_vault"`.
    pub code: String,
    /// What went wrong and what to do.
    pub message: String,
}

impl PreLoginRequest {
    /// Where it is sent (`POST`).
    pub const PATH: &'static str = "/v1/prelogin";
}

impl ChallengeRequest {
    /// Where it is sent (`POST`).
    pub const PATH: &'static str = "/v1/challenge";
}

impl LoginRequest {
    /// Where it is sent (`POST`).
    pub const PATH: &'static str = "/v1/login";
}

impl RegisterRequest {
    /// Where it is sent (`POST`).
    pub const PATH: &'static str = "/v1/register";
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn tagged_answers_have_the_documented_shape() {
        let a = serde_json::to_string(&CommitResponse::Accepted { cursor: 7 }).unwrap();
        assert_eq!(a, r#"{"status":"accepted","cursor":7}"#);
        let s = serde_json::to_string(&PullResponse::StartOver { oldest: 3 }).unwrap();
        assert_eq!(s, r#"{"status":"start-over","oldest":3}"#);
        let c = serde_json::to_string(&PullResponse::Changes {
            changes: vec![Change {
                revision: None,
                key: "m.00".into(),
                seq: 2,
                record: None,
            }],
            cursor: 2,
            more: false,
        })
        .unwrap();
        assert_eq!(
            c,
            r#"{"status":"changes","changes":[{"key":"m.00","seq":2}],"cursor":2,"more":false}"#
        );
        let l: LoginRequest = serde_json::from_str(
            r#"{"account":"a","key":"recovery","challenge":"AA","signature":"AA"}"#,
        )
        .unwrap();
        assert_eq!(l.key, KeyKind::Recovery);
        let d: DeleteAccountRequest = serde_json::from_str(
            r#"{"account":"a","key":"password","challenge":"AA","signature":"AA"}"#,
        )
        .unwrap();
        assert_eq!(d.key, KeyKind::Password);
        let c: ChallengeRequest =
            serde_json::from_str(r#"{"account":"a","action":"delete"}"#).unwrap();
        assert_eq!(c.action, Action::Delete);
        assert!(
            serde_json::from_str::<PullRequest>(r#"{"after":1,"extra":true}"#).is_err(),
            "unknown fields are refused"
        );
    }

    #[test]
    fn prelogin_params_are_bounds_checked() {
        let ok = PreLoginResponse::new(&LoginParams {
            salt: [3; SALT_LEN],
            kdf: KdfParams::DEFAULT,
        });
        assert_eq!(ok.params().unwrap().salt, [3; SALT_LEN]);
        // The one `KdfParams` type checks its bounds while it deserialises.
        let mut bad = serde_json::to_value(&ok).unwrap();
        bad["kdf"]["mCostKib"] = (KdfParams::MAX_M_COST_KIB + 1).into();
        assert!(serde_json::from_value::<PreLoginResponse>(bad).is_err());
        let mut short = ok;
        short.salt = text::encode(&[1; 15]);
        assert!(short.params().is_err());
    }
}
