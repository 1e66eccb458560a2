//! A multisig wallet: owners propose a call to another contract, approve it, and anyone of
//! them executes it once `threshold` owners have approved. The wallet itself is the caller of
//! the executed call, so it can hold and move tokens.
#![no_std]

extern crate alloc;

use phalanx_sdk::prelude::*;
use phalanx_sdk::{call_raw, json};

/// A proposed call.
#[derive(Serialize, Deserialize, Clone)]
pub struct Proposal {
    /// Contract to call.
    pub contract: Address,
    /// Its method.
    pub method: String,
    /// JSON arguments.
    pub args: Json,
    /// Owners that approved, in approval order.
    pub approvals: Vec<Address>,
    /// Whether it was executed (at most once).
    pub executed: bool,
}

const OWNERS: Item<Vec<Address>> = Item::new(b"o");
const THRESHOLD: Item<u32> = Item::new(b"t");
const NEXT_ID: Item<u64> = Item::new(b"n");
const PROPOSALS: Map<u64, Proposal> = Map::new(b"p");

errors! {
    /// Multisig errors.
    pub enum MultisigError {
        /// The owner list or threshold is unusable.
        BadConfig = 1100 => "threshold must be between 1 and the number of distinct owners",
        /// The caller is not an owner.
        NotOwner = 1101 => "caller is not an owner",
        /// No such proposal.
        NotFound = 1102 => "no such proposal",
        /// The caller already approved.
        AlreadyApproved = 1103 => "already approved",
        /// Not enough approvals yet.
        BelowThreshold = 1104 => "not enough approvals",
        /// Executed before.
        AlreadyExecuted = 1105 => "proposal already executed",
        /// The proposed call failed; nothing was changed.
        CallFailed = 1106 => "the proposed call failed",
    }
}

fn require_owner() -> Result<Address, ContractError> {
    let who = caller();
    ensure!(OWNERS.load().contains(&who), MultisigError::NotOwner);
    Ok(who)
}

fn proposal(id: u64) -> Result<Proposal, ContractError> {
    Ok(PROPOSALS.get(&id).ok_or(MultisigError::NotFound)?)
}

/// The multisig contract.
pub struct Multisig;

#[contract(errors(MultisigError), events(proposed = u64, approved = u64, executed = u64))]
impl Multisig {
    /// Sets the owners and how many must approve.
    #[init]
    pub fn init(owners: Vec<Address>, threshold: u32) -> Result<(), ContractError> {
        let mut distinct = owners.clone();
        distinct.sort();
        distinct.dedup();
        ensure!(
            distinct.len() == owners.len() && threshold >= 1 && threshold as usize <= owners.len(),
            MultisigError::BadConfig
        );
        OWNERS.save(&owners);
        THRESHOLD.save(&threshold);
        Ok(())
    }

    /// Proposes calling `method` on `contract` with `args`; the proposer approves it. Returns
    /// the proposal id.
    pub fn propose(contract: Address, method: String, args: Json) -> Result<u64, ContractError> {
        let who = require_owner()?;
        let id = NEXT_ID.load();
        NEXT_ID.save(&(id + 1));
        PROPOSALS.save(
            &id,
            &Proposal {
                contract,
                method,
                args,
                approvals: alloc::vec![who],
                executed: false,
            },
        );
        emit("proposed", &id);
        Ok(id)
    }

    /// Approves proposal `id`.
    pub fn approve(id: u64) -> Result<u32, ContractError> {
        let who = require_owner()?;
        let mut p = proposal(id)?;
        ensure!(!p.executed, MultisigError::AlreadyExecuted);
        ensure!(!p.approvals.contains(&who), MultisigError::AlreadyApproved);
        p.approvals.push(who);
        PROPOSALS.save(&id, &p);
        emit("approved", &id);
        Ok(p.approvals.len() as u32)
    }

    /// Executes proposal `id` once enough owners approved; returns the callee's result.
    pub fn execute(id: u64) -> Result<Json, ContractError> {
        require_owner()?;
        let mut p = proposal(id)?;
        ensure!(!p.executed, MultisigError::AlreadyExecuted);
        ensure!(
            p.approvals.len() as u32 >= THRESHOLD.load(),
            MultisigError::BelowThreshold
        );
        p.executed = true;
        PROPOSALS.save(&id, &p);
        let args = json::to_vec(&p.args).map_err(|_| MultisigError::CallFailed)?;
        let out = call_raw(&p.contract, &p.method, &args).map_err(|e| {
            ContractError::new(
                MultisigError::CallFailed.code(),
                alloc::format!("the proposed call failed: {}", e.message),
            )
        })?;
        emit("executed", &id);
        Ok(if out.is_empty() {
            Json::Null
        } else {
            json::from_slice(&out).unwrap_or(Json::Null)
        })
    }

    /// Proposal `id`.
    #[query]
    pub fn proposal(id: u64) -> Result<Proposal, ContractError> {
        proposal(id)
    }

    /// The owners.
    #[query]
    pub fn owners() -> Vec<Address> {
        OWNERS.load()
    }

    /// Approvals needed.
    #[query]
    pub fn threshold() -> u32 {
        THRESHOLD.load()
    }
}
