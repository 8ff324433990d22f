//! The sync protocol (SPEC §12): the messages a client and a server
//! exchange, and the login keys a client signs challenges with.
//!
//! Everything here is sans-IO: values in, values out. The messages,
//! [`LoginParams::from_header`] and [`verify_login`] are keyless and always
//! available (a server uses them). The client's half — `LoginKey`, derived
//! from the password's KEK or the recovery key, and
//! `CommitRequest::from_changeset` — needs the `unlock` feature.

#[cfg(feature = "unlock")]
mod client;
mod login;
mod messages;
mod sharing;

#[cfg(feature = "unlock")]
pub use client::LoginKey;
pub use login::{
    Action, CHALLENGE_LEN, KeyKind, LOGIN_MESSAGE_CONTEXT, LoginParams, MAX_ACCOUNT_LEN,
    MAX_ORIGIN_LEN, PUBLIC_KEY_LEN, SIGNATURE_LEN, check_account, login_message, verify_login,
};
pub use messages::{
    API_PREFIX, ChallengeRequest, ChallengeResponse, Change, CommitRequest, CommitResponse, Delete,
    DeleteAccountRequest, DeleteAccountResponse, ErrorDetail, ErrorResponse, LoginRequest,
    MAX_IDEMPOTENCY_KEY_LEN, PreLoginRequest, PreLoginResponse, PullRequest, PullResponse, Put,
    RegisterRequest, RekeyRequest, SessionResponse, WaitRequest, WaitResponse, decode_fixed,
};
pub use sharing::{
    CreateSpaceRequest, Done, FetchIdentityRequest, IdentityResponse, InboxResponse, Invitation,
    InvitationId, MAX_INBOX, MAX_MEMBERS, MAX_SPACES_PER_ACCOUNT, MemberRequest,
    PublishIdentityRequest, SendInvitationRequest, SpaceInfo, SpaceRequest, SpacesResponse,
};
