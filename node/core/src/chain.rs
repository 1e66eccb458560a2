//! The committed chain: block building and validation (a block is executed before anyone
//! votes for it), atomic commits, the consensus write-ahead log and equivocation evidence.

use crate::error::{BlockError, CoreError};
use phalanx_consensus::WalEntry;
use phalanx_executor::account::committed_nonce;
use phalanx_executor::adapters::StoreView;
use phalanx_executor::governance::{self, Scheduled};
use phalanx_executor::{BlockEnv, ExecutorError, execute_block_hashed};
use phalanx_genesis::{ChainConfig, ConsensusParams, Genesis, GovernancePolicy};
use phalanx_runtime::Runtime;
use phalanx_storage::{
    BlockStore, Column, Durability, KvStore, Layer, Overlay, StateStore, WriteBatch,
};
use phalanx_types::consensus::Evidence;
use phalanx_types::merkle::merkle_root;
use phalanx_types::{
    Address, Block, CheckedBlock, CommitCertificate, Gas, Hash, Header, Height, Receipt, SignedTx,
    ValidatorSet, View, decode, encode, encoded_len,
};
use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

/// The chain rules every node shares that never change, taken from genesis.
#[derive(Debug, Clone)]
pub struct ChainInfo {
    /// Chain id.
    pub chain_id: String,
    /// The configuration at height 1 (used only for a store written before governance
    /// records existed; afterwards the configuration is read from state).
    pub genesis_config: ChainConfig,
    /// Who may propose governance changes and when they apply.
    pub governance: GovernancePolicy,
    /// Genesis time (ms); block 1 must be later.
    pub genesis_time_ms: u64,
}

impl ChainInfo {
    /// The rules of `genesis`.
    pub fn from_genesis(genesis: &Genesis) -> ChainInfo {
        ChainInfo {
            chain_id: genesis.chain_id.clone(),
            genesis_config: genesis.config(),
            governance: genesis.governance.clone(),
            genesis_time_ms: genesis.genesis_time_ms,
        }
    }
}

/// The last committed block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tip {
    /// Its height (0: only genesis).
    pub height: Height,
    /// Its hash ([`Hash::ZERO`] at genesis).
    pub hash: Hash,
    /// Its timestamp (the genesis time at height 0).
    pub timestamp_ms: u64,
    /// The view of its commit certificate (0 at genesis).
    pub view: View,
    /// Its state root.
    pub state_root: Hash,
}

/// A block executed on top of the tip (or on top of executed blocks above it, see
/// [`Chain::validate_on`]), ready to commit: its receipts and the staged state writes. It
/// commits only on the parent it was executed on.
#[derive(Debug, Clone)]
pub struct ExecutedBlock {
    /// Receipts, in transaction order.
    pub receipts: Vec<Receipt>,
    /// Gas used by all transactions.
    pub gas_used: Gas,
    /// The state root after the block.
    pub state_root: Hash,
    /// The receipts root.
    pub receipts_root: Hash,
    /// Parent the block was executed on.
    parent: Hash,
    /// Root of the transactions that were executed (a commit checks the header names them).
    tx_root: Hash,
    /// Hashes of the transactions that were executed, in order.
    txs: Vec<Hash>,
    batch: WriteBatch,
    /// The chain's tip once this block is committed (set when the block's hash is known).
    after: Tip,
    /// `batch` indexed for reading, built when a child is executed on top of this block.
    layer: OnceLock<Arc<Layer>>,
}

impl ExecutedBlock {
    /// The block it was executed on.
    pub fn parent(&self) -> Hash {
        self.parent
    }

    /// The tip once this block commits: its height, hash, time and state root (the view is
    /// that of its certificate, unknown here: 0).
    pub fn after(&self) -> Tip {
        self.after
    }

    /// Hashes of the transactions it executed, in order.
    pub fn tx_hashes(&self) -> &[Hash] {
        &self.txs
    }

    fn layer(&self) -> Arc<Layer> {
        self.layer
            .get_or_init(|| Arc::new(Layer::of(&self.batch)))
            .clone()
    }
}

/// What a block executes on: a state (committed, or with uncommitted blocks laid over it)
/// and the tip it extends.
struct Base {
    state: StateStore,
    tip: Tip,
}

/// Why executing a list of transactions did not give a block.
enum ExecFailure {
    /// The transaction at this index can never be included.
    Invalid(usize, String),
    /// The node failed.
    Fault(CoreError),
}

/// The committed chain over a key-value store.
pub struct Chain {
    kv: Arc<dyn KvStore>,
    blocks: BlockStore,
    state: StateStore,
    runtime: Arc<Runtime>,
    info: ChainInfo,
    /// The configuration in force for the next block (from the committed state).
    config: ChainConfig,
    /// An approved change waiting for its height (from the committed state).
    scheduled: Option<Scheduled>,
    tip: Tip,
    /// The next write-ahead-log sequence number.
    wal_seq: u64,
    /// The live write-ahead-log entries: sequence number → the height each is about. Kept in
    /// memory so a commit deletes its entries without scanning the column, whose deleted
    /// entries (tombstones) would make every scan slower until compaction.
    wal_live: BTreeMap<u64, Height>,
}

impl std::fmt::Debug for Chain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Chain").field("tip", &self.tip).finish()
    }
}

fn receipts_root(receipts: &[Receipt]) -> Hash {
    let leaves: Vec<Hash> = receipts.iter().map(Receipt::hash).collect();
    merkle_root(&leaves)
}

/// Writes the genesis state (version 0 of the state tree) into an empty store, staging
/// `extra` writes (for example the genesis hash) into the same synced batch. Returns the
/// genesis state root.
pub fn write_genesis(
    kv: &Arc<dyn KvStore>,
    changes: &phalanx_runtime::StateChanges,
    extra: WriteBatch,
) -> Result<Hash, CoreError> {
    let mut batch = WriteBatch::new();
    let root = StateStore::new(kv.clone()).stage_commit(&mut batch, 0, changes)?;
    batch.extend(extra);
    kv.write(batch, Durability::Sync)?;
    Ok(root)
}

impl Chain {
    /// Opens the chain in `kv`, which must already hold the genesis state (version 0).
    pub fn open(
        kv: Arc<dyn KvStore>,
        info: ChainInfo,
        runtime: Arc<Runtime>,
    ) -> Result<Chain, CoreError> {
        let blocks = BlockStore::new(kv.clone());
        let state = StateStore::new(kv.clone());
        let height = blocks.latest_height()?;
        let tip = if height == 0 {
            Tip {
                height: 0,
                hash: Hash::ZERO,
                timestamp_ms: info.genesis_time_ms,
                view: 0,
                state_root: state.root(0)?,
            }
        } else {
            let block = blocks
                .block(height)?
                .ok_or_else(|| CoreError::Corrupt(format!("block {height} missing")))?;
            let cert = blocks
                .certificate(height)?
                .ok_or_else(|| CoreError::Corrupt(format!("certificate {height} missing")))?;
            Tip {
                height,
                hash: block.hash(),
                timestamp_ms: block.header.timestamp_ms,
                view: cert.view,
                state_root: block.header.state_root,
            }
        };
        let mut wal_live = BTreeMap::new();
        for (key, value) in kv.scan(Column::Wal, &[], None, usize::MAX)? {
            if key == phalanx_storage::rollback::WAL_SENTINEL {
                continue;
            }
            wal_live.insert(seq_of(&key)?, decode_wal(&value)?.height());
        }
        let wal_seq = wal_live.keys().next_back().map_or(0, |s| s + 1);
        let mut chain = Chain {
            kv,
            blocks,
            state,
            runtime,
            config: info.genesis_config.clone(),
            info,
            scheduled: None,
            tip,
            wal_seq,
            wal_live,
        };
        chain.load_config()?;
        chain.repair_set_proofs()?;
        Ok(chain)
    }

    /// Makes sure every applied configuration change has its saved proof (see
    /// [`phalanx_storage::prune::SetProof`]): changes applied before this version of the node
    /// saved none, and a crash between a commit and its save leaves the tip's missing. Runs at
    /// open, before any pruning, while the versions involved are still on disk.
    fn repair_set_proofs(&self) -> Result<(), CoreError> {
        let lowest = phalanx_storage::prune::lowest_state_version(&*self.kv)?;
        let mut from_id = 1;
        loop {
            let page = governance::committed_proposals(&self.state, from_id, 256)
                .map_err(CoreError::Execution)?;
            let Some(last) = page.last() else {
                return Ok(());
            };
            from_id = last.id + 1;
            for p in &page {
                let governance::ProposalStatus::Applied { activated_at, .. } = p.status else {
                    continue;
                };
                let before = activated_at.saturating_sub(1);
                if before == 0
                    || before < lowest
                    || before > self.tip.height
                    || phalanx_storage::prune::set_proof(&*self.kv, activated_at)?.is_some()
                {
                    continue;
                }
                if let (Some(block), Some(cert)) =
                    (self.blocks.block(before)?, self.blocks.certificate(before)?)
                {
                    self.save_set_proof(&block, &cert)?;
                }
            }
        }
    }

    /// Reads the configuration and any scheduled change from the committed state.
    fn load_config(&mut self) -> Result<(), CoreError> {
        if let Some(config) =
            governance::committed_config(&self.state).map_err(CoreError::Execution)?
        {
            self.config = config;
        }
        self.scheduled =
            governance::committed_scheduled(&self.state).map_err(CoreError::Execution)?;
        Ok(())
    }

    /// The configuration in force for the next block: validators, deploy policy, params.
    pub fn config(&self) -> &ChainConfig {
        &self.config
    }

    /// The consensus parameters in force for the next block.
    pub fn params(&self) -> &ConsensusParams {
        &self.config.params
    }

    /// The validator set of the next block.
    pub fn validators(&self) -> &ValidatorSet {
        &self.config.validators
    }

    /// An approved configuration change that is not in force yet.
    pub fn scheduled(&self) -> Option<&Scheduled> {
        self.scheduled.as_ref()
    }

    /// The chain rules.
    pub fn info(&self) -> &ChainInfo {
        &self.info
    }

    /// The last committed block.
    pub fn tip(&self) -> Tip {
        self.tip
    }

    /// The block store.
    pub fn blocks(&self) -> &BlockStore {
        &self.blocks
    }

    /// The committed state.
    pub fn state(&self) -> &StateStore {
        &self.state
    }

    /// The next nonce of `address` in committed state.
    pub fn account_nonce(&self, address: &Address) -> Result<u64, CoreError> {
        committed_nonce(&self.state, address).map_err(CoreError::Execution)
    }

    /// The state and tip that a block extending `parents` executes on: the committed ones
    /// when `parents` is empty; otherwise the committed state with the parents' uncommitted
    /// writes laid over it (pipelined consensus). `None` when that cannot be done here: the
    /// parents do not extend the tip one by one, or the configuration may change among them
    /// (a scheduled or applied governance change: the next block's rules would not be the
    /// ones in force here).
    fn base(&self, parents: &[&ExecutedBlock]) -> Result<Option<Base>, CoreError> {
        let Some(last) = parents.last() else {
            return Ok(Some(Base {
                state: self.state.clone(),
                tip: self.tip,
            }));
        };
        let mut expected = self.tip.hash;
        for p in parents {
            if p.parent != expected {
                return Ok(None);
            }
            expected = p.after.hash;
        }
        if self.scheduled.is_some() {
            return Ok(None);
        }
        let layers = parents.iter().map(|p| p.layer()).collect();
        let state = StateStore::new(Arc::new(Overlay::new(self.kv.clone(), layers)));
        let config = governance::committed_config(&state).map_err(CoreError::Execution)?;
        let scheduled = governance::committed_scheduled(&state).map_err(CoreError::Execution)?;
        if config.is_some_and(|c| c != self.config) || scheduled.is_some() {
            return Ok(None);
        }
        Ok(Some(Base {
            state,
            tip: last.after,
        }))
    }

    #[allow(clippy::too_many_arguments)]
    fn execute(
        &self,
        base: &Base,
        height: Height,
        time_ms: u64,
        txs: &[SignedTx],
        hashes: &[Hash],
        verified: &dyn Fn(&Hash) -> bool,
        building: bool,
    ) -> Result<(ExecutedBlock, Vec<usize>), ExecFailure> {
        let env = BlockEnv {
            chain_id: self.info.chain_id.clone(),
            height,
            time_ms,
            params: self.config.params.clone(),
            deploy_policy: self.config.deploy_policy.clone(),
            governance: self.info.governance.clone(),
            leave_out_unfit: building,
        };
        let view = Arc::new(StoreView(base.state.clone()));
        let executed = match execute_block_hashed(&self.runtime, view, &env, txs, hashes, verified)
        {
            Ok(e) => e,
            Err(ExecutorError::Invalid { index, reason }) => {
                return Err(ExecFailure::Invalid(index, reason.to_string()));
            }
            Err(e) => return Err(ExecFailure::Fault(CoreError::Execution(e))),
        };
        let mut batch = WriteBatch::new();
        let state_root = base
            .state
            .stage_commit(&mut batch, height, &executed.changes)
            .map_err(|e| ExecFailure::Fault(e.into()))?;
        let left_out: std::collections::BTreeSet<usize> =
            executed.left_out.iter().copied().collect();
        let included: Vec<Hash> = hashes
            .iter()
            .enumerate()
            .filter(|(i, _)| !left_out.contains(i))
            .map(|(_, h)| *h)
            .collect();
        let block = ExecutedBlock {
            receipts_root: receipts_root(&executed.receipts),
            receipts: executed.receipts,
            gas_used: executed.gas_used,
            state_root,
            parent: base.tip.hash,
            tx_root: Block::tx_root_of(&included),
            txs: included,
            batch,
            // Completed by the caller once the header (and so the hash) is known.
            after: Tip {
                height,
                hash: Hash::ZERO,
                timestamp_ms: time_ms,
                view: 0,
                state_root,
            },
            layer: OnceLock::new(),
        };
        Ok((block, executed.left_out))
    }

    /// Builds the next block as `proposer` at (about) `now_ms` from `txs`, executing it.
    /// Transactions that turn out invalid are dropped and returned so the caller can evict
    /// them; the block is built from the rest. `verified` names transactions whose
    /// signatures this node already checked (see [`execute_block_with`]).
    pub fn build(
        &self,
        proposer: Address,
        now_ms: u64,
        txs: Vec<SignedTx>,
        verified: &dyn Fn(&Hash) -> bool,
    ) -> Result<(CheckedBlock, ExecutedBlock, Vec<SignedTx>), CoreError> {
        self.build_on(&[], proposer, now_ms, txs, verified)?
            .ok_or_else(|| CoreError::Corrupt("no base to build on".into()))
    }

    /// [`Chain::build`] on top of `parents`, executed blocks above the tip (oldest first):
    /// the block extends the last of them. `None` if it cannot be built there (see
    /// [`Chain::validate_on`]). Transactions dropped as invalid are invalid on the parents'
    /// state, which may not be the committed one: the caller decides whether to evict them.
    pub fn build_on(
        &self,
        parents: &[&ExecutedBlock],
        proposer: Address,
        now_ms: u64,
        mut txs: Vec<SignedTx>,
        verified: &dyn Fn(&Hash) -> bool,
    ) -> Result<Option<(CheckedBlock, ExecutedBlock, Vec<SignedTx>)>, CoreError> {
        let Some(base) = self.base(parents)? else {
            return Ok(None);
        };
        let height = base.tip.height + 1;
        // Strictly after the parent even if this node's clock is behind.
        let timestamp_ms = now_ms.max(base.tip.timestamp_ms + 1);
        let mut dropped = Vec::new();
        let mut hashes: Vec<Hash> = txs.iter().map(SignedTx::hash).collect();
        let mut executed = loop {
            match self.execute(&base, height, timestamp_ms, &txs, &hashes, verified, true) {
                Ok((e, left_out)) => {
                    // Left out for lack of block gas (with their senders' later nonces): they
                    // stay in the mempool for a later block. Executed in the same pass.
                    for index in left_out.into_iter().rev() {
                        txs.remove(index);
                        hashes.remove(index);
                    }
                    break e;
                }
                Err(ExecFailure::Invalid(index, reason)) => {
                    tracing::warn!(%reason, "dropping an invalid transaction from a proposal");
                    dropped.push(txs.remove(index));
                    hashes.remove(index);
                }
                Err(ExecFailure::Fault(e)) => return Err(e),
            }
        };
        let header = Header {
            chain_id: self.info.chain_id.clone(),
            height,
            parent_hash: base.tip.hash,
            timestamp_ms,
            proposer,
            tx_root: executed.tx_root,
            state_root: executed.state_root,
            receipts_root: executed.receipts_root,
            validators_hash: self.config.validators.hash(),
        };
        let block = CheckedBlock::with_tx_hashes(Block { header, txs }, hashes)
            .map_err(|e| CoreError::Corrupt(format!("built block: {e}")))?;
        executed.after.hash = block.hash();
        Ok(Some((block, executed, dropped)))
    }

    /// Checks a proposed block against the tip, the chain rules and this node's clock, then
    /// executes it and checks its roots. `Ok(Err(_))` is a bad block; `Err(_)` a node fault.
    pub fn validate(
        &self,
        block: &CheckedBlock,
        now_ms: u64,
        verified: &dyn Fn(&Hash) -> bool,
    ) -> Result<Result<ExecutedBlock, BlockError>, CoreError> {
        self.validate_on(&[], block, now_ms, verified)?
            .ok_or_else(|| CoreError::Corrupt("no base to validate on".into()))
    }

    /// [`Chain::validate`] for a block that extends `parents`, executed blocks above the tip
    /// (oldest first, the first on the tip): it executes on the committed state with their
    /// writes laid over it, exactly as it will after they commit. `None` when that cannot be
    /// done here, which says nothing about the block: the parents do not extend the tip one
    /// by one, or a governance change is scheduled or made among them (the configuration the
    /// block is checked against would not be the one in force at its height).
    pub fn validate_on(
        &self,
        parents: &[&ExecutedBlock],
        block: &CheckedBlock,
        now_ms: u64,
        verified: &dyn Fn(&Hash) -> bool,
    ) -> Result<Option<Result<ExecutedBlock, BlockError>>, CoreError> {
        let drift = self.config.params.max_clock_drift_ms;
        if block.header.timestamp_ms > now_ms.saturating_add(drift) {
            return Ok(Some(Err(BlockError::AheadOfClock {
                got: block.header.timestamp_ms,
                now_ms,
                drift_ms: drift,
            })));
        }
        let Some(base) = self.base(parents)? else {
            return Ok(None);
        };
        self.check_and_execute(&base, block, verified).map(Some)
    }

    /// Like [`Chain::validate`] without the clock bound: for blocks that are already
    /// certified (sync), whose time was checked by the validators that certified them.
    pub fn replay(
        &self,
        block: &CheckedBlock,
    ) -> Result<Result<ExecutedBlock, BlockError>, CoreError> {
        let base = Base {
            state: self.state.clone(),
            tip: self.tip,
        };
        self.check_and_execute(&base, block, &|_| false)
    }

    fn check_and_execute(
        &self,
        base: &Base,
        block: &CheckedBlock,
        verified: &dyn Fn(&Hash) -> bool,
    ) -> Result<Result<ExecutedBlock, BlockError>, CoreError> {
        if let Err(e) = self.check_header(&base.tip, block) {
            return Ok(Err(e));
        }
        let h = &block.header;
        // The body is the header's (a CheckedBlock), and its tx hashes were computed once.
        let hashes = block.tx_hashes();
        let mut executed = match self.execute(
            base,
            h.height,
            h.timestamp_ms,
            &block.txs,
            hashes,
            verified,
            false,
        ) {
            Ok((e, _)) => e,
            Err(ExecFailure::Invalid(index, reason)) => {
                return Ok(Err(BlockError::InvalidTx(format!("tx {index}: {reason}"))));
            }
            Err(ExecFailure::Fault(e)) => return Err(e),
        };
        if executed.state_root != h.state_root {
            return Ok(Err(BlockError::RootMismatch {
                what: "state root",
                header: h.state_root,
                executed: executed.state_root,
            }));
        }
        if executed.receipts_root != h.receipts_root {
            return Ok(Err(BlockError::RootMismatch {
                what: "receipts root",
                header: h.receipts_root,
                executed: executed.receipts_root,
            }));
        }
        executed.after.hash = block.hash();
        Ok(Ok(executed))
    }

    fn check_header(&self, tip: &Tip, block: &Block) -> Result<(), BlockError> {
        let h = &block.header;
        let bad = |m: String| Err(BlockError::Header(m));
        if h.chain_id != self.info.chain_id {
            return bad(format!("chain id {:?}", h.chain_id));
        }
        if h.height != tip.height + 1 {
            return bad(format!("height {} on tip {}", h.height, tip.height));
        }
        if h.parent_hash != tip.hash {
            return bad(format!(
                "parent {} is not the tip {}",
                h.parent_hash, tip.hash
            ));
        }
        if !self.config.validators.contains(&h.proposer) {
            return bad(format!("proposer {} is not a validator", h.proposer));
        }
        if h.validators_hash != self.config.validators.hash() {
            return bad("validators hash is not the validator set's".into());
        }
        if h.timestamp_ms <= tip.timestamp_ms {
            return Err(BlockError::Timestamp {
                got: h.timestamp_ms,
                reason: format!("not after the parent's {}", tip.timestamp_ms),
            });
        }
        let params = &self.config.params;
        if block.txs.len() as u64 > u64::from(params.max_block_txs) {
            return Err(BlockError::TooLarge(format!(
                "{} transactions, at most {}",
                block.txs.len(),
                params.max_block_txs
            )));
        }
        let size = encoded_len(block) as u64;
        // The limit counts transactions; the header and framing get some slack.
        if size > params.max_block_bytes + 4096 {
            return Err(BlockError::TooLarge(format!(
                "{size} bytes, at most {}",
                params.max_block_bytes
            )));
        }
        Ok(())
    }

    /// Commits `block` with its certificate: block, certificate, receipts, indexes and state
    /// land in one synced batch, and the write-ahead log below the next height is dropped.
    /// Returns the receipts.
    pub fn commit(
        &mut self,
        block: &Block,
        certificate: &CommitCertificate,
        executed: ExecutedBlock,
    ) -> Result<Vec<Receipt>, CoreError> {
        let height = block.height();
        if height != self.tip.height + 1 || executed.parent != self.tip.hash {
            return Err(CoreError::Corrupt(format!(
                "commit of block {height} does not extend tip {}",
                self.tip.height
            )));
        }
        if executed.tx_root != block.header.tx_root {
            return Err(CoreError::Corrupt(format!(
                "commit of block {height} with results of other transactions"
            )));
        }
        let ExecutedBlock {
            receipts,
            state_root,
            mut batch,
            ..
        } = executed;
        self.blocks
            .stage_commit(&mut batch, block, certificate, &receipts);
        for (seq, _) in self.wal_live.iter().filter(|(_, h)| **h <= height) {
            batch.delete(Column::Wal, seq.to_be_bytes());
        }
        self.kv.write(batch, Durability::Sync)?;
        self.wal_live.retain(|_, h| *h > height);
        let config_before = self.config.clone();
        let applies_now = self
            .scheduled
            .as_ref()
            .is_some_and(|s| s.activates_at == height + 1);
        self.tip = Tip {
            height,
            hash: block.hash(),
            timestamp_ms: block.header.timestamp_ms,
            view: certificate.view,
            state_root,
        };
        self.load_config()?;
        // A change takes effect from the next height (even one that leaves the configuration
        // as it was: clients walk every applied change).
        if applies_now || self.config != config_before {
            self.save_set_proof(block, certificate)?;
        }
        Ok(receipts)
    }

    /// Re-executes and commits the blocks `phalanx rollback` removed (see
    /// [`phalanx_storage::rollback`]), lowest first, each only if its certificate verifies
    /// against the validator set in force and it executes to its certified header here. A
    /// block that executes differently stops the node with [`CoreError::Diverged`] and stays
    /// pending, so the operator can start the binary that reproduces it. Runs contracts:
    /// call it on a thread with the runtime's stack. Returns the heights replayed.
    pub fn replay_rolled_back(&mut self) -> Result<Vec<Height>, CoreError> {
        use phalanx_storage::rollback;
        let pending = rollback::pending(&*self.kv)?;
        if pending.is_empty() && self.kv.get(Column::Wal, &rollback::WAL_SENTINEL)?.is_some() {
            // Nothing waits (no write leaves one without the other; this only tidies).
            let mut batch = WriteBatch::new();
            batch.delete(Column::Wal, rollback::WAL_SENTINEL);
            self.kv.write(batch, Durability::Sync)?;
        }
        let mut replayed = Vec::new();
        for (i, &height) in pending.iter().enumerate() {
            let last = i + 1 == pending.len();
            let (block, certificate) = rollback::rolled_back(&*self.kv, height)?
                .ok_or_else(|| CoreError::Corrupt(format!("rolled-back block {height} missing")))?;
            if height <= self.tip.height {
                // Committed again before the record went: only the same block may stand.
                let stored = self.blocks.block(height)?.map(|b| b.hash());
                if stored != Some(block.hash()) {
                    return Err(CoreError::Corrupt(format!(
                        "block {height} was rolled back as {}, but {} is stored at that height",
                        block.hash(),
                        stored.map_or("nothing".into(), |h| h.to_string())
                    )));
                }
                let mut batch = WriteBatch::new();
                rollback::stage_replayed(&mut batch, height, last);
                self.kv.write(batch, Durability::Sync)?;
                continue;
            }
            if height != self.tip.height + 1 {
                return Err(CoreError::Corrupt(format!(
                    "rolled-back block {height} waits for replay above tip {}",
                    self.tip.height
                )));
            }
            let bad_record =
                |what: String| CoreError::Corrupt(format!("rolled-back block {height}: {what}"));
            if certificate.height != height || certificate.block_hash != block.hash() {
                return Err(bad_record("its certificate is for another block".into()));
            }
            certificate
                .verify(&self.info.chain_id, &self.config.validators)
                .map_err(|e| bad_record(format!("its certificate does not verify: {e}")))?;
            let checked = CheckedBlock::check(block.clone())
                .map_err(|e| bad_record(format!("its body: {e}")))?;
            let mut executed = self.replay(&checked)?.map_err(|e| CoreError::Diverged {
                height,
                reason: format!("re-executed after a rollback: {e}"),
            })?;
            rollback::stage_replayed(&mut executed.batch, height, last);
            self.commit(&block, &certificate, executed)?;
            replayed.push(height);
        }
        Ok(replayed)
    }

    /// Saves the proof of the configuration that takes effect after `block` (see
    /// [`phalanx_storage::prune::SetProof`]): it must outlive pruning.
    fn save_set_proof(
        &self,
        block: &Block,
        certificate: &CommitCertificate,
    ) -> Result<(), CoreError> {
        let key = governance::config_state_key();
        let (value, proof) = self.state.get_with_proof(&key, block.height())?;
        let Some(config_raw) = value else {
            return Err(CoreError::Corrupt(
                "no configuration record in state".into(),
            ));
        };
        let record = phalanx_storage::prune::SetProof {
            config_raw,
            proof,
            header: block.header.clone(),
            certificate: certificate.clone(),
        };
        let mut batch = WriteBatch::new();
        phalanx_storage::prune::stage_set_proof(&mut batch, block.height() + 1, &record);
        self.kv.write(batch, Durability::Sync)?;
        Ok(())
    }

    /// Durably appends a write-ahead-log entry (before the signature it covers goes out).
    pub fn wal_append(&mut self, entry: &WalEntry) -> Result<(), CoreError> {
        let mut batch = WriteBatch::new();
        batch.put(Column::Wal, self.wal_seq.to_be_bytes(), encode(entry));
        self.kv.write(batch, Durability::Sync)?;
        self.wal_live.insert(self.wal_seq, entry.height());
        self.wal_seq += 1;
        Ok(())
    }

    /// The write-ahead log since the last commit, in write order.
    pub fn wal_entries(&self) -> Result<Vec<WalEntry>, CoreError> {
        self.kv
            .scan(Column::Wal, &[], None, usize::MAX)?
            .into_iter()
            .filter(|(k, _)| k[..] != phalanx_storage::rollback::WAL_SENTINEL)
            .map(|(_, v)| decode_wal(&v))
            .collect()
    }

    /// Stores equivocation evidence (keyed by height and offender; the first proof is kept).
    pub fn store_evidence(&self, evidence: &Evidence) -> Result<(), CoreError> {
        let mut key = evidence.height().to_be_bytes().to_vec();
        key.extend_from_slice(&evidence.offender().0);
        if self.kv.get(Column::Evidence, &key)?.is_none() {
            let mut batch = WriteBatch::new();
            batch.put(Column::Evidence, key, encode(evidence));
            self.kv.write(batch, Durability::Sync)?;
        }
        Ok(())
    }

    /// Up to `max` committed blocks with their certificates from `from` on, about
    /// `max_bytes` in total.
    pub fn certified_blocks(
        &self,
        from: Height,
        max: usize,
        max_bytes: usize,
    ) -> Result<Vec<(Block, CommitCertificate)>, CoreError> {
        Ok(self.blocks.certified_blocks(from, max, max_bytes)?)
    }
}

fn decode_wal(value: &[u8]) -> Result<WalEntry, CoreError> {
    decode(value).map_err(|e| CoreError::Corrupt(format!("wal entry: {e}")))
}

fn seq_of(key: &[u8]) -> Result<u64, CoreError> {
    <[u8; 8]>::try_from(key)
        .map(u64::from_be_bytes)
        .map_err(|_| CoreError::Corrupt("wal key is not 8 bytes".into()))
}
