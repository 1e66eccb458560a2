//! Values contracts exchange: addresses (hex in JSON) and token amounts (decimal strings).

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A 32-byte account or contract address; lowercase hex (64 digits, no prefix) in JSON.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Address(pub [u8; 32]);

const HEX: &[u8; 16] = b"0123456789abcdef";

impl Address {
    /// The all-zero address (the caller of a query without a caller).
    pub const ZERO: Address = Address([0; 32]);

    /// Lowercase hex.
    pub fn to_hex(&self) -> String {
        let mut s = String::with_capacity(64);
        for b in self.0 {
            s.push(HEX[(b >> 4) as usize] as char);
            s.push(HEX[(b & 15) as usize] as char);
        }
        s
    }

    /// Parses 64 hex digits.
    pub fn from_hex(s: &str) -> Option<Address> {
        fn nibble(c: u8) -> Option<u8> {
            match c {
                b'0'..=b'9' => Some(c - b'0'),
                b'a'..=b'f' => Some(c - b'a' + 10),
                b'A'..=b'F' => Some(c - b'A' + 10),
                _ => None,
            }
        }
        let bytes = s.as_bytes();
        if bytes.len() != 64 {
            return None;
        }
        let mut out = [0u8; 32];
        for (i, pair) in bytes.chunks_exact(2).enumerate() {
            out[i] = nibble(pair[0])? << 4 | nibble(pair[1])?;
        }
        Some(Address(out))
    }
}

impl fmt::Debug for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl Serialize for Address {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for Address {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Address;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a 64-digit hex address")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Address, E> {
                Address::from_hex(v)
                    .ok_or_else(|| E::custom("invalid address: expected 64 hex digits"))
            }
        }
        d.deserialize_str(V)
    }
}

/// A token amount (u128). JSON: a decimal string, for example `"1000"`; plain JSON numbers
/// are accepted on input too.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Debug)]
pub struct Amount(pub u128);

impl Amount {
    /// Zero.
    pub const ZERO: Amount = Amount(0);

    /// `self + other`, or `None` on overflow.
    pub fn checked_add(self, other: Amount) -> Option<Amount> {
        self.0.checked_add(other.0).map(Amount)
    }

    /// `self - other`, or `None` if `other` is larger.
    pub fn checked_sub(self, other: Amount) -> Option<Amount> {
        self.0.checked_sub(other.0).map(Amount)
    }

    fn to_decimal(self) -> String {
        let mut digits = Vec::with_capacity(40);
        let mut n = self.0;
        loop {
            digits.push(b'0' + (n % 10) as u8);
            n /= 10;
            if n == 0 {
                break;
            }
        }
        digits.iter().rev().map(|&d| d as char).collect()
    }

    fn parse(s: &str) -> Option<Amount> {
        if s.is_empty() || s.len() > 39 {
            return None;
        }
        let mut n: u128 = 0;
        for c in s.bytes() {
            if !c.is_ascii_digit() {
                return None;
            }
            n = n.checked_mul(10)?.checked_add(u128::from(c - b'0'))?;
        }
        Some(Amount(n))
    }
}

impl From<u128> for Amount {
    fn from(v: u128) -> Self {
        Amount(v)
    }
}

impl Serialize for Amount {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_decimal())
    }
}

impl<'de> Deserialize<'de> for Amount {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Amount;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an amount as a decimal string")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Amount, E> {
                Amount::parse(v)
                    .ok_or_else(|| E::custom("invalid amount: expected a decimal u128 string"))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Amount, E> {
                Ok(Amount(u128::from(v)))
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_round_trip_as_decimal_strings() {
        for v in [0u128, 7, 10, 1_000_000, u128::MAX] {
            let json = crate::json::to_string(&Amount(v)).unwrap();
            assert_eq!(json, alloc::format!("\"{v}\""));
            assert_eq!(crate::json::from_str::<Amount>(&json).unwrap(), Amount(v));
        }
        assert_eq!(crate::json::from_str::<Amount>("42").unwrap(), Amount(42));
        assert!(crate::json::from_str::<Amount>("\"-1\"").is_err());
        assert!(
            crate::json::from_str::<Amount>("\"340282366920938463463374607431768211456\"").is_err()
        );
        assert!(crate::json::from_str::<Amount>("\"\"").is_err());
    }

    #[test]
    fn addresses_are_hex() {
        let a = Address([0xab; 32]);
        let json = crate::json::to_string(&a).unwrap();
        assert_eq!(json.len(), 66);
        assert_eq!(crate::json::from_str::<Address>(&json).unwrap(), a);
        assert!(crate::json::from_str::<Address>("\"abcd\"").is_err());
        assert!(crate::json::from_str::<Address>(&json.replace('a', "g")).is_err());
    }
}
