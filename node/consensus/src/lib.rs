//! pBFT (Castro & Liskov, OSDI '99 / TOCS 2002) as a pure state machine.
//!
//! [`Core::handle`] takes one [`Input`] and returns the [`Output`]s the node must carry out,
//! in order. There is no I/O, clock, randomness or async runtime inside: time is logical
//! (the core asks for timeouts, the node owns the timers), so the same inputs always give the
//! same outputs, and a simulator can drive many cores deterministically.
//!
//! One block is decided per height (the paper's sequence number n). Views persist across
//! heights: the primary of view v (validator v mod n) keeps proposing until replicas vote
//! it out with a view change. Comments tag each rule with the paper's section (TOCS 2002):
//! §4.2 normal case, §4.3 garbage collection / watermarks, §4.4 view changes, §4.5.2 the
//! f+1 rule for joining a view change, §4.4 "Correctness" for the new-view safety rule.
//!
//! Modules, one protocol part each:
//! - [`core`]: the replica, what every message goes through on arrival, signing, commit;
//! - [`normal_case`]: PRE-PREPARE, PREPARE, COMMIT (§4.2);
//! - [`view_change`]: timeouts, VIEW-CHANGE, NEW-VIEW (§4.4, §4.5.2);
//! - [`pipeline`]: proposing and preparing the next heights while one is decided;
//! - [`sync`]: committed blocks from and for peers;
//! - [`checks`]: the pure validity rules of certificates, VIEW-CHANGE and NEW-VIEW;
//! - [`round`]: the state of one height, dropped as a whole on commit;
//! - [`votes`]: quorums and equivocation; [`log`]: the bounded future-height buffer;
//! - [`wal`]: what is persisted before signing, and recovery.

pub mod checks;
pub mod config;
pub mod core;
pub mod log;
pub mod normal_case;
pub mod pipeline;
pub mod round;
pub mod signer;
pub mod sync;
pub mod view_change;
pub mod votes;
pub mod wal;

pub use crate::config::Config;
pub use crate::core::{Core, Status};
pub use crate::signer::{SignError, StatementSigner, ValidatorSigner};
pub use crate::wal::WalEntry;

use phalanx_types::consensus::{Evidence, SignedMessage};
use phalanx_types::{Address, CheckedBlock, CommitCertificate, Hash, Height, View};

/// A timer the core asked for. When it fires the node feeds it back as [`Input::Timeout`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timeout {
    /// The height that must be decided before the timer fires.
    pub height: Height,
    /// The view the replica was in (or changing to) when the timer was set.
    pub view: View,
    /// Which timer of the replica this is (increasing); a timer superseded by a restart of
    /// the view-change timer is ignored. 0 is never superseded.
    pub seq: u64,
}

/// What the node found when it executed a proposed block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Valid, and its header's state root matches execution.
    Valid,
    /// Invalid whatever the time: remembered for the height.
    Invalid,
    /// Refused only because of this node's clock (a timestamp ahead of it): not
    /// remembered, so the same block proposed again later is executed again.
    NotYet,
}

/// Everything that can happen to a replica.
#[derive(Debug, Clone)]
pub enum Input {
    /// A signed message from a peer (unverified; the core verifies it).
    Message(SignedMessage),
    /// A timer fired.
    Timeout(Timeout),
    /// The node finished validating (executing) a proposed block.
    BlockValidated {
        /// Height of the block.
        height: Height,
        /// The block's hash.
        block_hash: Hash,
        /// What the node found.
        verdict: Verdict,
    },
    /// The node built the block the core asked for with [`Output::RequestProposal`].
    Proposal(CheckedBlock),
    /// A committed block with its certificate, fetched from a peer by sync.
    Decided {
        /// The block.
        block: CheckedBlock,
        /// Its commit certificate (verified by the core).
        certificate: CommitCertificate,
    },
}

/// Why an input was refused. The node traces them; the simulator counts them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Reject {
    /// For a height this replica committed (the sender is behind: it is offered blocks).
    OldHeight,
    /// Beyond the high watermark (§4.3): more than `window` heights ahead.
    BeyondWindow,
    /// A proposal or vote more than `max_view_lookahead` views ahead.
    ViewTooFar,
    /// For a view this replica has left (or older than the views it keeps).
    StaleView,
    /// The author is not a validator of that height.
    NotValidator,
    /// Signed with this replica's own key (a twin, or a reflection).
    OwnMessage,
    /// The signature does not verify.
    BadSignature,
    /// Seen before (a duplicate delivery or a replay).
    Duplicate,
    /// Parts that contradict each other, whatever the chain's state (a block that is not the
    /// one its certificate names, a carried message for another view or height, ...).
    Malformed,
    /// The author's share of the future-height buffer is full.
    BufferFull,
    /// A PRE-PREPARE not signed by the primary of its view.
    NotPrimary,
    /// A PRE-PREPARE for a view this replica is not in (or while it changes views).
    WrongView,
    /// A block that does not extend this replica's chain at that height.
    WrongParent,
    /// Conflicts with something its author signed before (the evidence is emitted).
    Conflict,
    /// A VIEW-CHANGE whose certificate or block does not hold.
    InvalidViewChange,
    /// A NEW-VIEW whose view changes, proposal or safety rule do not hold.
    InvalidNewView,
    /// A synced block whose commit certificate does not hold.
    InvalidCertificate,
}

/// What the node must do, in the order given.
// Outputs live for one `handle` call; boxing the message-carrying variants would only add
// allocations on the hot path.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// Write this to stable storage before carrying out any later output.
    Persist(WalEntry),
    /// Send a message to every other validator.
    Broadcast(SignedMessage),
    /// Call back with [`Input::Timeout`] after `after_ms` milliseconds.
    ScheduleTimeout {
        /// The timer.
        timeout: Timeout,
        /// Delay in milliseconds.
        after_ms: u64,
    },
    /// Execute this proposed block and answer with [`Input::BlockValidated`].
    ValidateBlock {
        /// The block.
        block: CheckedBlock,
    },
    /// Build a block for (view, height) and answer with [`Input::Proposal`].
    RequestProposal {
        /// View.
        view: View,
        /// Height.
        height: Height,
        /// Hash of the parent (the last committed block).
        parent_hash: Hash,
    },
    /// The block is final: store it with its certificate (atomically with its state).
    Commit {
        /// The block.
        block: CheckedBlock,
        /// A quorum of commits.
        certificate: CommitCertificate,
        /// Validators whose vote for this block reached this replica before it committed:
        /// PREPARE or COMMIT in any view, or the proposing primary's PRE-PREPARE (this
        /// replica's own votes included, when it signed them).
        /// `None` when the block came by sync, which says nothing of who voted.
        voters: Option<Vec<Address>>,
    },
    /// A validator equivocated; store the evidence.
    Evidence(Evidence),
    /// `peer` is still deciding `height`, which this replica committed: send it the committed
    /// blocks from `height` on, with their certificates (throttled: once per peer and height).
    PeerBehind {
        /// The lagging validator.
        peer: Address,
        /// The first height it lacks.
        height: Height,
    },
    /// This replica is behind: fetch committed blocks from `from_height` on from these peers
    /// and feed them back as [`Input::Decided`].
    SyncNeeded {
        /// The first height this replica lacks.
        from_height: Height,
        /// Validators that showed they are ahead.
        peers: Vec<Address>,
    },
    /// An input was refused. Nothing to carry out: for tracing and counting.
    Refused {
        /// The message's author (none for a synced block).
        author: Option<Address>,
        /// Why.
        reason: Reject,
    },
}
