//! Executing a block: every transaction in order against one overlay of committed state.
//!
//! A transaction is **invalid** (and so is any block holding it) if its signature, chain id,
//! nonce or gas limit is wrong; the mempool refuses those up front. A valid transaction always
//! gets a receipt: it consumes its nonce and pays its gas even when its execution fails, in
//! which case its other state changes are dropped.

use crate::account;
use crate::error::{ExecutorError, InvalidTx};
use crate::governance::{self, GovEnv};
use phalanx_genesis::{ConsensusParams, DeployPolicy, GovernancePolicy};
use phalanx_runtime::abi::code;
use phalanx_runtime::{BlockInfo, ExecError, Overlay, Runtime, StateChanges, StateRead, TxEnv};
use phalanx_types::tx::VERIFY_BATCH;
use phalanx_types::{
    Address, Bytes, Gas, Hash, Height, Receipt, SignedTx, TxPayload, TxStatus, verify_txs,
};
use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};

/// Flat gas every transaction pays before execution (signature check, nonce, receipt).
pub const TX_BASE_GAS: Gas = 50_000;
/// Gas per byte of the encoded transaction (it is stored forever in the block).
pub const TX_BYTE_GAS: Gas = 20;

/// The gas a transaction pays before any contract code runs.
pub fn intrinsic_gas(tx: &SignedTx) -> Gas {
    TX_BASE_GAS + TX_BYTE_GAS * tx.encoded_len() as Gas
}

/// The block being executed and the chain rules in force.
#[derive(Debug, Clone)]
pub struct BlockEnv {
    /// Chain id.
    pub chain_id: String,
    /// Height of the block.
    pub height: Height,
    /// Its timestamp (ms).
    pub time_ms: u64,
    /// Gas and size limits.
    pub params: ConsensusParams,
    /// Who may deploy code.
    pub deploy_policy: DeployPolicy,
    /// Governance rules from genesis.
    pub governance: GovernancePolicy,
    /// Building a proposal: a transaction whose gas limit no longer fits what the block has
    /// left is left out, with its sender's later ones, instead of making the block invalid;
    /// [`Executed::left_out`] names them. Validating a block, this is off.
    pub leave_out_unfit: bool,
}

/// The result of executing a block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Executed {
    /// One receipt per transaction, in order.
    pub receipts: Vec<Receipt>,
    /// Every state change of the block.
    pub changes: StateChanges,
    /// Total gas used.
    pub gas_used: Gas,
    /// Indices (into the given transactions) left out because the block was full of gas
    /// ([`BlockEnv::leave_out_unfit`]); receipts and changes are those of the rest.
    pub left_out: Vec<usize>,
}

/// Checks what can be checked without state: signature, chain id, gas limit bounds. Returns
/// the transaction's intrinsic gas (computed once: it encodes the whole transaction).
pub fn check_stateless(
    tx: &SignedTx,
    chain_id: &str,
    params: &ConsensusParams,
) -> Result<Gas, InvalidTx> {
    tx.verify(chain_id)
        .map_err(|e| InvalidTx::Malformed(e.to_string()))?;
    check_gas(tx, params)
}

/// The gas-limit bounds of [`check_stateless`], without the signature and chain id check;
/// returns the intrinsic gas.
pub fn check_gas(tx: &SignedTx, params: &ConsensusParams) -> Result<Gas, InvalidTx> {
    if tx.tx.gas_limit > params.max_tx_gas {
        return Err(InvalidTx::GasLimitTooHigh {
            limit: tx.tx.gas_limit,
            max: params.max_tx_gas,
        });
    }
    let intrinsic = intrinsic_gas(tx);
    if tx.tx.gas_limit < intrinsic {
        return Err(InvalidTx::GasLimitTooLow {
            limit: tx.tx.gas_limit,
            intrinsic,
        });
    }
    Ok(intrinsic)
}

/// Signature checks of a block's transactions, shared by the executing thread and helper
/// threads. Helpers check batches while the block executes, in sender order from the last
/// sender (so a batch verifies each key once for all of that sender's transactions, see
/// [`verify_txs`]); the executing thread then joins them. Each check has one outcome, so
/// which thread does it, and in which batch, changes nothing but the time.
struct SignatureChecks {
    status: Vec<AtomicU8>,
    /// The positions to check, sorted by sender (stable: block order within a sender).
    order: Vec<usize>,
}

const UNCHECKED: u8 = 0;
const GOOD: u8 = 1;
const BAD: u8 = 2;
const CLAIMED: u8 = 3;

impl SignatureChecks {
    /// `known[i]`: transaction `i` of `txs` was verified before (at admission).
    fn new(txs: &[SignedTx], known: impl Iterator<Item = bool>) -> SignatureChecks {
        let status: Vec<AtomicU8> = known
            .map(|k| AtomicU8::new(if k { GOOD } else { UNCHECKED }))
            .collect();
        let mut order: Vec<usize> = (0..txs.len().min(status.len()))
            .filter(|&i| status[i].load(Ordering::Relaxed) == UNCHECKED)
            .collect();
        order.sort_by_key(|&i| txs[i].tx.sender.0);
        SignatureChecks { status, order }
    }

    /// Helper threads worth starting: none for small blocks or a single core.
    fn helpers(&self) -> usize {
        const MIN_UNCHECKED: usize = 64;
        let unchecked = self
            .status
            .iter()
            .filter(|s| s.load(Ordering::Relaxed) == UNCHECKED)
            .count();
        if unchecked < MIN_UNCHECKED {
            return 0;
        }
        crate::cores::available().saturating_sub(1).min(7)
    }

    /// Claims transaction `i`'s check if nobody has (it is unchecked).
    fn claim(&self, i: usize) -> bool {
        self.status[i]
            .compare_exchange(UNCHECKED, CLAIMED, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    /// Checks transaction `i` if nobody has claimed it; true if it passed.
    fn claim_and_check(&self, i: usize, tx: &SignedTx, chain_id: &str) -> Option<bool> {
        if !self.claim(i) {
            return None;
        }
        let ok = tx.verify(chain_id).is_ok();
        self.status[i].store(if ok { GOOD } else { BAD }, Ordering::Release);
        Some(ok)
    }

    /// Whether transaction `i`'s signature is good, checking it here or waiting for the
    /// helper that is checking it.
    fn ok(&self, i: usize, tx: &SignedTx, chain_id: &str) -> bool {
        loop {
            if let Some(ok) = self.claim_and_check(i, tx, chain_id) {
                return ok;
            }
            match self.status[i].load(Ordering::Acquire) {
                GOOD => return true,
                BAD => return false,
                _ => std::thread::yield_now(),
            }
        }
    }

    /// Whether transaction `i`'s signature was already found bad.
    fn known_bad(&self, i: usize) -> bool {
        self.status[i].load(Ordering::Acquire) == BAD
    }

    /// The first of `txs` whose signature fails, checking in order.
    fn first_bad(&self, txs: &[SignedTx], chain_id: &str) -> Option<usize> {
        (0..txs.len()).find(|&i| !self.ok(i, &txs[i], chain_id))
    }

    /// A helper: claims the unchecked transactions before position `upto`, in sender order
    /// from the last sender, a batch at a time, and checks each batch's signatures together
    /// ([`verify_txs`]), until done or told to stop.
    fn help(&self, txs: &[SignedTx], upto: usize, chain_id: &str, stop: &AtomicBool) {
        let mut todo = self
            .order
            .iter()
            .rev()
            .filter(|&&i| i < upto.min(txs.len()));
        let mut more = true;
        while more && !stop.load(Ordering::Relaxed) {
            let mut claimed = Vec::with_capacity(VERIFY_BATCH);
            while claimed.len() < VERIFY_BATCH {
                match todo.next() {
                    Some(&i) if self.claim(i) => claimed.push(i),
                    Some(_) => {}
                    None => {
                        more = false;
                        break;
                    }
                }
            }
            let batch = || verify_txs(claimed.iter().map(|&i| &txs[i]), chain_id);
            match std::panic::catch_unwind(std::panic::AssertUnwindSafe(batch)) {
                Ok(results) => {
                    for (&i, result) in claimed.iter().zip(results) {
                        let status = if result.is_ok() { GOOD } else { BAD };
                        self.status[i].store(status, Ordering::Release);
                    }
                }
                // Never leave a claim behind: whoever needs these checks does them alone.
                Err(_) => {
                    for &i in &claimed {
                        self.status[i].store(UNCHECKED, Ordering::Release);
                    }
                    return;
                }
            }
        }
    }
}

/// Executes `txs` on top of `base` (the state after the parent block), checking every
/// signature.
pub fn execute_block(
    runtime: &Runtime,
    base: Arc<dyn StateRead>,
    env: &BlockEnv,
    txs: &[SignedTx],
) -> Result<Executed, ExecutorError> {
    execute_block_with(runtime, base, env, txs, &|_| false)
}

/// Executes `txs` on top of `base`. `verified(hash)` says a transaction with exactly these
/// bytes (the hash covers the signature) already passed [`check_stateless`] on this node
/// under the same chain id (at mempool admission), so its signature is not checked again.
/// The outcome is the same either way; only the work differs.
pub fn execute_block_with(
    runtime: &Runtime,
    base: Arc<dyn StateRead>,
    env: &BlockEnv,
    txs: &[SignedTx],
    verified: &dyn Fn(&Hash) -> bool,
) -> Result<Executed, ExecutorError> {
    let hashes: Vec<Hash> = txs.iter().map(SignedTx::hash).collect();
    execute_block_hashed(runtime, base, env, txs, &hashes, verified)
}

/// [`execute_block_with`] for a caller that already hashed the transactions. `hashes[i]` must
/// be `txs[i].hash()`: the hashes go into the receipts and decide which signatures
/// `verified` lets skip. (Hashes of the wrong count are ignored and recomputed.)
pub fn execute_block_hashed(
    runtime: &Runtime,
    base: Arc<dyn StateRead>,
    env: &BlockEnv,
    txs: &[SignedTx],
    hashes: &[Hash],
    verified: &dyn Fn(&Hash) -> bool,
) -> Result<Executed, ExecutorError> {
    if hashes.len() != txs.len() {
        return execute_block_with(runtime, base, env, txs, verified);
    }
    let checks = SignatureChecks::new(txs, hashes.iter().map(verified));
    let helpers = checks.helpers();
    let stop = AtomicBool::new(false);
    std::thread::scope(|scope| {
        for _ in 0..helpers {
            scope.spawn(|| checks.help(txs, txs.len(), &env.chain_id, &stop));
        }
        // Execution does not wait for signatures: a block with a bad one is refused whole, so
        // its results are only kept once every signature up to where execution stopped holds.
        let mut reached = 0;
        let result = execute_unchecked(runtime, base, env, txs, hashes, &checks, &mut reached);
        // Whatever stopped execution (an invalid transaction or a fault) happened at
        // `reached`: a bad signature at or before it comes first, as in a sequential check.
        let executed_up_to = match &result {
            Ok(_) => txs.len(),
            Err(_) => (reached + 1).min(txs.len()),
        };
        // Then this thread checks too, in batches, until every signature needed is known.
        checks.help(txs, executed_up_to, &env.chain_id, &AtomicBool::new(false));
        let first_bad = checks.first_bad(&txs[..executed_up_to], &env.chain_id);
        stop.store(true, Ordering::Relaxed);
        match first_bad {
            // Refused for its first bad transaction with the usual reason, as if checked in
            // order before executing it.
            Some(index) => {
                let reason = check_stateless(&txs[index], &env.chain_id, &env.params)
                    .err()
                    .unwrap_or_else(|| InvalidTx::Malformed("bad signature".into()));
                Err(ExecutorError::Invalid { index, reason })
            }
            None => result,
        }
    })
}

/// The execution loop of [`execute_block_with`], stopping at the first invalid transaction
/// and recording in `reached` the index of the transaction it is on. Signatures are checked
/// by the caller, except that it stops at a transaction a helper already found badly signed
/// (the block is refused anyway), and that a deploy waits for its signature: compiling code
/// leaves a cached artifact behind even if the block is refused, so forged deploys must not
/// get that far.
fn execute_unchecked(
    runtime: &Runtime,
    base: Arc<dyn StateRead>,
    env: &BlockEnv,
    txs: &[SignedTx],
    hashes: &[Hash],
    checks: &SignatureChecks,
    reached: &mut usize,
) -> Result<Executed, ExecutorError> {
    let mut overlay = Overlay::new(base);
    let block = BlockInfo {
        height: env.height,
        time_ms: env.time_ms,
        chain_id: env.chain_id.clone(),
    };
    let mut receipts = Vec::with_capacity(txs.len());
    let mut gas_used: Gas = 0;
    let mut left_out = Vec::new();
    // Senders with a transaction left out: their later nonces cannot follow it.
    let mut blocked: BTreeSet<Address> = BTreeSet::new();
    for (index, tx) in txs.iter().enumerate() {
        let invalid = |reason| ExecutorError::Invalid { index, reason };
        *reached = index;
        let tx_hash = hashes[index];
        if checks.known_bad(index) {
            // The caller reports the first bad signature at or before this index.
            return Err(invalid(InvalidTx::Malformed("bad signature".into())));
        }
        let intrinsic = check_gas(tx, &env.params).map_err(invalid)?;
        let sender = tx.tx.sender_address();
        if env.leave_out_unfit && blocked.contains(&sender) {
            left_out.push(index);
            continue;
        }
        // A transaction may start only if its whole limit fits what the block has left, so
        // the gas a block uses, and with it its execution time, never exceeds the limit.
        if gas_used.saturating_add(tx.tx.gas_limit) > env.params.block_gas_limit {
            if env.leave_out_unfit {
                left_out.push(index);
                blocked.insert(sender);
                continue;
            }
            return Err(invalid(InvalidTx::BlockGasExceeded));
        }
        let mut acct = account::load(&overlay, &sender)?;
        if acct.nonce != tx.tx.nonce {
            return Err(invalid(InvalidTx::BadNonce {
                expected: acct.nonce,
                got: tx.tx.nonce,
            }));
        }
        acct.nonce += 1;
        account::save(&mut overlay, &sender, &acct);

        let tx_env = TxEnv {
            block: block.clone(),
            origin: sender,
            nonce: tx.tx.nonce,
            gas_limit: tx.tx.gas_limit - intrinsic,
        };
        let deploys = tx.tx.payload.needs_deploy_permission();
        if deploys && !checks.ok(index, tx, &env.chain_id) {
            return Err(invalid(InvalidTx::Malformed("bad signature".into())));
        }
        let outcome = if deploys && !env.deploy_policy.allows(&sender) {
            Err((ExecError::host(code::NOT_ALLOWED), 0))
        } else if let TxPayload::Governance(action) = &tx.tx.payload {
            let gov = GovEnv {
                chain_id: &env.chain_id,
                height: env.height,
                policy: &env.governance,
            };
            overlay.begin();
            match governance::apply(&mut overlay, &gov, &sender, action)? {
                Ok(ret) => {
                    overlay.commit();
                    Ok((ret, Vec::new(), 0, None))
                }
                Err(message) => {
                    overlay.rollback();
                    let e = ExecError {
                        code: code::GOVERNANCE_REFUSED,
                        message,
                    };
                    Err((e, 0))
                }
            }
        } else {
            let out = runtime.apply(&mut overlay, &tx_env, &tx.tx.payload)?;
            match out.result {
                Ok(ret) => Ok((ret, out.events, out.gas_used, out.contract)),
                Err(e) => Err((e, out.gas_used)),
            }
        };
        let (status, return_data, events, used) = match outcome {
            Ok((ret, events, used, contract)) => {
                // A deploy returns the new contract's address.
                let ret = match contract {
                    Some(address) => address.0.to_vec(),
                    None => ret,
                };
                (TxStatus::Ok, ret, events, used)
            }
            Err((e, used)) => (
                TxStatus::Failed {
                    code: e.code,
                    message: e.message,
                },
                Vec::new(),
                Vec::new(),
                used,
            ),
        };
        let used = intrinsic + used;
        gas_used += used;
        receipts.push(Receipt {
            tx_hash,
            status,
            gas_used: used,
            return_data: Bytes(return_data),
            events,
            height: env.height,
            // Its position in the block (transactions left out take none).
            index: receipts.len() as u32,
        });
    }
    governance::end_block(&mut overlay, env.height)?;
    Ok(Executed {
        receipts,
        changes: overlay.into_changes(),
        gas_used,
        left_out,
    })
}
