//! Identifiers as newtypes, so a `JobId` can never be passed where a `UserId`
//! is expected and every identifier is parsed once, at the edge.
//!
//! Random identifiers are UUIDs. This crate owns no randomness: callers hand
//! in 16 random bytes (`from_random_bytes`), which keeps the core deterministic
//! under simulation. Slugs (`ServiceId`, `StateId`) are the names councils
//! write in their service definitions.

use std::fmt;
use std::str::FromStr;

use sha2::{Digest, Sha256};
use uuid::Uuid;

/// An identifier did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{input:?} is not a valid {kind}: {expected}")]
pub struct ParseIdError {
    /// Which kind of identifier was being parsed.
    pub kind: &'static str,
    /// The text that was refused.
    pub input: String,
    /// What a valid value looks like.
    pub expected: &'static str,
}

macro_rules! uuid_id {
    ($(#[$meta:meta])* $name:ident, $kind:literal) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(Uuid);

        impl $name {
            /// Makes an identifier from 16 random bytes supplied by the caller.
            pub fn from_random_bytes(bytes: [u8; 16]) -> Self {
                Self(uuid::Builder::from_random_bytes(bytes).into_uuid())
            }

            /// Makes an identifier from a fixed number: for fixtures, demo data and tests.
            pub const fn from_u128(value: u128) -> Self {
                Self(Uuid::from_u128(value))
            }

            /// The underlying UUID.
            pub const fn as_uuid(&self) -> &Uuid {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0.hyphenated(), f)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "({})"), self.0.hyphenated())
            }
        }

        impl FromStr for $name {
            type Err = ParseIdError;

            fn from_str(input: &str) -> Result<Self, Self::Err> {
                Uuid::try_parse(input).map(Self).map_err(|_| ParseIdError {
                    kind: $kind,
                    input: input.to_owned(),
                    expected: "a UUID such as 67e55044-10b1-426f-9247-bb680e5fe0c8",
                })
            }
        }

        // Text in documents and JSON; 16 raw bytes in the binary sync format.
        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                if serializer.is_human_readable() {
                    serializer.collect_str(self)
                } else {
                    serializer.serialize_bytes(self.0.as_bytes())
                }
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                if deserializer.is_human_readable() {
                    let text = <String as serde::Deserialize>::deserialize(deserializer)?;
                    text.parse().map_err(serde::de::Error::custom)
                } else {
                    let bytes = <serde_bytes_16::Bytes16 as serde::Deserialize>::deserialize(deserializer)?;
                    Ok(Self(Uuid::from_bytes(bytes.0)))
                }
            }
        }

        impl autosurgeon::Reconcile for $name {
            type Key<'a> = autosurgeon::reconcile::NoKey;

            fn reconcile<R: autosurgeon::Reconciler>(&self, mut reconciler: R) -> Result<(), R::Error> {
                reconciler.str(self.to_string())
            }
        }

        impl autosurgeon::Hydrate for $name {
            fn hydrate_string(text: &str) -> Result<Self, autosurgeon::HydrateError> {
                text.parse::<Self>().map_err(|error| {
                    autosurgeon::HydrateError::unexpected(stringify!($name), error.to_string())
                })
            }
        }
    };
}

/// Reads exactly 16 bytes from a binary format.
mod serde_bytes_16 {
    pub(super) struct Bytes16(pub(super) [u8; 16]);

    impl<'de> serde::Deserialize<'de> for Bytes16 {
        fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            struct Visit;
            impl serde::de::Visitor<'_> for Visit {
                type Value = Bytes16;
                fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                    f.write_str("16 bytes")
                }
                fn visit_bytes<E: serde::de::Error>(self, bytes: &[u8]) -> Result<Bytes16, E> {
                    <[u8; 16]>::try_from(bytes)
                        .map(Bytes16)
                        .map_err(|_| E::invalid_length(bytes.len(), &self))
                }
            }
            deserializer.deserialize_bytes(Visit)
        }
    }
}

uuid_id!(
    /// One repair, collection or referral: one Automerge document.
    JobId,
    "job id"
);
uuid_id!(
    /// One waste crew's round on one day: one Automerge document.
    RoundId,
    "round id"
);
uuid_id!(
    /// A phone or browser enrolled for a user.
    DeviceId,
    "device id"
);
uuid_id!(
    /// A member of staff or a resident with an account.
    UserId,
    "user id"
);
uuid_id!(
    /// A team of operatives or a waste crew.
    TeamId,
    "team id"
);
uuid_id!(
    /// A council (or a shared service serving several councils).
    TenantId,
    "tenant id"
);
uuid_id!(
    /// A photo taken as evidence; its renditions are blobs named by [`BlobHash`].
    PhotoId,
    "photo id"
);
uuid_id!(
    /// A transition request; the server's verdict is filed under the same id.
    TransitionId,
    "transition id"
);
uuid_id!(
    /// An entry in a job's timeline.
    EventId,
    "event id"
);
uuid_id!(
    /// A property on a waste round.
    PropertyId,
    "property id"
);

macro_rules! slug_id {
    ($(#[$meta:meta])* $name:ident, $kind:literal, $extra:literal) => {
        $(#[$meta])*
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(String);

        impl $name {
            /// The slug as written in the service definition.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "({:?})"), self.0)
            }
        }

        impl FromStr for $name {
            type Err = ParseIdError;

            fn from_str(input: &str) -> Result<Self, Self::Err> {
                let valid = !input.is_empty()
                    && input.len() <= 64
                    && input.starts_with(|c: char| c.is_ascii_lowercase())
                    && input
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == $extra);
                if valid {
                    Ok(Self(input.to_owned()))
                } else {
                    Err(ParseIdError {
                        kind: $kind,
                        input: input.to_owned(),
                        expected: concat!(
                            "1 to 64 lowercase letters, digits or '",
                            $extra,
                            "', starting with a letter"
                        ),
                    })
                }
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        string_encoded!($name);
    };
}

slug_id!(
    /// A service, such as `housing-repair` or `bulky-waste`.
    ServiceId,
    "service id",
    '-'
);
slug_id!(
    /// A state in a service's workflow, such as `in_progress`.
    StateId,
    "state id",
    '_'
);
slug_id!(
    /// A transition, an action, a checklist item or a round outcome named in a
    /// service definition, such as `complete` or `no_access`.
    Name,
    "name",
    '_'
);

/// The SHA-256 of a blob (a photo rendition): the blob's name in storage.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BlobHash([u8; 32]);

impl BlobHash {
    /// Hashes some bytes.
    pub fn of(bytes: &[u8]) -> Self {
        Self(Sha256::digest(bytes).into())
    }

    /// The raw digest.
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Display for BlobHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|byte| write!(f, "{byte:02x}"))
    }
}

impl fmt::Debug for BlobHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BlobHash({self})")
    }
}

impl FromStr for BlobHash {
    type Err = ParseIdError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let refuse = || ParseIdError {
            kind: "blob hash",
            input: input.to_owned(),
            expected: "64 lowercase hexadecimal digits (a SHA-256)",
        };
        if input.len() != 64 {
            return Err(refuse());
        }
        let mut digest = [0u8; 32];
        for (byte, pair) in digest.iter_mut().zip(input.as_bytes().chunks_exact(2)) {
            let text = std::str::from_utf8(pair).map_err(|_| refuse())?;
            if text.bytes().any(|b| b.is_ascii_uppercase()) {
                return Err(refuse());
            }
            *byte = u8::from_str_radix(text, 16).map_err(|_| refuse())?;
        }
        Ok(Self(digest))
    }
}

string_encoded!(BlobHash);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_job_id_round_trips_through_its_text_form() {
        let id = JobId::from_random_bytes([7; 16]);
        assert_eq!(id.to_string().parse::<JobId>(), Ok(id));
    }

    #[test]
    fn a_malformed_job_id_names_what_was_expected() {
        let error = "job-42".parse::<JobId>().unwrap_err();
        assert_eq!(error.kind, "job id");
        assert!(error.to_string().contains("not a valid job id"), "{error}");
    }

    #[test]
    fn slugs_refuse_capitals_spaces_and_wrong_separators() {
        assert!("housing-repair".parse::<ServiceId>().is_ok());
        assert!("Housing repair".parse::<ServiceId>().is_err());
        assert!("in-progress".parse::<StateId>().is_err());
        assert!("in_progress".parse::<StateId>().is_ok());
        assert!("".parse::<Name>().is_err());
        assert!("9lives".parse::<Name>().is_err());
    }

    #[test]
    fn blob_hashes_are_sha256_in_lowercase_hex() {
        let hash = BlobHash::of(b"abc");
        assert_eq!(
            hash.to_string(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(hash.to_string().parse::<BlobHash>(), Ok(hash));
        assert!(hash.to_string().to_uppercase().parse::<BlobHash>().is_err());
        assert!("ba78".parse::<BlobHash>().is_err());
        assert!("zz".repeat(32).parse::<BlobHash>().is_err());
    }
}
