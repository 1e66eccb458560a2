//! The largest encodings of what validators send each other, at given chain parameters.
//!
//! Every frame on the wire is at most [`MAX_FRAME_BYTES`]. The largest consensus message is a
//! NEW-VIEW: one block (the re-proposal) plus a VIEW-CHANGE from every validator, each with a
//! prepared certificate of a quorum of signatures. [`max_message_bytes`] measures that worst
//! case on a skeleton of the real types, so genesis and governance can refuse parameters
//! under which an honest validator could build a message no peer accepts.

use crate::block::{Block, CheckedBlock, Header};
use crate::consensus::{
    ConsensusMessage, NewView, PrePrepare, PreparedCertificate, Signed, ViewChange, VoteSignature,
};
use crate::crypto::{Address, Signature};
use crate::hash::Hash;
use crate::tx::MAX_CHAIN_ID_LEN;
use crate::{CommitCertificate, encoding};

/// Largest frame a peer accepts (the decoder's own limit).
pub const MAX_FRAME_BYTES: usize = encoding::MAX_DECODE_BYTES;

/// Bytes a frame adds around a message (the request's tag), with room to spare.
const FRAME_OVERHEAD: usize = 64;

fn skeleton_block() -> CheckedBlock {
    CheckedBlock::check(Block {
        header: Header::blank(&"c".repeat(MAX_CHAIN_ID_LEN), u64::MAX),
        txs: Vec::new(),
    })
    .expect("an empty block matches the zero tx root")
}

fn signatures(n: usize) -> Vec<VoteSignature> {
    (0..n)
        .map(|_| VoteSignature {
            validator: Address([0; 32]),
            signature: Signature([0; 64]),
        })
        .collect()
}

/// The encoded size of the largest consensus message (as a wire frame) when blocks carry at
/// most `max_block_bytes` of transactions and the set has `validators` members.
pub fn max_message_bytes(max_block_bytes: usize, validators: usize) -> usize {
    let validators = validators.max(1);
    let block = skeleton_block();
    let certificate = PreparedCertificate {
        view: 0,
        height: 0,
        block_hash: Hash::ZERO,
        pre_prepare: Signature([0; 64]),
        prepares: signatures(validators),
    };
    let view_change = |block: Option<CheckedBlock>| Signed {
        author: Address([0; 32]),
        body: ViewChange {
            view: 0,
            height: 0,
            prepared: Some(certificate.clone()),
            block,
        },
        signature: Signature([0; 64]),
    };
    let new_view = Signed {
        author: Address([0; 32]),
        body: ConsensusMessage::NewView(NewView {
            view: 0,
            height: 0,
            view_changes: (0..validators).map(|_| view_change(None)).collect(),
            pre_prepare: Signed {
                author: Address([0; 32]),
                body: PrePrepare {
                    view: 0,
                    height: 0,
                    block: block.clone(),
                },
                signature: Signature([0; 64]),
            },
        }),
        signature: Signature([0; 64]),
    };
    let lone_view_change = view_change(Some(block.clone())).into_message();
    let synced = (
        block.clone(),
        CommitCertificate {
            height: 0,
            view: 0,
            block_hash: Hash::ZERO,
            signatures: signatures(validators),
        },
    );
    let skeleton = encoding::encoded_len(&new_view)
        .max(encoding::encoded_len(&lone_view_change))
        .max(encoding::encoded_len(&synced));
    skeleton + max_block_bytes + FRAME_OVERHEAD
}

/// True if every message fits a frame at these parameters.
pub fn messages_fit(max_block_bytes: usize, validators: usize) -> bool {
    max_message_bytes(max_block_bytes, validators) <= MAX_FRAME_BYTES
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_view_is_one_block_plus_small_certificates() {
        let small = max_message_bytes(1024, 4);
        assert!(small < 1024 + 4_000, "{small}");
        // Growing blocks grow the bound byte for byte: a NEW-VIEW carries one block.
        assert_eq!(max_message_bytes(4 << 20, 4) - small, (4 << 20) - 1024);
        // 128 validators: each certificate holds 128 signatures of 96 bytes.
        let wide = max_message_bytes(0, 128);
        assert!(wide > 128 * 128 * 96 && wide < 2 << 20, "{wide}");
        assert!(messages_fit(8 << 20, 128));
        assert!(!messages_fit(16 << 20, 4));
    }
}
