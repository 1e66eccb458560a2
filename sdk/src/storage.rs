//! Typed storage: a single value ([`Item`]) and a keyed collection ([`Map`]) with ordered
//! iteration. Values are stored as JSON; keys as raw bytes (big-endian integers, so numeric
//! order is byte order). Storage is private to the contract.

use crate::host;
use crate::types::{Address, Amount};
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use core::marker::PhantomData;
use serde::Serialize;
use serde::de::DeserializeOwned;

const FIRST_READ: usize = 256;

fn read_raw(key: &[u8]) -> Option<Vec<u8>> {
    let mut buf = vec![0u8; FIRST_READ];
    let len = host::storage_read(key, &mut buf);
    if len < 0 {
        return None;
    }
    let len = len as usize;
    if len > buf.len() {
        buf = vec![0u8; len];
        host::storage_read(key, &mut buf);
    }
    buf.truncate(len);
    Some(buf)
}

fn decode<T: DeserializeOwned>(bytes: &[u8]) -> T {
    match crate::json::from_slice(bytes) {
        Ok(v) => v,
        Err(_) => panic!("stored value does not decode as the declared type"),
    }
}

fn encode<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
    match crate::json::to_vec(value) {
        Ok(v) => v,
        Err(_) => panic!("value does not encode as JSON"),
    }
}

/// One value under a fixed key.
pub struct Item<T> {
    key: &'static [u8],
    _value: PhantomData<fn() -> T>,
}

impl<T: Serialize + DeserializeOwned> Item<T> {
    /// The item stored under `key` (unique within the contract).
    pub const fn new(key: &'static [u8]) -> Item<T> {
        Item {
            key,
            _value: PhantomData,
        }
    }

    /// The value, if set.
    pub fn get(&self) -> Option<T> {
        read_raw(self.key).map(|b| decode(&b))
    }

    /// The value, or `T::default()` if unset.
    pub fn load(&self) -> T
    where
        T: Default,
    {
        self.get().unwrap_or_default()
    }

    /// Stores `value`.
    pub fn save(&self, value: &T) {
        host::storage_write(self.key, &encode(value))
    }

    /// Removes the value.
    pub fn remove(&self) {
        host::storage_remove(self.key);
    }

    /// Whether a value is set.
    pub fn exists(&self) -> bool {
        host::storage_read(self.key, &mut []) >= 0
    }
}

/// A map key: its byte form must sort like the key and be decodable from storage.
pub trait StorageKey: Sized {
    /// Appends the key's bytes.
    fn write_key(&self, out: &mut Vec<u8>);
    /// Decodes a key written by `write_key` (the whole slice).
    fn read_key(bytes: &[u8]) -> Option<Self>;
    /// The key's byte length if it is always the same (needed for the first part of a pair).
    const FIXED_LEN: Option<usize>;
}

macro_rules! int_key {
    ($($t:ty),*) => {$(
        impl StorageKey for $t {
            fn write_key(&self, out: &mut Vec<u8>) {
                out.extend_from_slice(&self.to_be_bytes());
            }
            fn read_key(bytes: &[u8]) -> Option<Self> {
                Some(<$t>::from_be_bytes(bytes.try_into().ok()?))
            }
            const FIXED_LEN: Option<usize> = Some(core::mem::size_of::<$t>());
        }
    )*};
}
int_key!(u8, u16, u32, u64, u128);

impl StorageKey for Address {
    fn write_key(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.0);
    }
    fn read_key(bytes: &[u8]) -> Option<Self> {
        Some(Address(bytes.try_into().ok()?))
    }
    const FIXED_LEN: Option<usize> = Some(32);
}

impl StorageKey for Amount {
    fn write_key(&self, out: &mut Vec<u8>) {
        self.0.write_key(out)
    }
    fn read_key(bytes: &[u8]) -> Option<Self> {
        u128::read_key(bytes).map(Amount)
    }
    const FIXED_LEN: Option<usize> = Some(16);
}

impl StorageKey for String {
    fn write_key(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.as_bytes());
    }
    fn read_key(bytes: &[u8]) -> Option<Self> {
        String::from_utf8(bytes.to_vec()).ok()
    }
    const FIXED_LEN: Option<usize> = None;
}

impl<A: StorageKey, B: StorageKey> StorageKey for (A, B) {
    fn write_key(&self, out: &mut Vec<u8>) {
        const {
            assert!(
                A::FIXED_LEN.is_some(),
                "the first part of a pair key must have a fixed length"
            )
        };
        self.0.write_key(out);
        self.1.write_key(out);
    }
    fn read_key(bytes: &[u8]) -> Option<Self> {
        let n = A::FIXED_LEN?;
        if bytes.len() < n {
            return None;
        }
        Some((A::read_key(&bytes[..n])?, B::read_key(&bytes[n..])?))
    }
    const FIXED_LEN: Option<usize> = match (A::FIXED_LEN, B::FIXED_LEN) {
        (Some(a), Some(b)) => Some(a + b),
        _ => None,
    };
}

/// Values by key, under a prefix unique within the contract.
pub struct Map<K, V> {
    prefix: &'static [u8],
    _types: PhantomData<fn() -> (K, V)>,
}

impl<K: StorageKey, V: Serialize + DeserializeOwned> Map<K, V> {
    /// The map stored under `prefix`. Prefixes of different maps and items must not be
    /// prefixes of each other.
    pub const fn new(prefix: &'static [u8]) -> Map<K, V> {
        Map {
            prefix,
            _types: PhantomData,
        }
    }

    fn full_key(&self, key: &K) -> Vec<u8> {
        let mut k = Vec::with_capacity(self.prefix.len() + 32);
        k.extend_from_slice(self.prefix);
        key.write_key(&mut k);
        k
    }

    /// The value under `key`, if any.
    pub fn get(&self, key: &K) -> Option<V> {
        read_raw(&self.full_key(key)).map(|b| decode(&b))
    }

    /// The value under `key`, or `V::default()`.
    pub fn load(&self, key: &K) -> V
    where
        V: Default,
    {
        self.get(key).unwrap_or_default()
    }

    /// Stores `value` under `key`.
    pub fn save(&self, key: &K, value: &V) {
        host::storage_write(&self.full_key(key), &encode(value))
    }

    /// Removes `key`; returns whether it was present.
    pub fn remove(&self, key: &K) -> bool {
        host::storage_remove(&self.full_key(key))
    }

    /// Whether `key` is present.
    pub fn contains(&self, key: &K) -> bool {
        host::storage_read(&self.full_key(key), &mut []) >= 0
    }

    /// Every entry, in key order.
    pub fn iter(&self) -> MapIter<K, V> {
        MapIter::new(self.prefix.to_vec(), self.prefix.len())
    }

    /// The entries whose key starts with `first` (the first part of a pair key), in key order.
    pub fn iter_prefix<P: StorageKey>(&self, first: &P) -> MapIter<K, V> {
        let mut prefix = self.prefix.to_vec();
        first.write_key(&mut prefix);
        MapIter::new(prefix, self.prefix.len())
    }
}

/// Iterator over a [`Map`]: one host call per entry, each paid for in gas.
pub struct MapIter<K, V> {
    /// Prefix of the map itself (stripped from keys).
    map_prefix_len: usize,
    prefix: Vec<u8>,
    after: Option<Vec<u8>>,
    done: bool,
    _types: PhantomData<fn() -> (K, V)>,
}

impl<K, V> MapIter<K, V> {
    fn new(prefix: Vec<u8>, map_prefix_len: usize) -> MapIter<K, V> {
        MapIter {
            map_prefix_len,
            prefix,
            after: None,
            done: false,
            _types: PhantomData,
        }
    }
}

impl<K: StorageKey, V: DeserializeOwned> MapIter<K, V> {
    /// Starts after `key` (exclusive), for pagination.
    pub fn after(mut self, map: &Map<K, V>, key: &K) -> Self
    where
        V: Serialize,
    {
        self.after = Some(map.full_key(key));
        self
    }
}

impl<K: StorageKey, V: DeserializeOwned> Iterator for MapIter<K, V> {
    type Item = (K, V);

    fn next(&mut self) -> Option<(K, V)> {
        if self.done {
            return None;
        }
        let mut buf = vec![0u8; FIRST_READ];
        let mut len = host::storage_next(&self.prefix, self.after.as_deref(), &mut buf);
        if len >= 0 && len as usize > buf.len() {
            buf = vec![0u8; len as usize];
            len = host::storage_next(&self.prefix, self.after.as_deref(), &mut buf);
        }
        if len < 4 {
            self.done = true;
            return None;
        }
        buf.truncate(len as usize);
        let key_len = u32::from_le_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
        let key = buf.get(4..4 + key_len)?.to_vec();
        let value = &buf[4 + key_len..];
        // Stored keys start with the map's own prefix; the rest is the typed key.
        let typed = K::read_key(key.get(self.map_prefix_len..)?);
        let value = decode(value);
        self.after = Some(key);
        match typed {
            Some(k) => Some((k, value)),
            None => {
                self.done = true;
                None
            }
        }
    }
}
