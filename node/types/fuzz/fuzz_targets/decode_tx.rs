#![no_main]
//! Untrusted tx bytes (RPC, gossip): decoding never panics, and what decodes re-encodes to
//! the same bytes (the encoding is canonical).
use libfuzzer_sys::fuzz_target;
use phalanx_types::SignedTx;

fuzz_target!(|data: &[u8]| {
    if let Ok(tx) = SignedTx::from_bytes(data) {
        assert_eq!(tx.to_bytes(), data, "non-canonical encoding accepted");
        let _ = tx.hash();
        let _ = tx.verify("fuzz");
    }
});
