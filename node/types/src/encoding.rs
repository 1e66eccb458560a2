//! The canonical binary encoding: bincode 2 with a fixed configuration.
//!
//! Little-endian fixed-width integers (every value has exactly one encoding), and a
//! hard limit on how much a decode may allocate. The same bytes are used for hashing,
//! signing, storage and the wire. Decoding rejects trailing bytes.

use crate::error::TypesError;
use bincode::config::{Configuration, Fixint, Limit, LittleEndian};
use bincode::enc::write::{SizeWriter, Writer};
use bincode::error::EncodeError;
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

const ENCODE_BUG: &str = "canonical encoding of a phalanx type";

/// Collects an encoding into a vector allocated once at its final size.
struct VecOut(Vec<u8>);

impl Writer for VecOut {
    fn write(&mut self, bytes: &[u8]) -> Result<(), EncodeError> {
        self.0.extend_from_slice(bytes);
        Ok(())
    }
}

/// Feeds an encoding to a hasher in blocks of [`HashOut::BUF`] bytes: no allocation, and far
/// fewer hasher calls than one per field.
struct HashOut<'a> {
    hasher: &'a mut blake3::Hasher,
    buf: [u8; HashOut::BUF],
    len: usize,
}

impl HashOut<'_> {
    const BUF: usize = 1024;

    fn flush(&mut self) {
        self.hasher.update(&self.buf[..self.len]);
        self.len = 0;
    }
}

impl Writer for HashOut<'_> {
    fn write(&mut self, bytes: &[u8]) -> Result<(), EncodeError> {
        if self.len + bytes.len() > Self::BUF {
            self.flush();
        }
        if bytes.len() > Self::BUF {
            self.hasher.update(bytes);
        } else {
            self.buf[self.len..self.len + bytes.len()].copy_from_slice(bytes);
            self.len += bytes.len();
        }
        Ok(())
    }
}

/// Encodes a value canonically. Encoding our own types cannot fail; a failure means a bug
/// (for example a value over the size limit), so it panics with a clear message.
pub fn encode<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
    let mut out = VecOut(Vec::with_capacity(encoded_len(value)));
    bincode::serde::encode_into_writer(value, &mut out, config()).expect(ENCODE_BUG);
    out.0
}

/// The length of [`encode`]'s output, computed without encoding into memory.
pub fn encoded_len<T: Serialize + ?Sized>(value: &T) -> usize {
    let mut size = SizeWriter::default();
    bincode::serde::encode_into_writer(value, &mut size, config()).expect(ENCODE_BUG);
    size.bytes_written
}

/// Feeds [`encode`]'s output to `hasher` without building it in memory.
pub fn encode_into_hasher<T: Serialize + ?Sized>(value: &T, hasher: &mut blake3::Hasher) {
    let mut out = HashOut {
        hasher,
        buf: [0; HashOut::BUF],
        len: 0,
    };
    bincode::serde::encode_into_writer(value, &mut out, config()).expect(ENCODE_BUG);
    out.flush();
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

    /// Values whose encodings cross the hashing buffer's edges, including single writes
    /// larger than the buffer.
    fn samples() -> Vec<(Vec<u8>, Vec<Vec<u8>>, String)> {
        [0usize, 1, 7, 1000, 1016, 1017, 1024, 1025, 3000]
            .iter()
            .map(|&n| {
                let pieces = (0..n % 13).map(|i| vec![i as u8; n / 3 + i]).collect();
                (vec![n as u8; n], pieces, "x".repeat(n / 2))
            })
            .collect()
    }

    #[test]
    fn length_and_hash_streams_agree_with_the_encoding() {
        for value in samples() {
            let bytes = bincode::serde::encode_to_vec(&value, config()).unwrap();
            assert_eq!(encode(&value), bytes);
            assert_eq!(encoded_len(&value), bytes.len());
            let mut streamed = blake3::Hasher::new();
            encode_into_hasher(&value, &mut streamed);
            assert_eq!(streamed.finalize(), blake3::hash(&bytes));
        }
    }

    #[test]
    fn integers_are_fixed_width() {
        assert_eq!(encode(&1u64).len(), 8);
        assert_eq!(encode(&u64::MAX).len(), 8);
    }
}
