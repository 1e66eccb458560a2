#![no_main]
//! Untrusted consensus messages (the p2p wire): decoding never panics and is canonical.
use libfuzzer_sys::fuzz_target;
use phalanx_types::consensus::SignedMessage;

fuzz_target!(|data: &[u8]| {
    if let Ok(msg) = SignedMessage::from_bytes(data) {
        assert_eq!(msg.to_bytes(), data, "non-canonical encoding accepted");
        let _ = msg.body.signing_hash("fuzz");
    }
});
