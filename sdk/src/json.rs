//! JSON for contracts: `serde-json-wasm` (small, deterministic, and without floats; a float in
//! the input is an error), plus [`Json`], a value of any shape for arguments a contract only
//! passes along.

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use serde::de::{DeserializeOwned, MapAccess, SeqAccess, Visitor};
use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A JSON error (decoding or encoding).
pub type Error = String;

/// Encodes `value` as JSON bytes.
pub fn to_vec<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, Error> {
    serde_json_wasm::to_vec(value).map_err(|e| alloc::format!("{e}"))
}

/// Encodes `value` as a JSON string.
pub fn to_string<T: Serialize + ?Sized>(value: &T) -> Result<String, Error> {
    serde_json_wasm::to_string(value).map_err(|e| alloc::format!("{e}"))
}

/// Decodes JSON bytes.
pub fn from_slice<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Error> {
    serde_json_wasm::from_slice(bytes).map_err(|e| alloc::format!("{e}"))
}

/// Decodes a JSON string.
pub fn from_str<T: DeserializeOwned>(s: &str) -> Result<T, Error> {
    serde_json_wasm::from_str(s).map_err(|e| alloc::format!("{e}"))
}

/// Any JSON value without floats. Object keys keep a sorted order, so encoding is canonical.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Json {
    /// `null`.
    #[default]
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A non-negative integer.
    Uint(u64),
    /// A negative integer.
    Int(i64),
    /// A string.
    String(String),
    /// An array.
    Array(Vec<Json>),
    /// An object.
    Object(BTreeMap<String, Json>),
}

impl Serialize for Json {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Json::Null => s.serialize_unit(),
            Json::Bool(b) => s.serialize_bool(*b),
            Json::Uint(n) => s.serialize_u64(*n),
            Json::Int(n) => s.serialize_i64(*n),
            Json::String(v) => s.serialize_str(v),
            Json::Array(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for i in items {
                    seq.serialize_element(i)?;
                }
                seq.end()
            }
            Json::Object(fields) => {
                let mut map = s.serialize_map(Some(fields.len()))?;
                for (k, v) in fields {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
        }
    }
}

impl<'de> Deserialize<'de> for Json {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Json;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value without floats")
            }
            fn visit_unit<E>(self) -> Result<Json, E> {
                Ok(Json::Null)
            }
            fn visit_none<E>(self) -> Result<Json, E> {
                Ok(Json::Null)
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Json, D::Error> {
                Json::deserialize(d)
            }
            fn visit_bool<E>(self, v: bool) -> Result<Json, E> {
                Ok(Json::Bool(v))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Json, E> {
                Ok(Json::Uint(v))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Json, E> {
                Ok(if v >= 0 {
                    Json::Uint(v as u64)
                } else {
                    Json::Int(v)
                })
            }
            fn visit_str<E>(self, v: &str) -> Result<Json, E> {
                Ok(Json::String(String::from(v)))
            }
            fn visit_string<E>(self, v: String) -> Result<Json, E> {
                Ok(Json::String(v))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(Json::Array(items))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
                let mut fields = BTreeMap::new();
                while let Some((k, v)) = map.next_entry::<String, Json>()? {
                    fields.insert(k, v);
                }
                Ok(Json::Object(fields))
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip_canonically() {
        let text = r#"{"b":[1,-2,"x",null,true],"a":{"n":18446744073709551615}}"#;
        let v: Json = from_str(text).unwrap();
        assert_eq!(
            to_string(&v).unwrap(),
            r#"{"a":{"n":18446744073709551615},"b":[1,-2,"x",null,true]}"#
        );
        assert!(from_str::<Json>("1.5").is_err(), "floats are refused");
        assert!(from_str::<Json>("{").is_err());
    }
}
