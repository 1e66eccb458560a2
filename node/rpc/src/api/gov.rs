//! Governance: proposals, their changes, and the configuration in force.

use super::{ValidatorView, set_view};
use phalanx_executor::governance::{ProposalRecord, ProposalStatus, Scheduled};
use phalanx_genesis::DeployPolicy;
use phalanx_types::{Address, GovernanceAction, Hash, Height, Proposal, PublicKey, View};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `gov_proposals`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProposalsParams {
    /// The first proposal id listed (default 0).
    #[serde(default)]
    pub from_id: u64,
    /// Page size (1 to 100, the default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<usize>,
}

/// Who may deploy contracts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeployPolicyView {
    /// Any account.
    Anyone,
    /// Only these accounts.
    Allowlist(Vec<Address>),
}

impl DeployPolicyView {
    /// The view of `p`.
    pub fn new(p: &DeployPolicy) -> DeployPolicyView {
        match p {
            DeployPolicy::Anyone => DeployPolicyView::Anyone,
            DeployPolicy::Allowlist(list) => DeployPolicyView::Allowlist(list.clone()),
        }
    }
}

/// An approved change waiting for its height.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct ScheduledView {
    /// The proposal.
    pub proposal_id: u64,
    /// The first height it applies to.
    pub activates_at: Height,
    /// The validator set from then on.
    pub validators: Vec<ValidatorView>,
}

impl ScheduledView {
    /// The view of `s`.
    pub fn new(s: &Scheduled) -> ScheduledView {
        ScheduledView {
            proposal_id: s.proposal_id,
            activates_at: s.activates_at,
            validators: set_view(&s.config.validators),
        }
    }
}

/// `gov_proposals`' answer: a page of proposals, and the configuration in force.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct ProposalsPage {
    /// The proposals, in id order.
    pub proposals: Vec<ProposalView>,
    /// `from_id` of the next page; null on the last.
    pub next_from_id: Option<u64>,
    /// The validator set in force.
    pub validators: Option<Vec<ValidatorView>>,
    /// Votes needed for a quorum (2f+1).
    pub quorum: Option<usize>,
    /// Who may deploy.
    pub deploy_policy: Option<DeployPolicyView>,
    /// The consensus parameters (docs/GOVERNANCE.md, "Parameters").
    pub params: Option<Value>,
    /// An approved change waiting for its height.
    pub scheduled: Option<ScheduledView>,
}

/// `gov_proposal`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProposalParams {
    /// The proposal's id.
    pub id: u64,
}

/// The evidence a removal carries, summarized.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct EvidenceSummary {
    /// The height of the equivocation.
    pub height: Height,
    /// Its view.
    pub view: View,
    /// Its phase.
    pub phase: String,
}

/// A proposed change.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ChangeView {
    /// Adds a validator.
    AddValidator {
        /// Its consensus key.
        public_key: PublicKey,
        /// Its node's peer id.
        peer_id: String,
        /// Its address.
        address: Address,
    },
    /// Removes a validator.
    RemoveValidator {
        /// Its address.
        address: Address,
        /// Equivocation evidence, if the removal is for misbehaviour.
        evidence: Option<EvidenceSummary>,
    },
    /// Lets an account deploy.
    AllowDeployer {
        /// The account.
        address: Address,
    },
    /// Stops an account deploying.
    RevokeDeployer {
        /// The account.
        address: Address,
    },
    /// Sets a consensus parameter.
    SetParam {
        /// Its name.
        name: String,
        /// Its new value.
        value: u64,
    },
    /// Migrates a governance-administered contract.
    MigrateContract {
        /// The contract.
        contract: Address,
        /// The new code.
        code_hash: Hash,
        /// The migration arguments (JSON text).
        args: String,
    },
    /// Changes a contract's admin.
    SetContractAdmin {
        /// The contract.
        contract: Address,
        /// The new admin (an address or `governance`); null: immutable.
        admin: Option<String>,
    },
}

impl ChangeView {
    /// The view of `change`.
    pub fn new(change: &Proposal) -> ChangeView {
        match change {
            Proposal::AddValidator {
                public_key,
                peer_id,
            } => ChangeView::AddValidator {
                public_key: *public_key,
                peer_id: peer_id.clone(),
                address: public_key.address(),
            },
            Proposal::RemoveValidator { address, evidence } => ChangeView::RemoveValidator {
                address: *address,
                evidence: evidence.as_ref().map(|e| EvidenceSummary {
                    height: e.height(),
                    view: e.first.statement.view,
                    phase: format!("{:?}", e.first.statement.phase),
                }),
            },
            Proposal::AllowDeployer { address } => ChangeView::AllowDeployer { address: *address },
            Proposal::RevokeDeployer { address } => {
                ChangeView::RevokeDeployer { address: *address }
            }
            Proposal::SetParam { name, value } => ChangeView::SetParam {
                name: name.clone(),
                value: *value,
            },
            Proposal::MigrateContract {
                contract,
                code_hash,
                args,
            } => ChangeView::MigrateContract {
                contract: *contract,
                code_hash: *code_hash,
                args: String::from_utf8_lossy(&args.0).into_owned(),
            },
            Proposal::SetContractAdmin { contract, admin } => ChangeView::SetContractAdmin {
                contract: *contract,
                admin: admin.map(|a| a.to_string()),
            },
        }
    }
}

/// A governance action (in transaction views).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum ActionView {
    /// Proposes a change (the proposer's approval included).
    Propose {
        /// The change.
        change: ChangeView,
        /// Whether it skips the waiting period (emergency removal).
        force: bool,
    },
    /// Approves a proposal.
    Approve {
        /// The proposal.
        proposal_id: u64,
    },
}

impl ActionView {
    /// The view of `action`.
    pub fn new(action: &GovernanceAction) -> ActionView {
        match action {
            GovernanceAction::Propose { change, force } => ActionView::Propose {
                change: ChangeView::new(change),
                force: *force,
            },
            GovernanceAction::Approve { proposal_id } => ActionView::Approve {
                proposal_id: *proposal_id,
            },
        }
    }
}

/// Where a proposal stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ProposalState {
    /// Collecting approvals.
    Pending,
    /// Past its deadline without a quorum.
    Expired,
    /// Approved, waiting for its height.
    Scheduled,
    /// In force.
    Applied,
}

/// A proposal.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct ProposalView {
    /// Its id.
    pub id: u64,
    /// The change.
    pub change: ChangeView,
    /// Whether it skips the waiting period.
    pub force: bool,
    /// Who proposed it.
    pub proposer: Address,
    /// The height it was proposed at.
    pub created_at: Height,
    /// The last height it may be approved at.
    pub expires_at: Height,
    /// The validators that approved it.
    pub approvals: Vec<Address>,
    /// Where it stands.
    pub status: ProposalState,
    /// The height it reached a quorum at.
    pub approved_at: Option<Height>,
    /// The height it applies (or applied) from.
    pub activates_at: Option<Height>,
}

impl ProposalView {
    /// The view of `r`, as of the next block `next_height`.
    pub fn new(r: &ProposalRecord, next_height: Height) -> ProposalView {
        let (status, approved_at, activates_at) = match r.status {
            ProposalStatus::Pending if r.expired_at(next_height) => {
                (ProposalState::Expired, None, None)
            }
            ProposalStatus::Pending => (ProposalState::Pending, None, None),
            ProposalStatus::Scheduled {
                approved_at,
                activates_at,
            } => (
                ProposalState::Scheduled,
                Some(approved_at),
                Some(activates_at),
            ),
            ProposalStatus::Applied {
                approved_at,
                activated_at,
            } => (
                ProposalState::Applied,
                Some(approved_at),
                Some(activated_at),
            ),
        };
        ProposalView {
            id: r.id,
            change: ChangeView::new(&r.change),
            force: r.force,
            proposer: r.proposer,
            created_at: r.created_at,
            expires_at: r.expires_at,
            approvals: r.approvals.clone(),
            status,
            approved_at,
            activates_at,
        }
    }
}
