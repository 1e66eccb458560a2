//! What goes in and out of [`crate::NodeCore`]: the events it handles, the actions it asks
//! the node to carry out, and what it publishes.

use phalanx_consensus::Timeout;
use phalanx_executor::mempool::VerifiedTx;
use phalanx_types::consensus::SignedMessage;
use phalanx_types::{
    Address, Block, CommitCertificate, Hash, Height, Receipt, SignedTx, ValidatorSet, View,
};

/// A sync answer: committed blocks with their certificates, and the sender's tip.
#[derive(Debug, Clone, Default)]
pub struct SyncBatch {
    /// Consecutive certified blocks.
    pub blocks: Vec<(Block, CommitCertificate)>,
    /// The sender's latest height.
    pub tip: Height,
}

/// Something that happened to the node.
#[derive(Debug, Clone)]
pub enum Event {
    /// A consensus message from a peer (unverified).
    Message(Box<SignedMessage>),
    /// A consensus timer fired.
    Timeout(Timeout),
    /// The delay before proposing a block for (view, height) ended.
    ProposalDue {
        /// View.
        view: View,
        /// Height.
        height: Height,
    },
    /// Transactions forwarded by a peer, verified on arrival (admitted without forwarding
    /// them again).
    PeerTxs(Vec<VerifiedTx>),
    /// A peer said how far its chain goes.
    PeerStatus {
        /// The peer (libp2p peer id).
        peer: String,
        /// Its latest committed height.
        height: Height,
    },
    /// A peer answered a block request (an empty batch if the request failed).
    Blocks {
        /// The peer.
        peer: String,
        /// What it sent.
        batch: SyncBatch,
    },
}

/// Something the node must do for the core.
#[derive(Debug, Clone)]
pub enum Action {
    /// Send to every other validator.
    Broadcast(Box<SignedMessage>),
    /// Forward transactions admitted here to the other validators.
    GossipTxs(Vec<SignedTx>),
    /// Feed [`Event::Timeout`] back after `after_ms`.
    ScheduleTimeout {
        /// The timer.
        timeout: Timeout,
        /// Delay (ms).
        after_ms: u64,
    },
    /// Feed [`Event::ProposalDue`] back after `after_ms`.
    ScheduleProposal {
        /// View.
        view: View,
        /// Height.
        height: Height,
        /// Delay (ms).
        after_ms: u64,
    },
    /// Ask `peer` for certified blocks from `from` and feed the answer as [`Event::Blocks`].
    RequestBlocks {
        /// The peer.
        peer: String,
        /// First height wanted.
        from: Height,
    },
    /// Tell `peer` this node's height (it is behind and will fetch from us).
    SendStatus {
        /// The peer.
        peer: String,
    },
    /// A block is final and stored.
    Committed(Box<CommittedBlock>),
    /// Who took part in a height this node decided through consensus (not sync): the
    /// validators whose votes arrived before it committed, and those whose did not.
    Participation {
        /// The height.
        height: Height,
        /// Validators whose vote arrived.
        voted: Vec<Address>,
        /// Validators of that height's set whose vote did not.
        missed: Vec<Address>,
    },
    /// Who may connect changed (at start, and when governance schedules or applies a
    /// validator-set change): the current set and the scheduled one, if any.
    Membership {
        /// The validators of the next block.
        validators: ValidatorSet,
        /// The set a scheduled change will install.
        upcoming: Option<ValidatorSet>,
    },
}

/// A committed block with its receipts, as published to subscribers.
#[derive(Debug, Clone)]
pub struct CommittedBlock {
    /// The block.
    pub block: Block,
    /// Its receipts.
    pub receipts: Vec<Receipt>,
}

/// A snapshot of the node for status reporting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeStatus {
    /// Latest committed height.
    pub height: Height,
    /// Its hash.
    pub hash: Hash,
    /// Its state root.
    pub state_root: Hash,
    /// The consensus view.
    pub view: View,
    /// True while this node leads the view.
    pub is_primary: bool,
    /// True while a peer is known to be more than one block ahead.
    pub syncing: bool,
    /// Pending transactions.
    pub mempool: usize,
    /// This node's validator address while it is in the current set.
    pub validator: Option<Address>,
    /// Size of the current validator set.
    pub validators: usize,
    /// Votes needed for a quorum in the current set (2f+1).
    pub quorum: usize,
}
