//! The canonical binary encoding: bincode 2 with a fixed configuration.
//!
//! Little-endian fixed-width integers (every value has exactly one encoding), and a
//! hard limit on how much a decode may allocate. The same bytes are used for hashing,
//! signing, storage and the wire. Decoding rejects trailing bytes.

use crate::error::TypesError;
use bincode::config::{Configuration, Fixint, Limit, LittleEndian};
use serde::{Serialize, de::DeserializeOwned};

/// Largest object decode will accept: 16 MiB. Blocks, messages and stored values are far smaller.
pub const MAX_DECODE_BYTES: usize = 16 * 1024 * 1024;

type Config = Configuration<LittleEndian, Fixint, Limit<MAX_DECODE_BYTES>>;

const fn config() -> Config {
    bincode::config::standard()
        .with_little_endian()
        .with_fixed_int_encoding()
        .with_limit::<MAX_DECODE_BYTES>()
}

/// Encodes a value canonically. Encoding our own types cannot fail; a failure means a bug
/// (for example a value over the size limit), so it panics with a clear message.
pub fn encode<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
    bincode::serde::encode_to_vec(value, config()).expect("canonical encoding of a phalanx type")
}

/// Decodes untrusted bytes. Rejects oversized input, malformed input and trailing bytes.
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, TypesError> {
    decode_with_limit(bytes, MAX_DECODE_BYTES)
}

/// Decodes untrusted bytes that must also be at most `max_len` bytes long.
pub fn decode_with_limit<T: DeserializeOwned>(
    bytes: &[u8],
    max_len: usize,
) -> Result<T, TypesError> {
    if bytes.len() > max_len.min(MAX_DECODE_BYTES) {
        return Err(TypesError::Decode(format!(
            "{} bytes exceed the limit of {}",
            bytes.len(),
            max_len.min(MAX_DECODE_BYTES)
        )));
    }
    let (value, read) = bincode::serde::decode_from_slice(bytes, config())
        .map_err(|e| TypesError::Decode(e.to_string()))?;
    if read != bytes.len() {
        return Err(TypesError::TrailingBytes(bytes.len() - read));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_trailing_bytes() {
        let mut bytes = encode(&7u64);
        bytes.push(0);
        assert_eq!(decode::<u64>(&bytes), Err(TypesError::TrailingBytes(1)));
    }

    #[test]
    fn huge_length_prefix_does_not_allocate() {
        // A Vec<u8> claiming u64::MAX / 2 elements: must fail cleanly, not allocate.
        let mut bytes = (u64::MAX / 2).to_le_bytes().to_vec();
        bytes.extend_from_slice(&[1, 2, 3]);
        assert!(matches!(
            decode::<Vec<u8>>(&bytes),
            Err(TypesError::Decode(_))
        ));
    }

    #[test]
    fn enforces_caller_limit() {
        let bytes = encode(&vec![0u8; 100]);
        assert!(decode_with_limit::<Vec<u8>>(&bytes, 50).is_err());
        assert_eq!(
            decode_with_limit::<Vec<u8>>(&bytes, 200).unwrap().len(),
            100
        );
    }

    #[test]
    fn integers_are_fixed_width() {
        assert_eq!(encode(&1u64).len(), 8);
        assert_eq!(encode(&u64::MAX).len(), 8);
    }
}
