//! The sharing half of the protocol (SPEC §12.12): published identity
//! bundles, spaces and their members, and the invitation inbox.
//!
//! The server checks what it can keylessly — a bundle's self-signature
//! and account, a delivery's structure, space and signature against the
//! published bundles — but cannot know who made a bundle: a client pins
//! its fingerprint and verifies a delivery against the sender's pinned
//! bundle (SPEC §13). What the server enforces is access: only a space's
//! members read or write it, only its owner changes its members, and only
//! the recipient reads an invitation.

use serde::{Deserialize, Serialize};

use crate::ids::VaultId;

/// Most invitations one account's inbox holds; more are refused until it
/// accepts or deletes some.
pub const MAX_INBOX: usize = 1_000;

/// Most spaces one account owns.
pub const MAX_SPACES_PER_ACCOUNT: usize = 1_000;

/// Most members of one space, the owner included.
pub const MAX_MEMBERS: usize = 256;

/// `POST /v1/identity/publish`: publish (or replace) the session
/// account's public identity bundle.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PublishIdentityRequest {
    /// The bundle (`PublicBundle`), base64url.
    pub bundle: String,
}

/// `POST /v1/identity/fetch`: another account's published bundle.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FetchIdentityRequest {
    /// The account whose bundle to fetch.
    pub account: String,
}

/// The answer to an identity fetch (or publish).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IdentityResponse {
    /// The account.
    pub account: String,
    /// Its bundle, base64url, as it was published.
    pub bundle: String,
}

/// `POST /v1/spaces/create`: a new, empty space owned by the session's
/// account, which becomes its first member.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateSpaceRequest {
    /// The space's vault id, chosen (randomly) by the client.
    pub space: VaultId,
}

/// A request naming one space.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SpaceRequest {
    /// The space.
    pub space: VaultId,
}

/// `POST /v1/spaces/members/add` and `/remove`: the owner adds or removes
/// a member. A member may also remove itself (leave).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MemberRequest {
    /// The space.
    pub space: VaultId,
    /// The account to add or remove.
    pub account: String,
}

/// One space the session's account belongs to, with its members.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SpaceInfo {
    /// The space.
    pub space: VaultId,
    /// Its owner.
    pub owner: String,
    /// Every member, the owner included, sorted.
    pub members: Vec<String>,
    /// The space's cursor.
    pub cursor: u64,
}

/// `POST /v1/spaces/list`: the spaces of the session's account.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SpacesResponse {
    /// The spaces, sorted by id.
    pub spaces: Vec<SpaceInfo>,
}

/// `POST /v1/inbox/send`: leave an invitation (a key-delivery record) for
/// a member of a space the sender belongs to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SendInvitationRequest {
    /// The recipient account (already a member of `space`).
    pub to: String,
    /// The space the delivered key opens.
    pub space: VaultId,
    /// The key-delivery record (`KeyDelivery`), base64url.
    pub delivery: String,
}

/// The id the server gave an invitation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct InvitationId {
    /// 32 hex digits.
    pub id: String,
}

/// One invitation in an inbox.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Invitation {
    /// The id to delete it with.
    pub id: String,
    /// The sending account, as the server authenticated it.
    pub from: String,
    /// The space.
    pub space: VaultId,
    /// The delivery, base64url.
    pub delivery: String,
    /// When the server received it (Unix seconds).
    pub created_at: u64,
}

/// `POST /v1/inbox`: the session account's invitations, oldest first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct InboxResponse {
    /// The invitations.
    pub invitations: Vec<Invitation>,
}

/// An empty success answer: `{}`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Done {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_camel_case_and_refuse_unknown_fields() {
        let space: VaultId = "00112233445566778899aabbccddeeff".parse().unwrap();
        let req = SendInvitationRequest {
            to: "bob".into(),
            space,
            delivery: "AAAA".into(),
        };
        let json = serde_json::to_string(&req).unwrap();
        assert_eq!(
            json,
            r#"{"to":"bob","space":"00112233445566778899aabbccddeeff","delivery":"AAAA"}"#
        );
        assert_eq!(
            serde_json::from_str::<SendInvitationRequest>(&json).unwrap(),
            req
        );
        assert!(
            serde_json::from_str::<MemberRequest>(
                r#"{"space":"00112233445566778899aabbccddeeff","account":"b","x":1}"#
            )
            .is_err()
        );
        assert!(serde_json::from_str::<Done>(r#"{"a":1}"#).is_err());
        assert_eq!(serde_json::to_string(&Done {}).unwrap(), "{}");
    }
}
