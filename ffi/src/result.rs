//! `pv_result`, emitted from core's one error table
//! (`promptvault::error_code_table!`) by `ffi/tests/emitted.rs`: do not
//! edit by hand. After a change to the table, run `PV_BLESS=1 cargo test
//! -p promptvault-ffi --test emitted` and commit the file (cbindgen then
//! writes the header's enum).

use promptvault::ErrorCode;

/// The result of every call: `PV_RESULT_OK` (0) or an error code.
///
/// The numbers equal the core's `promptvault::ErrorCode` and are never
/// reused. Codes 100 and up describe misuse of the C ABI itself.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum pv_result {
    /// Not an error (used by the C ABI for success).
    Ok = 0,
    /// Wrong password or key, or the data was tampered with (deliberately
    /// opaque: the two cannot be told apart).
    Authentication = 1,
    /// The bytes are not a well-formed record, header, bundle or key.
    Malformed = 2,
    /// The data was written by a newer format version.
    UnsupportedVersion = 3,
    /// The algorithm suite byte names a suite this release does not know.
    UnsupportedSuite = 4,
    /// KDF parameters outside the documented bounds.
    KdfParamsOutOfBounds = 5,
    /// A size or count limit was exceeded.
    LimitExceeded = 6,
    /// A recovery key with a bad format or checksum.
    InvalidRecoveryKey = 7,
    /// An argument was rejected (empty title, bad id, …).
    InvalidInput = 8,
    /// The prompt, version, tag or entry does not exist.
    NotFound = 9,
    /// The record belongs to another vault.
    WrongVault = 10,
    /// The record or header is older than one the caller has already seen.
    Rollback = 11,
    /// Text that is not canonical base64url, hex or JSON.
    Encoding = 12,
    /// A string argument that is not valid UTF-8 (bindings only).
    InvalidUtf8 = 13,
    /// The operating system's random number generator failed.
    Randomness = 14,
    /// A record of a kind that is not accepted here.
    WrongKind = 15,
    /// A record the vault refers to is missing.
    MissingRecord = 16,
    /// The sync server refused a request with a typed refusal (SPEC §12.9);
    /// the message carries its status and code.
    ServerRefused = 17,
    /// The sync server could not be reached, failed (5xx) or answered
    /// outside the protocol.
    Transport = 18,
    /// Every commit of a sync met a conflict with other devices.
    Contention = 19,
    /// The server holds a newer vault header (a password change or a
    /// rotation on another device).
    HeaderChanged = 20,
    /// The sync server broke the sync rules: a hidden, unlisted or
    /// malformed record (a rollback is `ROLLBACK`).
    ServerMisbehaved = 21,
    /// A public identity bundle does not match the fingerprint the user
    /// was given (SPEC §13.2): nothing was shared.
    WrongFingerprint = 22,
    /// A signature (an identity bundle's, or a key delivery's by its
    /// sender) does not verify, or names another signer than the one pinned.
    BadSignature = 23,
    /// The key delivery or space is not addressed to this identity.
    NotAMember = 24,
    /// The space's key was rotated past the generation this member holds
    /// (the member was removed, or the new key has not arrived yet).
    Revoked = 25,
    /// A null pointer was passed where a value is required (C ABI only).
    NullParameter = 100,
    /// A panic was caught at the binding boundary (a bug; please report it).
    Panic = 101,
    /// The caller's output buffer is too small (C ABI only); `*out_len`
    /// holds the size needed.
    BufferTooSmall = 102,
}

impl pv_result {
    /// The C result for a core error code.
    pub fn from_code(code: ErrorCode) -> Self {
        match code {
            ErrorCode::Ok => pv_result::Ok,
            ErrorCode::Authentication => pv_result::Authentication,
            ErrorCode::Malformed => pv_result::Malformed,
            ErrorCode::UnsupportedVersion => pv_result::UnsupportedVersion,
            ErrorCode::UnsupportedSuite => pv_result::UnsupportedSuite,
            ErrorCode::KdfParamsOutOfBounds => pv_result::KdfParamsOutOfBounds,
            ErrorCode::LimitExceeded => pv_result::LimitExceeded,
            ErrorCode::InvalidRecoveryKey => pv_result::InvalidRecoveryKey,
            ErrorCode::InvalidInput => pv_result::InvalidInput,
            ErrorCode::NotFound => pv_result::NotFound,
            ErrorCode::WrongVault => pv_result::WrongVault,
            ErrorCode::Rollback => pv_result::Rollback,
            ErrorCode::Encoding => pv_result::Encoding,
            ErrorCode::InvalidUtf8 => pv_result::InvalidUtf8,
            ErrorCode::Randomness => pv_result::Randomness,
            ErrorCode::WrongKind => pv_result::WrongKind,
            ErrorCode::MissingRecord => pv_result::MissingRecord,
            ErrorCode::ServerRefused => pv_result::ServerRefused,
            ErrorCode::Transport => pv_result::Transport,
            ErrorCode::Contention => pv_result::Contention,
            ErrorCode::HeaderChanged => pv_result::HeaderChanged,
            ErrorCode::ServerMisbehaved => pv_result::ServerMisbehaved,
            ErrorCode::WrongFingerprint => pv_result::WrongFingerprint,
            ErrorCode::BadSignature => pv_result::BadSignature,
            ErrorCode::NotAMember => pv_result::NotAMember,
            ErrorCode::Revoked => pv_result::Revoked,
            ErrorCode::NullParameter => pv_result::NullParameter,
            ErrorCode::Panic => pv_result::Panic,
            ErrorCode::BufferTooSmall => pv_result::BufferTooSmall,
            // Unreachable while this file is current (the test that emits
            // it fails otherwise): `ErrorCode` is non-exhaustive.
            _ => pv_result::Panic,
        }
    }
}
