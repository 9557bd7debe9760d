//! Storing validated text types the same way everywhere: as strings in
//! Automerge documents and in serde formats, parsed again when read, so a
//! malformed value in a document is an error rather than a bad value.

/// Implements serde and autosurgeon for a type with `Display` and `FromStr`,
/// storing it as a string.
macro_rules! string_encoded {
    ($name:ident) => {
        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = <String as serde::Deserialize>::deserialize(deserializer)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }

        impl autosurgeon::Reconcile for $name {
            type Key<'a> = autosurgeon::reconcile::NoKey;

            fn reconcile<R: autosurgeon::Reconciler>(
                &self,
                mut reconciler: R,
            ) -> Result<(), R::Error> {
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
