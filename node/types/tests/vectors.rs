//! Golden test vectors for clients outside Rust (docs/WIRE.md): the encodings, hashes and
//! signatures the Rust code produces for fixed inputs, kept in `tests/vectors/*.json`. This
//! test fails if the code and the files disagree; `PHALANX_UPDATE_VECTORS=1` rewrites the
//! files after an intended change (review the diff: every client must follow it).

mod golden;

use golden::hex;
use phalanx_types::consensus::{Phase, Statement, VoteSignature};
use phalanx_types::*;
use serde_json::{Value, json};
use std::path::Path;

fn key(i: u8) -> SecretKey {
    SecretKey::from_seed([i; 32])
}

fn golden(name: &str, value: &Value) {
    golden::golden(Path::new(env!("CARGO_MANIFEST_DIR")), name, value);
}

const CHAIN: &str = "phalanx-vectors";

/// The hashing domains with the context strings docs/WIRE.md lists.
const DOMAINS: &[(Domain, &str, &str)] = &[
    (Domain::TxSign, "TxSign", "phalanx 2026 tx-sign v1"),
    (Domain::Tx, "Tx", "phalanx 2026 tx v1"),
    (Domain::Header, "Header", "phalanx 2026 header v1"),
    (
        Domain::ConsensusSign,
        "ConsensusSign",
        "phalanx 2026 consensus-sign v1",
    ),
    (Domain::Address, "Address", "phalanx 2026 address v1"),
    (
        Domain::ContractAddress,
        "ContractAddress",
        "phalanx 2026 contract-address v1",
    ),
    (
        Domain::ValidatorSet,
        "ValidatorSet",
        "phalanx 2026 validator-set v1",
    ),
    (Domain::Genesis, "Genesis", "phalanx 2026 genesis v1"),
    (Domain::Receipt, "Receipt", "phalanx 2026 receipt v1"),
    (
        Domain::MerkleLeaf,
        "MerkleLeaf",
        "phalanx 2026 merkle-leaf v1",
    ),
    (
        Domain::MerkleNode,
        "MerkleNode",
        "phalanx 2026 merkle-node v1",
    ),
    (Domain::StateTree, "StateTree", "phalanx 2026 state-tree v1"),
    (Domain::Code, "Code", "phalanx 2026 code v1"),
    (
        Domain::ConsensusContent,
        "ConsensusContent",
        "phalanx 2026 consensus-content v1",
    ),
];

#[test]
fn hashing() {
    let domains: Vec<Value> = DOMAINS
        .iter()
        .map(|(d, name, context)| {
            let key = blake3::derive_key(context, b"");
            let digest = Hash::digest(*d, b"phalanx");
            // The documented construction gives the code's digest.
            assert_eq!(
                *blake3::keyed_hash(&key, b"phalanx").as_bytes(),
                digest.0,
                "{name}"
            );
            json!({"domain": name, "context": context, "key": hex(&key),
                   "digest_of_utf8_phalanx": digest.to_hex()})
        })
        .collect();
    golden("hashing", &json!({ "domains": domains }));
}

#[test]
fn keys() {
    let entries: Vec<Value> = [1u8, 2, 3]
        .iter()
        .map(|i| {
            let k = key(*i);
            let message = b"phalanx vectors";
            json!({
                "seed": hex(&[*i; 32]),
                "public_key": k.public_key().to_hex(),
                "address": k.address().to_hex(),
                "message_utf8": "phalanx vectors",
                "signature": k.sign(message).to_hex(),
                "contract_address_nonce_5": Address(
                    Hash::of(Domain::ContractAddress, &(k.address(), 5u64)).0
                ).to_hex(),
            })
        })
        .collect();
    golden("keys", &json!({ "keys": entries }));
}

fn payloads() -> Vec<(&'static str, TxPayload)> {
    let contract = Address([0xc0; 32]);
    let code_hash = Hash::digest(Domain::Code, b"\0asm\x01\0\0\0");
    vec![
        (
            "deploy",
            TxPayload::Deploy {
                code: Bytes(b"\0asm\x01\0\0\0".to_vec()),
                init_args: Bytes(br#"{"supply":"1000"}"#.to_vec()),
                admin: Some(Admin::Account(key(1).address())),
            },
        ),
        (
            "instantiate",
            TxPayload::Instantiate {
                code_hash,
                init_args: Bytes(Vec::new()),
                admin: None,
            },
        ),
        (
            "call",
            TxPayload::Call {
                contract,
                method: "transfer".into(),
                args: Bytes(
                    format!(r#"{{"to":"{}","amount":"250"}}"#, key(2).address()).into_bytes(),
                ),
            },
        ),
        (
            "governance_propose",
            TxPayload::Governance(GovernanceAction::Propose {
                change: Proposal::SetParam {
                    name: "block_interval_ms".into(),
                    value: 500,
                },
                force: false,
            }),
        ),
        (
            "governance_approve",
            TxPayload::Governance(GovernanceAction::Approve { proposal_id: 3 }),
        ),
        (
            "migrate",
            TxPayload::Migrate {
                contract,
                code_hash,
                code: None,
                args: Bytes(br#"{"note":"v2"}"#.to_vec()),
            },
        ),
        (
            "set_admin",
            TxPayload::SetAdmin {
                contract,
                admin: Some(Admin::Governance),
            },
        ),
    ]
}

#[test]
fn transactions() {
    let signer = key(1);
    let entries: Vec<Value> = payloads()
        .into_iter()
        .enumerate()
        .map(|(i, (kind, payload))| {
            let tx = Tx {
                chain_id: CHAIN.into(),
                sender: signer.public_key(),
                nonce: 7 + i as u64,
                gas_limit: 1_000_000,
                payload,
            };
            let signing = tx.signing_hash();
            let signed = tx.clone().sign(&signer);
            signed.verify(CHAIN).expect("the vector signs correctly");
            json!({
                "kind": kind,
                "tx": serde_json::to_value(&tx).unwrap(),
                "tx_encoding": hex(&encode(&tx)),
                "signing_hash": signing.to_hex(),
                "signature": signed.signature.to_hex(),
                "signed_encoding": hex(&signed.to_bytes()),
                "id": signed.hash().to_hex(),
            })
        })
        .collect();
    golden(
        "transactions",
        &json!({"signer_seed": hex(&[1; 32]), "transactions": entries}),
    );
}

fn vector_set() -> (Vec<SecretKey>, ValidatorSet) {
    let keys: Vec<SecretKey> = (11..15).map(key).collect();
    let set = ValidatorSet::new(
        keys.iter()
            .enumerate()
            .map(|(i, k)| Validator::new(k.public_key(), format!("12D3KooWVectorPeer{i}")))
            .collect(),
    );
    (keys, set)
}

fn vector_header(set: &ValidatorSet) -> Header {
    let txs: Vec<Hash> = (0u8..3).map(|i| Hash::digest(Domain::Tx, &[i])).collect();
    Header {
        chain_id: CHAIN.into(),
        height: 9,
        parent_hash: Hash::digest(Domain::Header, b"parent"),
        timestamp_ms: 1_764_400_000_000,
        proposer: set.validators[0].address,
        tx_root: merkle::merkle_root(&txs),
        state_root: Hash::digest(Domain::StateTree, b"state"),
        receipts_root: Hash::ZERO,
        validators_hash: set.hash(),
    }
}

#[test]
fn blocks() {
    let (_, set) = vector_set();
    let header = vector_header(&set);
    let leaves: Vec<Hash> = (0u8..3).map(|i| Hash::digest(Domain::Tx, &[i])).collect();
    let merkle: Vec<Value> = (0..=leaves.len())
        .map(|n| {
            json!({"leaves": leaves[..n].iter().map(Hash::to_hex).collect::<Vec<_>>(),
                   "root": merkle::merkle_root(&leaves[..n]).to_hex()})
        })
        .collect();
    let receipt = Receipt {
        tx_hash: leaves[0],
        status: TxStatus::Failed {
            code: 1100,
            message: "insufficient balance".into(),
        },
        gas_used: 123_456,
        return_data: Bytes(Vec::new()),
        events: vec![Event {
            contract: Address([0xc0; 32]),
            topic: "transfer".into(),
            data: Bytes(br#"{"amount":"1"}"#.to_vec()),
        }],
        height: 9,
        index: 0,
    };
    golden(
        "blocks",
        &json!({
            "header": serde_json::to_value(&header).unwrap(),
            "header_encoding": hex(&encode(&header)),
            "block_id": header.hash().to_hex(),
            "merkle_roots": merkle,
            "receipt": serde_json::to_value(&receipt).unwrap(),
            "receipt_encoding": hex(&encode(&receipt)),
            "receipt_hash": receipt.hash().to_hex(),
            "validator_set": serde_json::to_value(&set).unwrap(),
            "validator_set_encoding": hex(&encode(&set)),
            "validator_set_hash": set.hash().to_hex(),
        }),
    );
}

#[test]
fn certificates() {
    let (keys, set) = vector_set();
    let header = vector_header(&set);
    let statement = Statement {
        phase: Phase::Commit,
        view: 2,
        height: header.height,
        digest: header.hash(),
    };
    let signing = statement.signing_hash(CHAIN);
    let certificate = CommitCertificate {
        height: header.height,
        view: 2,
        block_hash: header.hash(),
        signatures: keys[..3]
            .iter()
            .map(|k| VoteSignature {
                validator: k.address(),
                signature: k.sign(&signing.0),
            })
            .collect(),
    };
    certificate
        .verify(CHAIN, &set)
        .expect("the vector certificate holds");
    let mut tampered = certificate.clone();
    tampered.signatures[1].signature.0[0] ^= 1;
    assert!(tampered.verify(CHAIN, &set).is_err());
    let mut short = certificate.clone();
    short.signatures.pop();
    assert!(
        short.verify(CHAIN, &set).is_err(),
        "2 of 4 is below the quorum of 3"
    );
    golden(
        "certificates",
        &json!({
            "chain_id": CHAIN,
            "validator_seeds": keys.iter().enumerate().map(|(i, _)| hex(&[11 + i as u8; 32])).collect::<Vec<_>>(),
            "validator_set_hash": set.hash().to_hex(),
            "quorum": set.quorum(),
            "statement": serde_json::to_value(statement).unwrap(),
            "statement_encoding": hex(&encode(&statement)),
            "signing_hash": signing.to_hex(),
            "certificate": serde_json::to_value(&certificate).unwrap(),
            "certificate_encoding": hex(&encode(&certificate)),
            "valid": true,
            "tampered": {"certificate_encoding": hex(&encode(&tampered)), "valid": false},
            "below_quorum": {"certificate_encoding": hex(&encode(&short)), "valid": false},
        }),
    );
}

/// docs/WIRE.md sections 1, 4 and 5 implemented from the text alone: the bytes of a call
/// transaction and of a header, the signing hash, and a Merkle root.
#[test]
fn the_documented_rules_give_the_code_s_bytes() {
    fn string(out: &mut Vec<u8>, s: &[u8]) {
        out.extend_from_slice(&(s.len() as u64).to_le_bytes());
        out.extend_from_slice(s);
    }
    let signer = key(1);
    let contract = Address([0xc0; 32]);
    let args = br#"{"to":"ab","amount":"1"}"#;
    let tx = Tx {
        chain_id: CHAIN.into(),
        sender: signer.public_key(),
        nonce: 7,
        gas_limit: 1_000_000,
        payload: TxPayload::Call {
            contract,
            method: "transfer".into(),
            args: Bytes(args.to_vec()),
        },
    };
    let mut doc = Vec::new();
    string(&mut doc, CHAIN.as_bytes());
    doc.extend_from_slice(&signer.public_key().0);
    doc.extend_from_slice(&7u64.to_le_bytes());
    doc.extend_from_slice(&1_000_000u64.to_le_bytes());
    doc.extend_from_slice(&2u32.to_le_bytes()); // TxPayload::Call
    doc.extend_from_slice(&contract.0);
    string(&mut doc, b"transfer");
    string(&mut doc, args);
    assert_eq!(doc, encode(&tx));
    let key_of = |context: &str| blake3::derive_key(context, b"");
    let signing = blake3::keyed_hash(&key_of("phalanx 2026 tx-sign v1"), &doc);
    assert_eq!(signing.as_bytes(), &tx.signing_hash().0);
    let signed = tx.sign(&signer);
    let mut signed_doc = doc.clone();
    signed_doc.extend_from_slice(&signed.signature.0);
    assert_eq!(signed_doc, signed.to_bytes());
    let id = blake3::keyed_hash(&key_of("phalanx 2026 tx v1"), &signed_doc);
    assert_eq!(id.as_bytes(), &signed.hash().0);

    let (_, set) = vector_set();
    let header = vector_header(&set);
    let mut doc = Vec::new();
    string(&mut doc, header.chain_id.as_bytes());
    doc.extend_from_slice(&header.height.to_le_bytes());
    doc.extend_from_slice(&header.parent_hash.0);
    doc.extend_from_slice(&header.timestamp_ms.to_le_bytes());
    for h in [
        header.proposer.0,
        header.tx_root.0,
        header.state_root.0,
        header.receipts_root.0,
        header.validators_hash.0,
    ] {
        doc.extend_from_slice(&h);
    }
    assert_eq!(doc, encode(&header));

    // Merkle roots: leaves hashed, pairs combined, an odd node promoted, the length mixed in.
    let leaf = key_of("phalanx 2026 merkle-leaf v1");
    let node = key_of("phalanx 2026 merkle-node v1");
    let pair = |a: &[u8; 32], b: &[u8; 32]| {
        *blake3::keyed_hash(&node, &[&a[..], &b[..]].concat()).as_bytes()
    };
    let hashes: Vec<Hash> = (0u8..3).map(|i| Hash::digest(Domain::Tx, &[i])).collect();
    let l: Vec<[u8; 32]> = hashes
        .iter()
        .map(|h| *blake3::keyed_hash(&leaf, &h.0).as_bytes())
        .collect();
    let top = pair(&pair(&l[0], &l[1]), &l[2]);
    let root = blake3::keyed_hash(&node, &[&3u64.to_le_bytes()[..], &top[..]].concat());
    assert_eq!(root.as_bytes(), &merkle::merkle_root(&hashes).0);
}
