//! Property tests of the canonical encoding, hashing and signatures.

use phalanx_types::consensus::{ConsensusMessage, SignedMessage, Vote};
use phalanx_types::*;
use proptest::prelude::*;

fn arb_key() -> impl Strategy<Value = SecretKey> {
    any::<[u8; 32]>().prop_map(SecretKey::from_seed)
}

fn arb_payload() -> impl Strategy<Value = TxPayload> {
    prop_oneof![
        (
            proptest::collection::vec(any::<u8>(), 0..256),
            proptest::collection::vec(any::<u8>(), 0..64)
        )
            .prop_map(|(code, init)| TxPayload::Deploy {
                code: Bytes(code),
                init_args: Bytes(init),
                admin: None,
            }),
        (any::<[u8; 32]>(), any::<[u8; 32]>(), any::<bool>()).prop_map(|(c, a, gov)| {
            TxPayload::SetAdmin {
                contract: Address(c),
                admin: Some(if gov {
                    Admin::Governance
                } else {
                    Admin::Account(Address(a))
                }),
            }
        }),
        (
            any::<[u8; 32]>(),
            any::<[u8; 32]>(),
            proptest::option::of(proptest::collection::vec(any::<u8>(), 0..64)),
            proptest::collection::vec(any::<u8>(), 0..64)
        )
            .prop_map(|(c, h, code, a)| TxPayload::Migrate {
                contract: Address(c),
                code_hash: Hash(h),
                code: code.map(Bytes),
                args: Bytes(a),
            }),
        (
            any::<[u8; 32]>(),
            proptest::collection::vec(any::<u8>(), 0..64)
        )
            .prop_map(|(h, a)| {
                TxPayload::Instantiate {
                    code_hash: Hash(h),
                    init_args: Bytes(a),
                    admin: None,
                }
            }),
        (
            any::<[u8; 32]>(),
            "[a-z_]{1,20}",
            proptest::collection::vec(any::<u8>(), 0..64)
        )
            .prop_map(|(c, m, a)| TxPayload::Call {
                contract: Address(c),
                method: m,
                args: Bytes(a)
            }),
        any::<u64>()
            .prop_map(|id| TxPayload::Governance(GovernanceAction::Approve { proposal_id: id })),
    ]
}

fn arb_tx() -> impl Strategy<Value = (SecretKey, Tx)> {
    (
        arb_key(),
        "[a-z0-9-]{1,16}",
        any::<u64>(),
        any::<u64>(),
        arb_payload(),
    )
        .prop_map(|(key, chain_id, nonce, gas_limit, payload)| {
            let tx = Tx {
                chain_id,
                sender: key.public_key(),
                nonce,
                gas_limit,
                payload,
            };
            (key, tx)
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn signed_tx_round_trips((key, tx) in arb_tx()) {
        let stx = tx.sign(&key);
        let bytes = stx.to_bytes();
        let back = SignedTx::from_bytes(&bytes).unwrap();
        prop_assert_eq!(&back, &stx);
        prop_assert_eq!(back.hash(), stx.hash());
        // JSON round trip too (the RPC encoding).
        let json = serde_json::to_string(&stx).unwrap();
        prop_assert_eq!(serde_json::from_str::<SignedTx>(&json).unwrap(), stx);
    }

    #[test]
    fn distinct_txs_have_distinct_hashes((k1, t1) in arb_tx(), (k2, t2) in arb_tx()) {
        prop_assume!(t1 != t2);
        prop_assert_ne!(t1.signing_hash(), t2.signing_hash());
        prop_assert_ne!(t1.sign(&k1).hash(), t2.sign(&k2).hash());
    }

    #[test]
    fn signature_is_bound_to_chain_id((key, tx) in arb_tx(), other in "[a-z0-9-]{1,16}") {
        prop_assume!(other != tx.chain_id);
        let chain = tx.chain_id.clone();
        let mut stx = tx.sign(&key);
        prop_assert!(stx.verify(&chain).is_ok());
        // The same signature presented on another chain: the chain id check fails…
        prop_assert!(stx.verify(&other).is_err());
        // …and even with the body rewritten to the other chain, the signature no longer verifies.
        stx.tx.chain_id = other.clone();
        prop_assert_eq!(stx.verify(&other), Err(TypesError::InvalidSignature));
    }

    #[test]
    fn consensus_vote_is_bound_to_chain_id(key in arb_key(), view in any::<u64>(), height in any::<u64>(), h in any::<[u8; 32]>()) {
        let vote = ConsensusMessage::Commit(Vote { view, height, block_hash: Hash(h) });
        let set = ValidatorSet::new(vec![Validator::new(key.public_key(), "p")]);
        let signed = vote.sign("chain-a", &key);
        prop_assert!(signed.verify("chain-a", &set).is_ok());
        prop_assert!(signed.verify("chain-b", &set).is_err());
        let back = SignedMessage::from_bytes(&signed.to_bytes()).unwrap();
        prop_assert_eq!(back, signed);
    }

    #[test]
    fn decoding_garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = SignedTx::from_bytes(&bytes);
        let _ = SignedMessage::from_bytes(&bytes);
        let _ = decode::<Block>(&bytes);
    }
}
