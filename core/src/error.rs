//! The one error type of the crate and its stable numeric codes.
//!
//! Every failure is an [`Error`]. Each variant maps to an [`ErrorCode`] whose
//! number never changes and is never reused: the WASM binding exposes it as
//! `err.code` and the C ABI returns it as `pv_result`.

use core::fmt;

/// The one table of error codes: for each, its number (never reused), its
/// `ErrorCode` variant with a doc line, its stable name and the message of
/// its class (what went wrong and what to do). Everything else is
/// emitted from it: [`ErrorCode`] here; the WASM binding's JS `ErrorCode`
/// enum and TypeScript `ErrorCodeName` type at compile time; the C ABI's
/// `ffi/src/result.rs` (and through cbindgen the header's `pv_result`) by
/// a test that fails when the committed file is stale.
///
/// `error_code_table!(callback)` expands to
/// `callback! { $( #[doc = ".."] Variant = number, "NAME", "message"; )* }`.
#[doc(hidden)]
#[macro_export]
macro_rules! error_code_table {
    ($callback:ident) => {
        $callback! {
            /// Not an error (used by the C ABI for success).
            Ok = 0, "OK", "success";
            /// Wrong password or key, or the data was tampered with (deliberately
            /// opaque: the two cannot be told apart).
            Authentication = 1, "AUTHENTICATION",
                "wrong password or key, or the data was modified; check the password, or restore the data from a good copy";
            /// The bytes are not a well-formed record, header, bundle or key.
            Malformed = 2, "MALFORMED",
                "the data is not a well-formed promptvault object; it is corrupt or not promptvault data";
            /// The data was written by a newer format version.
            UnsupportedVersion = 3, "UNSUPPORTED_VERSION",
                "the data was written by a newer promptvault; upgrade to read it";
            /// The algorithm suite byte names a suite this release does not know.
            UnsupportedSuite = 4, "UNSUPPORTED_SUITE",
                "the data uses an algorithm suite this release does not know; upgrade to read it";
            /// KDF parameters outside the documented bounds.
            KdfParamsOutOfBounds = 5, "KDF_PARAMS_OUT_OF_BOUNDS",
                "the key-derivation parameters are outside the accepted bounds; the header is hostile or corrupt";
            /// A size or count limit was exceeded.
            LimitExceeded = 6, "LIMIT_EXCEEDED",
                "a size or count limit was exceeded; make the input smaller";
            /// A recovery key with a bad format or checksum.
            InvalidRecoveryKey = 7, "INVALID_RECOVERY_KEY",
                "the recovery key is mistyped (bad characters or checksum); check it against the copy you saved";
            /// An argument was rejected (empty title, bad id, …).
            InvalidInput = 8, "INVALID_INPUT",
                "an argument was rejected; see the message for which one";
            /// The prompt, version, tag or entry does not exist.
            NotFound = 9, "NOT_FOUND", "no such prompt, version or tag";
            /// The record belongs to another vault.
            WrongVault = 10, "WRONG_VAULT", "the record belongs to another vault";
            /// The record or header is older than one the caller has already seen.
            Rollback = 11, "ROLLBACK",
                "the data is older than a revision already seen; the server may be replaying old data";
            /// Text that is not canonical base64url, hex or JSON.
            Encoding = 12, "ENCODING",
                "the text is not in the expected encoding (base64url, hex or JSON)";
            /// A string argument that is not valid UTF-8 (bindings only).
            InvalidUtf8 = 13, "INVALID_UTF8", "a string argument is not valid UTF-8";
            /// The operating system's random number generator failed.
            Randomness = 14, "RANDOMNESS", "the system random number generator failed; retry";
            /// A record of a kind that is not accepted here.
            WrongKind = 15, "WRONG_KIND", "the record is of a kind not accepted here";
            /// A record the vault refers to is missing.
            MissingRecord = 16, "MISSING_RECORD",
                "a record the vault refers to is missing; sync again or restore from a good copy";
            /// The sync server refused a request with a typed refusal (SPEC §12.9);
            /// the message carries its status and code.
            ServerRefused = 17, "SERVER_REFUSED",
                "the server refused the request; see the message for its code (after `unauthorized`, log in again and resend)";
            /// The sync server could not be reached, failed (5xx) or answered
            /// outside the protocol.
            Transport = 18, "TRANSPORT",
                "the server could not be reached or did not answer by the protocol; send the request again later";
            /// Every commit of a sync met a conflict with other devices.
            Contention = 19, "CONTENTION",
                "other devices kept changing the vault during the sync; sync again later";
            /// The server holds a newer vault header (a password change or a
            /// rotation on another device).
            HeaderChanged = 20, "HEADER_CHANGED",
                "the vault's password or keys changed on another device; unlock with the new password, then sync";
            /// The sync server broke the sync rules: a hidden, unlisted or
            /// malformed record (a rollback is `ROLLBACK`).
            ServerMisbehaved = 21, "SERVER_MISBEHAVED",
                "the server served data that breaks the sync rules; nothing was pushed, do not trust this server";
            /// A public identity bundle does not match the fingerprint the user
            /// was given (SPEC §13.2): nothing was shared.
            WrongFingerprint = 22, "WRONG_FINGERPRINT",
                "the account's identity does not match the fingerprint you were given; nothing was shared, compare the fingerprint with its owner again";
            /// A signature (an identity bundle's, or a key delivery's by its
            /// sender) does not verify, or names another signer than the one pinned.
            BadSignature = 23, "BAD_SIGNATURE",
                "a signature does not verify against the identity you pinned; the data was forged or modified, do not use it";
            /// The key delivery or space is not addressed to this identity.
            NotAMember = 24, "NOT_A_MEMBER",
                "you are not a member of this shared space (the key was delivered to someone else)";
            /// The space's key was rotated past the generation this member holds
            /// (the member was removed, or the new key has not arrived yet).
            Revoked = 25, "REVOKED",
                "the shared space has a newer key that was not delivered to you: you were removed from it, or the new key has not arrived yet (sync, then check your inbox)";
            /// A null pointer was passed where a value is required (C ABI only).
            NullParameter = 100, "NULL_PARAMETER", "a required pointer argument was NULL";
            /// A panic was caught at the binding boundary (a bug; please report it).
            Panic = 101, "PANIC", "internal error (a caught panic); please report it";
            /// The caller's output buffer is too small (C ABI only); `*out_len`
            /// holds the size needed.
            BufferTooSmall = 102, "BUFFER_TOO_SMALL",
                "the output buffer is too small; retry with the size returned";
        }
    };
}

/// Emits [`ErrorCode`] and its tables from [`error_code_table!`].
macro_rules! define_error_code {
    ($( $(#[doc = $doc:literal])* $variant:ident = $number:literal, $name:literal, $message:literal; )*) => {
        /// Stable numeric error codes shared by the Rust, JavaScript and C APIs
        /// (emitted from [`error_code_table!`], the one table).
        ///
        /// Numbers are never reused. Codes from 100 up are only produced by the
        /// bindings (they describe misuse of the binding itself), but they are
        /// reserved here so that every language sees one table.
        #[repr(u32)]
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum ErrorCode {
            $( $(#[doc = $doc])* $variant = $number, )*
        }

        impl ErrorCode {
            /// Every code, in numeric order (for tables in bindings and docs).
            pub const ALL: [ErrorCode; [$($name),*].len()] = [$(ErrorCode::$variant),*];

            /// A stable, machine-friendly name (`"AUTHENTICATION"`, …).
            #[must_use]
            pub const fn name(self) -> &'static str {
                match self {
                    $( ErrorCode::$variant => $name, )*
                }
            }

            /// A generic human message for the code, with what to do about it.
            #[must_use]
            pub const fn message(self) -> &'static str {
                match self {
                    $( ErrorCode::$variant => $message, )*
                }
            }
        }
    };
}

error_code_table!(define_error_code);

impl ErrorCode {
    /// The numeric value of the code.
    #[must_use]
    pub const fn as_u32(self) -> u32 {
        self as u32
    }

    /// The code with this number, if any.
    #[must_use]
    pub fn from_u32(n: u32) -> Option<Self> {
        Self::ALL.iter().copied().find(|c| c.as_u32() == n)
    }
}

/// Everything that can go wrong in `promptvault`.
///
/// # Security
///
/// [`Error::Authentication`] is deliberately opaque: a wrong password, a wrong
/// recovery key, a record opened under the wrong key and a tampered record all
/// produce exactly this variant, with no detail, so an attacker learns nothing
/// from which check failed.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// Wrong password or key, or the data was modified.
    Authentication,
    /// The bytes are not a well-formed object; `what` names the first check that failed.
    Malformed {
        /// The check that failed.
        what: &'static str,
    },
    /// Written by a newer format version than this release reads.
    UnsupportedVersion {
        /// The version byte found.
        found: u8,
    },
    /// An unknown algorithm suite.
    UnsupportedSuite {
        /// The suite byte found.
        found: u8,
    },
    /// KDF parameters outside the documented bounds (refused before any work).
    KdfParamsOutOfBounds {
        /// Which parameter.
        param: &'static str,
        /// The value asked for.
        value: u64,
        /// Smallest accepted value.
        min: u64,
        /// Largest accepted value.
        max: u64,
    },
    /// A size or count limit was exceeded.
    LimitExceeded {
        /// What was limited.
        what: &'static str,
        /// The limit.
        limit: u64,
        /// The value found (may be a lower bound).
        actual: u64,
    },
    /// A mistyped recovery key.
    InvalidRecoveryKey,
    /// An argument was rejected.
    InvalidInput {
        /// Why.
        reason: &'static str,
    },
    /// No such prompt, version or tag.
    NotFound {
        /// What was looked for.
        what: &'static str,
    },
    /// The record belongs to another vault.
    WrongVault,
    /// Older than a revision the caller has seen.
    Rollback {
        /// The revision found.
        found: u64,
        /// The revision already seen.
        seen: u64,
    },
    /// Text not in the expected encoding.
    Encoding {
        /// Which encoding.
        what: &'static str,
    },
    /// A string argument that is not UTF-8 (bindings only).
    InvalidUtf8,
    /// The system RNG failed.
    Randomness,
    /// A record of an unexpected kind.
    WrongKind {
        /// The kind byte found.
        found: u8,
    },
    /// A record the vault refers to is missing.
    MissingRecord {
        /// Which kind of record.
        what: &'static str,
    },
    /// A public identity bundle does not match the expected fingerprint.
    WrongFingerprint,
    /// A signature does not verify (or is by another signer than the pinned one).
    BadSignature {
        /// What was signed.
        what: &'static str,
    },
    /// The delivery or space is not addressed to this identity.
    NotAMember,
    /// The space is at a key generation this member was not given.
    Revoked {
        /// The newest space-key generation this member holds.
        held: u32,
        /// The space's current generation.
        current: u32,
    },
}

impl Error {
    /// The stable code of this error.
    #[must_use]
    pub const fn code(&self) -> ErrorCode {
        match self {
            Error::Authentication => ErrorCode::Authentication,
            Error::Malformed { .. } => ErrorCode::Malformed,
            Error::UnsupportedVersion { .. } => ErrorCode::UnsupportedVersion,
            Error::UnsupportedSuite { .. } => ErrorCode::UnsupportedSuite,
            Error::KdfParamsOutOfBounds { .. } => ErrorCode::KdfParamsOutOfBounds,
            Error::LimitExceeded { .. } => ErrorCode::LimitExceeded,
            Error::InvalidRecoveryKey => ErrorCode::InvalidRecoveryKey,
            Error::InvalidInput { .. } => ErrorCode::InvalidInput,
            Error::NotFound { .. } => ErrorCode::NotFound,
            Error::WrongVault => ErrorCode::WrongVault,
            Error::Rollback { .. } => ErrorCode::Rollback,
            Error::Encoding { .. } => ErrorCode::Encoding,
            Error::InvalidUtf8 => ErrorCode::InvalidUtf8,
            Error::Randomness => ErrorCode::Randomness,
            Error::WrongKind { .. } => ErrorCode::WrongKind,
            Error::MissingRecord { .. } => ErrorCode::MissingRecord,
            Error::WrongFingerprint => ErrorCode::WrongFingerprint,
            Error::BadSignature { .. } => ErrorCode::BadSignature,
            Error::NotAMember => ErrorCode::NotAMember,
            Error::Revoked { .. } => ErrorCode::Revoked,
        }
    }

    pub(crate) const fn malformed(what: &'static str) -> Self {
        Error::Malformed { what }
    }

    pub(crate) const fn invalid(reason: &'static str) -> Self {
        Error::InvalidInput { reason }
    }

    pub(crate) fn too_large(what: &'static str, limit: usize, actual: usize) -> Self {
        Error::LimitExceeded {
            what,
            limit: limit as u64,
            actual: actual as u64,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Malformed { what } => {
                write!(f, "malformed data ({what}): {}", self.code().message())
            }
            Error::UnsupportedVersion { found } => {
                write!(f, "format version {found}: {}", self.code().message())
            }
            Error::UnsupportedSuite { found } => {
                write!(f, "suite {found}: {}", self.code().message())
            }
            Error::KdfParamsOutOfBounds {
                param,
                value,
                min,
                max,
            } => write!(
                f,
                "KDF parameter {param} = {value} is outside {min}..={max}: {}",
                self.code().message()
            ),
            Error::LimitExceeded {
                what,
                limit,
                actual,
            } => {
                write!(
                    f,
                    "{what} is {actual}, over the limit of {limit}; make it smaller"
                )
            }
            Error::InvalidInput { reason } => write!(f, "invalid input: {reason}"),
            Error::NotFound { what } => write!(f, "{what} not found"),
            Error::Rollback { found, seen } => write!(
                f,
                "revision {found} is older than revision {seen} already seen: {}",
                self.code().message()
            ),
            Error::Encoding { what } => write!(f, "invalid {what}: {}", self.code().message()),
            Error::WrongKind { found } => {
                write!(f, "record kind {found}: {}", self.code().message())
            }
            Error::MissingRecord { what } => write!(f, "missing {what}: {}", self.code().message()),
            Error::BadSignature { what } => {
                write!(f, "bad signature on the {what}: {}", self.code().message())
            }
            Error::Revoked { held, current } => write!(
                f,
                "you hold the key of generation {held}, the space is at generation {current}: {}",
                self.code().message()
            ),
            Error::WrongFingerprint
            | Error::NotAMember
            | Error::Authentication
            | Error::InvalidRecoveryKey
            | Error::WrongVault
            | Error::InvalidUtf8
            | Error::Randomness => f.write_str(self.code().message()),
        }
    }
}

impl Error {
    /// The text of this error for JavaScript and JSON callers: as
    /// [`Display`](fmt::Display), with every parameter and field name as it
    /// is spelt on the wire (camelCase: `mCostKib`, not `m_cost_kib`) and
    /// ranges in words, never in Rust syntax. The WASM binding throws this
    /// text; JSON forms of errors carry it.
    #[must_use]
    pub fn js_message(&self) -> String {
        match self {
            Error::KdfParamsOutOfBounds {
                param,
                value,
                min,
                max,
            } => format!(
                "KDF parameter {} is {value}, outside the accepted range {min} to {max}: {}",
                camel_case_words(param),
                self.code().message()
            ),
            other => camel_case_words(&other.to_string()),
        }
    }
}

/// Rewrites every snake_case word (lowercase, with at least one `_`) of
/// `text` in camelCase; everything else is kept as it is.
fn camel_case_words(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        let snake = word.contains('_')
            && !word.starts_with('_')
            && !word.ends_with('_')
            && word
                .chars()
                .all(|c| c == '_' || c.is_ascii_lowercase() || c.is_ascii_digit());
        if snake {
            let mut upper = false;
            for c in word.chars() {
                if c == '_' {
                    upper = true;
                } else if upper {
                    out.push(c.to_ascii_uppercase());
                    upper = false;
                } else {
                    out.push(c);
                }
            }
        } else {
            out.push_str(word);
        }
        word.clear();
    };
    for c in text.chars() {
        if c.is_alphanumeric() || c == '_' {
            word.push(c);
        } else {
            flush(&mut word, &mut out);
            out.push(c);
        }
    }
    flush(&mut word, &mut out);
    out
}

impl std::error::Error for Error {}

/// Serialises as `{"code", "message"}`: the stable number and the
/// [`Error::js_message`] text, as the WASM binding's errors carry them.
impl serde::Serialize for Error {
    fn serialize<S: serde::Serializer>(&self, s: S) -> core::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct as _;
        let mut st = s.serialize_struct("Error", 2)?;
        st.serialize_field("code", &self.code().as_u32())?;
        st.serialize_field("message", &self.js_message())?;
        st.end()
    }
}

/// Shorthand for `Result<T, promptvault::Error>`.
pub type Result<T, E = Error> = core::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_round_trip() {
        let mut seen = std::collections::BTreeSet::new();
        for c in ErrorCode::ALL {
            assert!(seen.insert(c.as_u32()), "duplicate code {c:?}");
            assert_eq!(ErrorCode::from_u32(c.as_u32()), Some(c));
            assert!(!c.name().is_empty() && !c.message().is_empty());
        }
        assert_eq!(ErrorCode::from_u32(99), None);
    }

    #[test]
    fn js_messages_use_wire_names_and_no_rust_syntax() {
        let e = Error::KdfParamsOutOfBounds {
            param: "m_cost_kib",
            value: 1000,
            min: 19456,
            max: 1_048_576,
        };
        let js = e.js_message();
        assert!(js.contains("mCostKib is 1000"), "{js}");
        assert!(js.contains("19456 to 1048576"), "{js}");
        assert!(!js.contains("m_cost_kib") && !js.contains("..="), "{js}");
        assert!(
            e.to_string()
                .contains("m_cost_kib = 1000 is outside 19456..=1048576")
        );
        assert_eq!(
            camel_case_words("bad key_gen, not KDF_PARAMS or _x"),
            "bad keyGen, not KDF_PARAMS or _x"
        );
    }

    #[test]
    fn authentication_error_says_nothing_specific() {
        let text = Error::Authentication.to_string();
        assert!(text.contains("wrong password or key, or the data was modified"));
    }
}
