//! Hostile encodings, for tests and the test-only Byzantine mode (feature `test-support`).
//!
//! The real types cannot hold these values (that is the point of them), so each is built
//! from a mirror of the wire layout and encoded with the canonical encoding: bytes a peer or
//! client could send, which every decoder must refuse with an error.

use crate::block::Header;
use crate::bytes::Bytes;
use crate::consensus::SignedMessage;
use crate::crypto::{Address, PublicKey, Signature};
use crate::hash::Hash;
use crate::tx::SignedTx;
use crate::{Height, View, encoding};
use serde::Serialize;

/// A PRE-PREPARE exactly as `message` (same header, same signature) but with `txs` as the
/// block's body: the body swap of a Byzantine primary. `None` if `message` is not a
/// PRE-PREPARE.
pub fn pre_prepare_with_body(message: &SignedMessage, txs: Vec<SignedTx>) -> Option<Vec<u8>> {
    let crate::consensus::ConsensusMessage::PrePrepare(pp) = &message.body else {
        return None;
    };
    swap_body(message, pp.block.block(), &txs)
}

/// The encoding of a transaction in the layout of the first round, where a removal
/// proposal's evidence held two whole signed messages, a PRE-PREPARE held a whole block, and
/// a block held transactions: `depth` transactions nested inside one another. About 670
/// bytes per level. Decoding it with today's types must fail at once, without recursing.
pub fn nested_transaction(depth: usize, chain_id: &str) -> Vec<u8> {
    #[derive(Serialize)]
    struct OldSignedTx {
        tx: OldTx,
        signature: Signature,
    }
    #[derive(Serialize)]
    struct OldTx {
        chain_id: String,
        sender: PublicKey,
        nonce: u64,
        gas_limit: u64,
        payload: OldPayload,
    }
    #[derive(Serialize)]
    #[allow(dead_code)]
    enum OldPayload {
        Deploy {
            code: Bytes,
            init_args: Bytes,
        },
        Instantiate {
            code_hash: Hash,
            init_args: Bytes,
        },
        Call {
            contract: Address,
            method: String,
            args: Bytes,
        },
        Governance(OldAction),
    }
    #[derive(Serialize)]
    enum OldAction {
        Propose { change: OldProposal, force: bool },
    }
    #[derive(Serialize)]
    #[allow(dead_code)]
    enum OldProposal {
        AddValidator {
            public_key: PublicKey,
            peer_id: String,
        },
        RemoveValidator {
            address: Address,
            evidence: Option<Box<OldEvidence>>,
        },
    }
    #[derive(Serialize)]
    struct OldEvidence {
        first: OldSigned,
        second: OldSigned,
    }
    #[derive(Serialize)]
    struct OldSigned {
        author: Address,
        body: OldMessage,
        signature: Signature,
    }
    #[derive(Serialize)]
    enum OldMessage {
        PrePrepare {
            view: View,
            height: Height,
            block: OldBlock,
        },
    }
    #[derive(Serialize)]
    struct OldBlock {
        header: Header,
        txs: Vec<OldSignedTx>,
    }
    let header = Header::blank(chain_id, 1);
    let leaf = |evidence: Option<Box<OldEvidence>>| OldSignedTx {
        tx: OldTx {
            chain_id: chain_id.into(),
            sender: PublicKey([1; 32]),
            nonce: 0,
            gas_limit: 1,
            payload: OldPayload::Governance(OldAction::Propose {
                change: OldProposal::RemoveValidator {
                    address: Address([2; 32]),
                    evidence,
                },
                force: false,
            }),
        },
        signature: Signature([0; 64]),
    };
    let message = |txs: Vec<OldSignedTx>| OldSigned {
        author: Address([2; 32]),
        body: OldMessage::PrePrepare {
            view: 0,
            height: 1,
            block: OldBlock {
                header: header.clone(),
                txs,
            },
        },
        signature: Signature([0; 64]),
    };
    let mut tx = leaf(None);
    for _ in 1..depth.max(1) {
        tx = leaf(Some(Box::new(OldEvidence {
            first: message(vec![tx]),
            second: message(Vec::new()),
        })));
    }
    // Encoding (and dropping) the nested value recurses: do it where the stack is ample.
    std::thread::Builder::new()
        .stack_size(1 << 30)
        .spawn(move || {
            let bytes = encoding::encode(&tx);
            drop(tx);
            bytes
        })
        .expect("a thread to encode on")
        .join()
        .expect("encoding the nested transaction")
}

/// The container types that can contain themselves, found by tracing `T`'s decoder with
/// serde-reflection: empty if decoding `T` can never recurse without bound. `Err` if the
/// type could not be traced.
pub fn recursive_types<T: serde::de::DeserializeOwned>() -> Result<Vec<String>, String> {
    use serde_reflection::{ContainerFormat, Format, Samples, Tracer, TracerConfig, VariantFormat};
    use std::collections::{BTreeMap, BTreeSet};

    let mut tracer = Tracer::new(TracerConfig::default());
    let mut samples = Samples::new();
    // A block's decoder checks its body: trace the plain block, then give the tracer a
    // sample whose body passes.
    tracer
        .trace_type::<crate::block::Block>(&samples)
        .map_err(|e| e.to_string())?;
    let block = crate::block::CheckedBlock::check(crate::block::Block {
        header: Header::blank("", 0),
        txs: Vec::new(),
    })
    .map_err(|e| e.to_string())?;
    tracer
        .trace_value(&mut samples, &block)
        .map_err(|e| e.to_string())?;
    // The tracer explores a nested enum's variants only when that enum is traced on its
    // own: trace every enum of the vocabulary first (a missing one makes `registry` fail).
    fn all<'de, E: serde::Deserialize<'de>>(
        tracer: &mut Tracer,
        samples: &'de Samples,
    ) -> Result<(), String> {
        tracer
            .trace_type::<E>(samples)
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
    all::<crate::tx::TxPayload>(&mut tracer, &samples)?;
    all::<crate::tx::GovernanceAction>(&mut tracer, &samples)?;
    all::<crate::tx::Proposal>(&mut tracer, &samples)?;
    all::<crate::tx::Admin>(&mut tracer, &samples)?;
    all::<crate::consensus::Phase>(&mut tracer, &samples)?;
    all::<crate::consensus::ConsensusMessage>(&mut tracer, &samples)?;
    all::<crate::receipt::TxStatus>(&mut tracer, &samples)?;
    all::<T>(&mut tracer, &samples)?;
    let registry = tracer.registry().map_err(|e| e.to_string())?;

    fn names(f: &Format, out: &mut BTreeSet<String>) {
        match f {
            Format::TypeName(n) => {
                out.insert(n.clone());
            }
            Format::Option(x) | Format::Seq(x) => names(x, out),
            Format::Map { key, value } => {
                names(key, out);
                names(value, out);
            }
            Format::Tuple(xs) => xs.iter().for_each(|x| names(x, out)),
            Format::TupleArray { content, .. } => names(content, out),
            _ => {}
        }
    }
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (name, container) in &registry {
        let mut out = BTreeSet::new();
        match container {
            ContainerFormat::NewTypeStruct(f) => names(f, &mut out),
            ContainerFormat::TupleStruct(fs) => fs.iter().for_each(|f| names(f, &mut out)),
            ContainerFormat::Struct(fs) => fs.iter().for_each(|f| names(&f.value, &mut out)),
            ContainerFormat::Enum(vs) => {
                for v in vs.values() {
                    match &v.value {
                        VariantFormat::NewType(f) => names(f, &mut out),
                        VariantFormat::Tuple(fs) => fs.iter().for_each(|f| names(f, &mut out)),
                        VariantFormat::Struct(fs) => {
                            fs.iter().for_each(|f| names(&f.value, &mut out))
                        }
                        _ => {}
                    }
                }
            }
            _ => {}
        }
        edges.insert(name.clone(), out);
    }
    // A type is recursive if it can reach itself.
    let mut recursive = Vec::new();
    for start in edges.keys() {
        let mut seen = BTreeSet::new();
        let mut stack: Vec<&String> = edges[start].iter().collect();
        while let Some(n) = stack.pop() {
            if n == start {
                recursive.push(start.clone());
                break;
            }
            if seen.insert(n.clone()) {
                stack.extend(edges.get(n).into_iter().flatten());
            }
        }
    }
    Ok(recursive)
}

/// `message`'s encoding with the transactions of `block` (a block it carries: a proposal,
/// the proposal inside a NEW-VIEW, or a VIEW-CHANGE's prepared block) replaced by `txs`,
/// header and signatures untouched: the body swap of a Byzantine sender or relayer. `None`
/// if the message does not carry `block`.
pub fn swap_body<T: Serialize>(
    message: &T,
    block: &crate::Block,
    txs: &[SignedTx],
) -> Option<Vec<u8>> {
    let bytes = encoding::encode(message);
    let mut honest = encoding::encode(&block.header);
    let cut = honest.len();
    honest.extend_from_slice(&encoding::encode(&block.txs));
    let at = bytes
        .windows(honest.len())
        .position(|w| w == honest.as_slice())?;
    let mut out = bytes[..at + cut].to_vec();
    out.extend_from_slice(&encoding::encode(&txs));
    out.extend_from_slice(&bytes[at + honest.len()..]);
    Some(out)
}
