//! Every wire decoder on arbitrary bytes, on a thread with a 64 KiB stack: a decoder that
//! recursed with its input (as the first round's nested transactions made it) overflows the
//! stack and aborts the run.
//!
//! `cargo +nightly fuzz run decode_small_stack` (from `node/types`).

#![no_main]

use libfuzzer_sys::fuzz_target;
use phalanx_types::consensus::{Evidence, SignedMessage};
use phalanx_types::{Block, CommitCertificate, SignedTx, decode};

fuzz_target!(|data: &[u8]| {
    let data = data.to_vec();
    std::thread::Builder::new()
        .stack_size(64 * 1024)
        .spawn(move || {
            let _ = SignedTx::from_bytes(&data);
            let _ = decode::<SignedMessage>(&data);
            let _ = decode::<Evidence>(&data);
            let _ = decode::<Vec<(Block, CommitCertificate)>>(&data);
        })
        .expect("a decoder thread")
        .join()
        .expect("decoders return errors, never panic");
});
