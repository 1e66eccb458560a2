//! The wire vocabulary cannot nest, and hostile bytes fail to decode without recursing.

use crate::attacks::{nested_transaction, recursive_types};
use crate::consensus::{Evidence, SignedMessage};
use crate::{Block, CommitCertificate, SignedTx, decode, decode_with_limit};

/// Runs `f` on a thread with a small stack (64 KiB): a decoder that recursed with its input
/// would overflow it and abort the test binary.
fn on_small_stack<R: Send + 'static>(f: impl FnOnce() -> R + Send + 'static) -> R {
    std::thread::Builder::new()
        .stack_size(64 * 1024)
        .spawn(f)
        .expect("thread")
        .join()
        .expect("decoder thread")
}

#[test]
fn no_decodable_type_nests() {
    assert_eq!(recursive_types::<SignedTx>(), Ok(vec![]));
    assert_eq!(recursive_types::<SignedMessage>(), Ok(vec![]));
    assert_eq!(recursive_types::<Evidence>(), Ok(vec![]));
    assert_eq!(recursive_types::<(Block, CommitCertificate)>(), Ok(vec![]));
}

#[test]
fn the_tracer_finds_recursion() {
    // The check itself: a type that holds itself is reported.
    #[derive(serde::Deserialize)]
    #[allow(dead_code)]
    enum Tree {
        Leaf(u8),
        Node(Vec<Tree>),
    }
    assert_eq!(recursive_types::<Tree>(), Ok(vec!["Tree".to_string()]));
}

#[test]
fn a_deeply_nested_transaction_is_refused_without_recursing() {
    // The payload that overflowed a node's stack in the first round: 1,100 levels, 733 KB.
    let bytes = nested_transaction(1_100, "c");
    assert!(bytes.len() > 700_000 && bytes.len() < crate::tx::MAX_TX_BYTES);
    let result = on_small_stack(move || SignedTx::from_bytes(&bytes).map(|_| ()));
    assert!(result.is_err(), "{result:?}");
    // Any depth fails the same way (the evidence slot no longer holds messages).
    let shallow = nested_transaction(2, "c");
    assert!(SignedTx::from_bytes(&shallow).is_err());
    // A single level, with no evidence, is an ordinary removal proposal.
    assert!(SignedTx::from_bytes(&nested_transaction(1, "c")).is_ok());
}

mod fuzz {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// Arbitrary bytes, and mutations of valid encodings, decode or fail cleanly on a
        /// small stack, for every wire type.
        #[test]
        fn decoders_never_recurse_or_panic(
            noise in proptest::collection::vec(any::<u8>(), 0..4096),
            flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..16),
        ) {
            let mut mutated = nested_transaction(3, "c");
            for (at, b) in &flips {
                let i = at % mutated.len();
                mutated[i] ^= b;
            }
            on_small_stack(move || {
                for input in [&noise, &mutated] {
                    let _ = decode_with_limit::<SignedTx>(input, crate::tx::MAX_TX_BYTES);
                    let _ = decode::<SignedMessage>(input);
                    let _ = decode::<Evidence>(input);
                    let _ = decode::<Vec<(Block, CommitCertificate)>>(input);
                }
            });
        }
    }
}
