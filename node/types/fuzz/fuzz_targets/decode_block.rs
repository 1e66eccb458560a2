#![no_main]
//! Untrusted block bytes (sync): decoding never panics and is canonical.
use libfuzzer_sys::fuzz_target;
use phalanx_types::{Block, decode, encode};

fuzz_target!(|data: &[u8]| {
    if let Ok(block) = decode::<Block>(data) {
        assert_eq!(encode(&block), data, "non-canonical encoding accepted");
        let _ = block.hash();
        let _ = block.tx_root_matches();
    }
});
