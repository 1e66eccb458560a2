//! Byte containers with the project's JSON conventions: fixed-size values (hashes, addresses,
//! keys, signatures) are lowercase hex with no prefix; opaque bytes are base64. In the binary
//! encoding both are raw bytes.

use base64::Engine as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer, de};
use std::fmt;

/// Serializes a fixed-size byte array: hex in human-readable formats, a tuple of bytes otherwise.
pub(crate) fn serialize_fixed<S: Serializer, const N: usize>(
    bytes: &[u8; N],
    serializer: S,
) -> Result<S::Ok, S::Error> {
    if serializer.is_human_readable() {
        serializer.serialize_str(&hex::encode(bytes))
    } else {
        use serde::ser::SerializeTuple;
        let mut tuple = serializer.serialize_tuple(N)?;
        for b in bytes {
            tuple.serialize_element(b)?;
        }
        tuple.end()
    }
}

/// Deserializes what [`serialize_fixed`] wrote.
pub(crate) fn deserialize_fixed<'de, D: Deserializer<'de>, const N: usize>(
    deserializer: D,
) -> Result<[u8; N], D::Error> {
    if deserializer.is_human_readable() {
        let s = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        parse_hex_fixed::<N>(&s).map_err(de::Error::custom)
    } else {
        struct V<const N: usize>;
        impl<'de, const N: usize> de::Visitor<'de> for V<N> {
            type Value = [u8; N];
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{N} bytes")
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<[u8; N], A::Error> {
                let mut out = [0u8; N];
                for (i, slot) in out.iter_mut().enumerate() {
                    *slot = seq
                        .next_element()?
                        .ok_or_else(|| de::Error::invalid_length(i, &self))?;
                }
                Ok(out)
            }
        }
        deserializer.deserialize_tuple(N, V::<N>)
    }
}

/// Parses exactly `N` bytes of lowercase or uppercase hex (no `0x` prefix).
pub fn parse_hex_fixed<const N: usize>(s: &str) -> Result<[u8; N], crate::TypesError> {
    let s = s.trim();
    if s.len() != 2 * N {
        return Err(crate::TypesError::Hex(format!(
            "expected {} hex characters, got {}",
            2 * N,
            s.len()
        )));
    }
    let mut out = [0u8; N];
    hex::decode_to_slice(s, &mut out).map_err(|e| crate::TypesError::Hex(e.to_string()))?;
    Ok(out)
}

/// Defines a fixed-size byte newtype with hex Display/Debug/FromStr/serde.
macro_rules! fixed_bytes {
    ($(#[$meta:meta])* $name:ident, $len:expr) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(pub [u8; $len]);

        impl $name {
            /// Length in bytes.
            pub const LEN: usize = $len;
            /// The raw bytes.
            pub fn as_bytes(&self) -> &[u8; $len] {
                &self.0
            }
            /// Lowercase hex, no prefix.
            pub fn to_hex(&self) -> String {
                hex::encode(self.0)
            }
            /// Parses lowercase or uppercase hex with no prefix.
            pub fn from_hex(s: &str) -> Result<Self, crate::TypesError> {
                crate::bytes::parse_hex_fixed::<$len>(s).map(Self)
            }
            /// Builds from a slice of exactly the right length.
            pub fn from_slice(bytes: &[u8]) -> Result<Self, crate::TypesError> {
                <[u8; $len]>::try_from(bytes)
                    .map(Self)
                    .map_err(|_| crate::TypesError::Length { expected: $len, got: bytes.len() })
            }
        }

        impl AsRef<[u8]> for $name {
            fn as_ref(&self) -> &[u8] {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.to_hex())
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                let h = self.to_hex();
                write!(f, concat!(stringify!($name), "({}..)"), &h[..12])
            }
        }

        impl std::str::FromStr for $name {
            type Err = crate::TypesError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::from_hex(s)
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                crate::bytes::serialize_fixed(&self.0, s)
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                crate::bytes::deserialize_fixed::<D, $len>(d).map(Self)
            }
        }

        /// Its JSON form: lowercase hex, no prefix.
        #[cfg(feature = "schema")]
        impl schemars::JsonSchema for $name {
            fn schema_name() -> std::borrow::Cow<'static, str> {
                stringify!($name).into()
            }
            fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
                schemars::json_schema!({
                    "type": "string",
                    "description": concat!(stringify!($len), " bytes, lowercase hex"),
                    "pattern": format!("^[0-9a-f]{{{}}}$", 2 * $len),
                })
            }
        }
    };
}
pub(crate) use fixed_bytes;

/// Opaque bytes: base64 in JSON, length-prefixed raw bytes in the binary encoding.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Bytes(pub Vec<u8>);

impl Bytes {
    /// Standard base64 with padding.
    pub fn to_base64(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(&self.0)
    }
    /// Parses standard base64 with padding.
    pub fn from_base64(s: &str) -> Result<Self, crate::TypesError> {
        base64::engine::general_purpose::STANDARD
            .decode(s.trim())
            .map(Bytes)
            .map_err(|e| crate::TypesError::Decode(format!("invalid base64: {e}")))
    }
    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }
    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<Vec<u8>> for Bytes {
    fn from(v: Vec<u8>) -> Self {
        Bytes(v)
    }
}

impl From<&[u8]> for Bytes {
    fn from(v: &[u8]) -> Self {
        Bytes(v.to_vec())
    }
}

impl AsRef<[u8]> for Bytes {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl std::ops::Deref for Bytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.len() <= 32 {
            write!(f, "Bytes({})", hex::encode(&self.0))
        } else {
            write!(f, "Bytes({} bytes)", self.0.len())
        }
    }
}

impl Serialize for Bytes {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            s.serialize_str(&self.to_base64())
        } else {
            s.serialize_bytes(&self.0)
        }
    }
}

/// Its JSON form: base64 (standard alphabet, padded).
#[cfg(feature = "schema")]
impl schemars::JsonSchema for Bytes {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Base64".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "description": "bytes, base64 (standard alphabet, padded)",
            "contentEncoding": "base64",
        })
    }
}

impl<'de> Deserialize<'de> for Bytes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        if d.is_human_readable() {
            let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
            Bytes::from_base64(&s).map_err(de::Error::custom)
        } else {
            struct V;
            impl<'de> de::Visitor<'de> for V {
                type Value = Bytes;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("bytes")
                }
                fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Bytes, E> {
                    Ok(Bytes(v.to_vec()))
                }
                fn visit_byte_buf<E: de::Error>(self, v: Vec<u8>) -> Result<Bytes, E> {
                    Ok(Bytes(v))
                }
            }
            d.deserialize_byte_buf(V)
        }
    }
}
