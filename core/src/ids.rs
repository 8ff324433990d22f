//! Random 128-bit identifiers and caller-supplied timestamps.
//!
//! Ids are public routing data (they appear in cleartext record headers);
//! they carry no meaning and are drawn at random, so two devices never
//! collide. Their text form is 32 lowercase hex digits.

use core::fmt;
use core::str::FromStr;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{Error, Result};
use crate::rng;

/// Length of every id in bytes.
pub const ID_LEN: usize = 16;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name([u8; ID_LEN]);

        impl $name {
            /// Draws a fresh random id.
            ///
            /// # Errors
            ///
            /// [`Error::Randomness`] if the OS generator fails.
            pub fn generate() -> Result<Self> {
                rng::array().map($name)
            }

            /// Wraps raw id bytes.
            #[must_use]
            pub const fn from_bytes(bytes: [u8; ID_LEN]) -> Self {
                $name(bytes)
            }

            /// The raw id bytes.
            #[must_use]
            pub const fn as_bytes(&self) -> &[u8; ID_LEN] {
                &self.0
            }

            /// The text form: 32 lowercase hex digits.
            #[must_use]
            pub fn to_hex(&self) -> String {
                hex_encode(&self.0)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.to_hex())
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.to_hex())
            }
        }

        impl FromStr for $name {
            type Err = Error;
            fn from_str(s: &str) -> Result<Self> {
                hex_decode_id(s).map($name)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> core::result::Result<S::Ok, S::Error> {
                s.serialize_str(&self.to_hex())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> core::result::Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

id_type!(
    /// Identifies a vault (and an export file).
    VaultId
);
id_type!(
    /// Identifies a prompt within a vault.
    PromptId
);
id_type!(
    /// Identifies one immutable version of a prompt.
    VersionId
);
id_type!(
    /// Identifies one sealed segment of a prompt's version index (a
    /// `prompt-index` record, SPEC §6.4): drawn at random when the segment
    /// is written, never reused.
    SegmentId
);

/// Milliseconds since the Unix epoch, supplied by the caller.
///
/// The core never reads a clock (`SystemTime::now()` panics on
/// `wasm32-unknown-unknown`); every operation that records a time takes one.
///
/// Plaintexts are RFC 8785 JSON, whose numbers are IEEE doubles, so a
/// timestamp is at most [`Timestamp::MAX`] (2^53 − 1, JavaScript's
/// `Number.MAX_SAFE_INTEGER`, the year 287 396): a larger one is refused when
/// written and when read, never rounded.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub u64);

impl Timestamp {
    /// The largest timestamp a plaintext can hold exactly: 2^53 − 1.
    pub const MAX: Timestamp = Timestamp((1 << 53) - 1);
}

impl Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> core::result::Result<S::Ok, S::Error> {
        if *self > Self::MAX {
            return Err(serde::ser::Error::custom("timestamp above 2^53 - 1"));
        }
        s.serialize_u64(self.0)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> core::result::Result<Self, D::Error> {
        let t = Timestamp(u64::deserialize(d)?);
        if t > Self::MAX {
            return Err(serde::de::Error::custom("timestamp above 2^53 - 1"));
        }
        Ok(t)
    }
}

impl Timestamp {
    /// Milliseconds since the Unix epoch.
    #[must_use]
    pub const fn as_millis(self) -> u64 {
        self.0
    }
}

pub(crate) fn hex_encode(bytes: &[u8]) -> String {
    use core::fmt::Write as _;
    let mut s = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        // Writing to a String cannot fail.
        let _ = write!(s, "{b:02x}");
    }
    s
}

fn hex_decode_id(s: &str) -> Result<[u8; ID_LEN]> {
    let bytes = s.as_bytes();
    if bytes.len() != ID_LEN * 2 {
        return Err(Error::Encoding {
            what: "id (32 hex digits)",
        });
    }
    let mut out = [0u8; ID_LEN];
    for (o, pair) in out.iter_mut().zip(bytes.chunks_exact(2)) {
        let mut v = 0u8;
        for &c in pair {
            let d = match c {
                b'0'..=b'9' => c - b'0',
                b'a'..=b'f' => c - b'a' + 10,
                _ => {
                    return Err(Error::Encoding {
                        what: "id (32 lowercase hex digits)",
                    });
                }
            };
            v = (v << 4) | d;
        }
        *o = v;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip_is_strict() {
        let id = PromptId::generate().unwrap();
        assert_eq!(id.to_hex().parse::<PromptId>().unwrap(), id);
        assert!(
            "ABCDEF0123456789abcdef0123456789"
                .parse::<PromptId>()
                .is_err()
        );
        assert!("abc".parse::<PromptId>().is_err());
        assert!("zz".repeat(16).parse::<PromptId>().is_err());
    }
}
