//! Node status, blocks, certificates, validator sets and evidence.

use phalanx_types::{
    Address, Block, CommitCertificate, Hash, Header, Height, PublicKey, Signature, SignedTx,
    ValidatorSet, View,
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// `node_status`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Status {
    /// The chain id.
    pub chain_id: String,
    /// The node's version.
    pub version: String,
    /// The commit it was built from ("unknown" outside a git checkout).
    pub commit: String,
    /// Its libp2p peer id.
    pub peer_id: String,
    /// Its validator address while it is in the current set.
    pub validator: Option<Address>,
    /// Size of the current validator set.
    pub validators: usize,
    /// Latest committed height.
    pub height: Height,
    /// Its hash.
    pub latest_hash: Hash,
    /// Its state root.
    pub state_root: Hash,
    /// The consensus view.
    pub view: View,
    /// True while this node leads the view.
    pub is_primary: bool,
    /// Connected peers.
    pub peers: usize,
    /// True while a peer is known to be more than one block ahead.
    pub syncing: bool,
    /// Pending transactions.
    pub mempool: usize,
    /// The lowest height whose block this node still holds (pruning raises it).
    pub earliest_height: Height,
    /// The lowest height whose state this node still holds.
    pub earliest_state_height: Height,
}

/// `chain_getBlock`: by height or by hash (not both); the latest by default.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BlockParams {
    /// The block's height.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<Height>,
    /// The block's hash.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hash: Option<Hash>,
    /// Leave the transaction hashes out (`txs` is empty; `tx_count` still counts them): for
    /// views of many blocks of a busy chain.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub omit_txs: bool,
}

/// A block header, with the block's hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct HeaderView {
    /// The chain id.
    pub chain_id: String,
    /// The height.
    pub height: Height,
    /// The block's hash (of the header).
    pub hash: Hash,
    /// The parent block's hash.
    pub parent: Hash,
    /// The proposer's timestamp, ms since the Unix epoch.
    pub time: u64,
    /// The proposer's address.
    pub proposer: Address,
    /// Merkle root of the transaction hashes.
    pub tx_root: Hash,
    /// The state root after the block.
    pub state_root: Hash,
    /// Merkle root of the receipts.
    pub receipts_root: Hash,
    /// Hash of the validator set that decided the block.
    pub validators_hash: Hash,
}

impl HeaderView {
    /// The view of `header`.
    pub fn new(header: &Header) -> HeaderView {
        HeaderView {
            chain_id: header.chain_id.clone(),
            height: header.height,
            hash: header.hash(),
            parent: header.parent_hash,
            time: header.timestamp_ms,
            proposer: header.proposer,
            tx_root: header.tx_root,
            state_root: header.state_root,
            receipts_root: header.receipts_root,
            validators_hash: header.validators_hash,
        }
    }
}

/// One validator's commit signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SignatureView {
    /// The validator's address.
    pub validator: Address,
    /// Its signature of the COMMIT.
    pub signature: Signature,
}

/// A commit certificate: a quorum of COMMIT signatures for the block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CertificateView {
    /// The block's height.
    pub height: Height,
    /// The view it was committed in.
    pub view: View,
    /// The block's hash.
    pub block_hash: Hash,
    /// The signatures.
    pub signatures: Vec<SignatureView>,
}

impl CertificateView {
    /// The view of `c`.
    pub fn new(c: &CommitCertificate) -> CertificateView {
        CertificateView {
            height: c.height,
            view: c.view,
            block_hash: c.block_hash,
            signatures: c
                .signatures
                .iter()
                .map(|s| SignatureView {
                    validator: s.validator,
                    signature: s.signature,
                })
                .collect(),
        }
    }
}

/// `chain_getBlock`: a block's header, its transactions' hashes and its certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct BlockView {
    /// The header.
    pub header: HeaderView,
    /// The transactions' hashes, in block order (empty when asked with `omit_txs`).
    pub txs: Vec<Hash>,
    /// How many transactions the block holds.
    pub tx_count: usize,
    /// The commit certificate (null where the node holds none).
    pub certificate: Option<CertificateView>,
}

impl BlockView {
    /// The view of `b` with its certificate, if given.
    pub fn new(b: &Block, cert: Option<&CommitCertificate>) -> BlockView {
        BlockView {
            header: HeaderView::new(&b.header),
            txs: b.txs.iter().map(SignedTx::hash).collect(),
            tx_count: b.txs.len(),
            certificate: cert.map(CertificateView::new),
        }
    }
}

/// A `blocks` subscription's notification: the block (without certificate) and how its
/// transactions fared.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct NewBlock {
    /// The block.
    #[serde(flatten)]
    pub block: BlockView,
    /// How many receipts it has (one per transaction).
    pub receipts: usize,
    /// Per transaction, in block order: whether it succeeded.
    pub ok: Vec<bool>,
}

/// `chain_getValidators`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ValidatorsParams {
    /// The height decided (default: the next block).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<Height>,
}

/// A validator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ValidatorView {
    /// Its address.
    pub address: Address,
    /// Its consensus public key.
    pub public_key: PublicKey,
    /// Its node's libp2p peer id.
    pub peer_id: String,
}

/// A validator set, in primary order.
pub fn set_view(set: &ValidatorSet) -> Vec<ValidatorView> {
    set.validators
        .iter()
        .map(|v| ValidatorView {
            address: v.address,
            public_key: v.public_key,
            peer_id: v.peer_id.clone(),
        })
        .collect()
}

/// `chain_getValidatorSetProof`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SetProofParams {
    /// The height decided (2 or more: height 1's set is genesis's).
    pub height: Height,
}

/// The validator set deciding `height`, with what proves it: the configuration record in
/// the state after block `height - 1`, its Merkle proof against that block's state root, and
/// that block's header and commit certificate (raw encodings, base64; docs/WIRE.md).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct SetProof {
    /// The height decided.
    pub height: Height,
    /// The set.
    pub validators: Vec<ValidatorView>,
    /// The configuration record, base64.
    pub config_raw: String,
    /// Its state key, base64.
    pub state_key: String,
    /// The Merkle proof, base64.
    pub proof: String,
    /// The header of block `height - 1`, base64.
    pub header_raw: String,
    /// Its commit certificate, base64.
    pub certificate_raw: String,
}

/// `evidence_list`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EvidenceParams {
    /// The lowest height listed (default 0).
    #[serde(default)]
    pub from_height: Height,
}

/// Stored equivocation evidence: two conflicting signed statements of one validator.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct EvidenceView {
    /// The height.
    pub height: Height,
    /// The equivocating validator.
    pub offender: Address,
    /// The phase (`PrePrepare`, `Prepare`, `Commit`, `ViewChange`, `NewView`).
    pub phase: String,
    /// The view.
    pub view: View,
    /// What the first signature covers: a block hash for proposals and votes, the content's
    /// digest for VIEW-CHANGE and NEW-VIEW.
    pub first: Hash,
    /// What the second covers.
    pub second: Hash,
    /// The canonical encoding, base64: what a removal proposal carries as proof.
    pub raw: String,
}
