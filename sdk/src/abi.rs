//! The contract's machine-readable interface (ABI), built at compile time and embedded in the
//! wasm as the custom section [`SECTION`].
//!
//! `#[contract]` writes the methods; [`errors!`](crate::errors) and [`event`](crate::event)
//! contribute their parts as constants, and the pieces are joined into one JSON document by the
//! `const fn`s below (no allocation, nothing at run time). The format is described in
//! `docs/CONTRACTS.md`, "The ABI".

/// Name of the wasm custom section that holds the ABI JSON.
pub const SECTION: &str = "phalanx.abi";

/// Largest ABI a deploy accepts, in bytes (the runtime's `MAX_ABI_BYTES`).
pub const MAX_BYTES: usize = 64 * 1024;

/// Version of the ABI format (the document's `phalanx_abi` field).
pub const VERSION: u32 = 1;

/// A piece of ABI JSON.
#[derive(Debug, Clone, Copy)]
pub enum Part {
    /// JSON text, copied as is.
    Raw(&'static str),
    /// A string value, written as a quoted and escaped JSON string.
    Str(&'static str),
    /// A number, written in decimal.
    Num(u32),
}

/// An event a contract declares in its ABI (implemented by [`event`](crate::event)).
pub trait Event {
    /// The topic it is emitted under.
    const TOPIC: &'static str;
    /// Its ABI entry: `{"topic": ..., "type": ..., "fields": [...]}`.
    const ABI: &'static [Part];

    /// Emits the event under [`Self::TOPIC`].
    fn emit(&self)
    where
        Self: serde::Serialize + Sized,
    {
        crate::emit(Self::TOPIC, self)
    }
}

const fn escaped_byte_len(b: u8) -> usize {
    match b {
        b'"' | b'\\' | b'\n' | b'\r' | b'\t' => 2,
        0..=0x1f => 6,
        _ => 1,
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

const fn num_len(mut n: u32) -> usize {
    let mut len = 1;
    while n >= 10 {
        n /= 10;
        len += 1;
    }
    len
}

const fn part_len(p: &Part) -> usize {
    match p {
        Part::Raw(s) => s.len(),
        Part::Str(s) => {
            let b = s.as_bytes();
            let mut n = 2;
            let mut i = 0;
            while i < b.len() {
                n += escaped_byte_len(b[i]);
                i += 1;
            }
            n
        }
        Part::Num(n) => num_len(*n),
    }
}

/// Length in bytes of the JSON the parts make.
pub const fn len(parts: &[&[Part]]) -> usize {
    let mut n = 0;
    let mut i = 0;
    while i < parts.len() {
        let mut j = 0;
        while j < parts[i].len() {
            n += part_len(&parts[i][j]);
            j += 1;
        }
        i += 1;
    }
    n
}

const fn put(out: &mut [u8], mut at: usize, bytes: &[u8]) -> usize {
    let mut i = 0;
    while i < bytes.len() {
        out[at] = bytes[i];
        at += 1;
        i += 1;
    }
    at
}

const fn put_part(out: &mut [u8], mut at: usize, p: &Part) -> usize {
    match p {
        Part::Raw(s) => put(out, at, s.as_bytes()),
        Part::Str(s) => {
            let b = s.as_bytes();
            out[at] = b'"';
            at += 1;
            let mut i = 0;
            while i < b.len() {
                let c = b[i];
                at = match c {
                    b'"' => put(out, at, b"\\\""),
                    b'\\' => put(out, at, b"\\\\"),
                    b'\n' => put(out, at, b"\\n"),
                    b'\r' => put(out, at, b"\\r"),
                    b'\t' => put(out, at, b"\\t"),
                    0..=0x1f => {
                        let at = put(out, at, b"\\u00");
                        out[at] = HEX[(c >> 4) as usize];
                        out[at + 1] = HEX[(c & 0xf) as usize];
                        at + 2
                    }
                    _ => {
                        out[at] = c;
                        at + 1
                    }
                };
                i += 1;
            }
            out[at] = b'"';
            at + 1
        }
        Part::Num(n) => {
            let len = num_len(*n);
            let mut k = len;
            let mut v = *n;
            while k > 0 {
                out[at + k - 1] = b'0' + (v % 10) as u8;
                v /= 10;
                k -= 1;
            }
            at + len
        }
    }
}

/// The JSON the parts make, as an array of exactly [`len`] bytes.
pub const fn bytes<const N: usize>(parts: &[&[Part]]) -> [u8; N] {
    let mut out = [0u8; N];
    let mut at = 0;
    let mut i = 0;
    while i < parts.len() {
        let mut j = 0;
        while j < parts[i].len() {
            at = put_part(&mut out, at, &parts[i][j]);
            j += 1;
        }
        i += 1;
    }
    assert!(at == N, "ABI length mismatch");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const PARTS: &[&[Part]] = &[
        &[Part::Raw("{\"a\":"), Part::Str("x\"y\\\n\u{1}é")],
        &[
            Part::Raw(",\"n\":"),
            Part::Num(1100),
            Part::Raw(",\"z\":"),
            Part::Num(0),
        ],
        &[Part::Raw("}")],
    ];
    const LEN: usize = len(PARTS);
    const JSON: [u8; LEN] = bytes(PARTS);

    #[test]
    fn parts_join_into_escaped_json() {
        let s = core::str::from_utf8(&JSON).unwrap();
        assert_eq!(s, "{\"a\":\"x\\\"y\\\\\\n\\u0001é\",\"n\":1100,\"z\":0}");
    }
}
