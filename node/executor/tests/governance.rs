//! Governance in block execution: proposals, approvals by 2f+1 current validators, the
//! activation height, and the safety rules that refuse changes which would halt the chain.

mod common;

use common::{Chain, key, tx};
use phalanx_executor::governance::{
    ProposalStatus, committed_config, committed_proposal, committed_scheduled,
};
use phalanx_genesis::{ChainConfig, ConsensusParams, DeployPolicy};
use phalanx_runtime::StateChanges;
use phalanx_runtime::abi::code;
use phalanx_types::{
    Address, Bytes, GovernanceAction, Proposal, SecretKey, TxPayload, TxStatus, Validator,
    ValidatorSet,
};

fn validators(keys: &[SecretKey]) -> ValidatorSet {
    ValidatorSet::new(
        keys.iter()
            .enumerate()
            .map(|(i, k)| Validator::new(k.public_key(), peer(i as u8)))
            .collect(),
    )
}

/// A syntactically valid base58 peer id, distinct per `i`.
fn peer(i: u8) -> String {
    format!(
        "12D3KooW{}",
        "A".repeat(38) + &"abcdefghij"[(i % 10) as usize..][..1]
    )
}

/// A chain whose genesis configuration has `n` validators (keys 1..=n) and a deploy
/// allowlist holding key 100.
fn new_chain(n: u8) -> (Chain, Vec<SecretKey>) {
    let keys: Vec<SecretKey> = (1..=n).map(key).collect();
    let config = ChainConfig {
        validators: validators(&keys),
        deploy_policy: DeployPolicy::Allowlist(vec![key(100).address()]),
        params: ConsensusParams::default(),
    };
    let mut changes = StateChanges::new();
    for (k, v) in phalanx_executor::governance::genesis_records(&config) {
        changes.insert(k, Some(v));
    }
    let mut chain = Chain::with_genesis(config.deploy_policy.clone(), &changes);
    chain.env.params = config.params;
    (chain, keys)
}

fn propose(change: Proposal, force: bool) -> TxPayload {
    TxPayload::Governance(GovernanceAction::Propose { change, force })
}

fn approve(id: u64) -> TxPayload {
    TxPayload::Governance(GovernanceAction::Approve { proposal_id: id })
}

fn add(k: &SecretKey, i: u8) -> Proposal {
    Proposal::AddValidator {
        public_key: k.public_key(),
        peer_id: peer(i),
    }
}

fn refused(status: &TxStatus) -> String {
    match status {
        TxStatus::Failed { code: c, message } if *c == code::GOVERNANCE_REFUSED => message.clone(),
        other => panic!("expected a refused governance action, got {other:?}"),
    }
}

fn json(ret: &Bytes) -> serde_json::Value {
    serde_json::from_slice(&ret.0).expect("governance returns JSON")
}

#[test]
fn a_change_applies_after_a_quorum_at_a_later_height() {
    let (mut chain, v) = new_chain(4);
    let newcomer = key(50);
    // Block 1: validator 0 proposes; its proposal counts as its approval.
    let out = chain.commit(&[tx(&v[0], 0, propose(add(&newcomer, 5), false))]);
    assert_eq!(out.receipts[0].status, TxStatus::Ok);
    let ret = json(&out.receipts[0].return_data);
    assert_eq!(ret["proposal_id"], 1);
    assert_eq!(ret["approvals"], 1);
    assert_eq!(ret["needed"], 3);
    // Block 2: a second approval, an outsider's (refused, nonce spent), a repeated one.
    let outsider = key(77);
    let out = chain.commit(&[
        tx(&v[1], 0, approve(1)),
        tx(&outsider, 0, approve(1)),
        tx(&v[1], 1, approve(1)),
        tx(&v[2], 0, approve(9)),
    ]);
    assert_eq!(out.receipts[0].status, TxStatus::Ok);
    assert!(refused(&out.receipts[1].status).contains("not a validator"));
    assert!(refused(&out.receipts[2].status).contains("already approved"));
    assert!(refused(&out.receipts[3].status).contains("no proposal #9"));
    let record = committed_proposal(&chain.state, 1).unwrap().unwrap();
    assert_eq!(record.approvals, vec![v[0].address(), v[1].address()]);
    assert_eq!(record.status, ProposalStatus::Pending);
    // Block 3: the third approval is 2f+1 of 4: scheduled for height 3 + 2.
    let out = chain.commit(&[tx(&v[2], 1, approve(1))]);
    assert_eq!(out.receipts[0].status, TxStatus::Ok);
    assert_eq!(
        committed_proposal(&chain.state, 1).unwrap().unwrap().status,
        ProposalStatus::Scheduled {
            approved_at: 3,
            activates_at: 5
        }
    );
    let scheduled = committed_scheduled(&chain.state).unwrap().unwrap();
    assert_eq!(scheduled.activates_at, 5);
    assert_eq!(scheduled.config.validators.len(), 5);
    // Height 4 is still decided by the old set: the state after block 3 holds it.
    assert_eq!(
        committed_config(&chain.state).unwrap().unwrap().validators,
        validators(&v)
    );
    // The end of block 4 installs the set of height 5.
    chain.commit(&[]);
    let config = committed_config(&chain.state).unwrap().unwrap();
    assert_eq!(config.validators.len(), 5);
    assert!(config.validators.contains(&newcomer.address()));
    assert!(committed_scheduled(&chain.state).unwrap().is_none());
    assert_eq!(
        committed_proposal(&chain.state, 1).unwrap().unwrap().status,
        ProposalStatus::Applied {
            approved_at: 3,
            activated_at: 5
        }
    );
    // The newcomer now approves; a proposal by a non-validator is refused.
    let out = chain.commit(&[
        tx(
            &newcomer,
            0,
            propose(
                Proposal::SetParam {
                    name: "block_interval_ms".into(),
                    value: 500,
                },
                false,
            ),
        ),
        tx(
            &outsider,
            1,
            propose(
                Proposal::RemoveValidator {
                    address: v[0].address(),
                    evidence: None,
                },
                false,
            ),
        ),
    ]);
    assert_eq!(out.receipts[0].status, TxStatus::Ok);
    assert!(refused(&out.receipts[1].status).contains("may not propose"));
}

#[test]
fn changes_that_would_halt_or_break_the_chain_are_refused() {
    // One validator to two: the new quorum (2) needs the newcomer, so it is refused unless
    // the operators say it runs.
    let (mut chain, v) = new_chain(1);
    let b = key(60);
    let out = chain.commit(&[
        tx(&v[0], 0, propose(add(&b, 1), false)),
        tx(
            &v[0],
            1,
            propose(
                Proposal::RemoveValidator {
                    address: v[0].address(),
                    evidence: None,
                },
                true,
            ),
        ),
    ]);
    assert!(refused(&out.receipts[0].status).contains("would halt"));
    assert!(refused(&out.receipts[1].status).contains("last validator"));
    // Forced: a single validator is its own quorum, so it is scheduled at once.
    let out = chain.commit(&[tx(&v[0], 2, propose(add(&b, 1), true))]);
    assert_eq!(out.receipts[0].status, TxStatus::Ok);
    assert_eq!(
        json(&out.receipts[0].return_data)["status"],
        "scheduled for 4"
    );

    let (mut chain, v) = new_chain(4);
    let bad = [
        (add(&v[1], 9), "already a validator"),
        (
            Proposal::AddValidator {
                public_key: key(61).public_key(),
                peer_id: peer(0),
            },
            "peer id",
        ),
        (
            Proposal::AddValidator {
                public_key: key(61).public_key(),
                peer_id: "not a peer id!".into(),
            },
            "peer_id",
        ),
        (
            Proposal::RemoveValidator {
                address: Address([7; 32]),
                evidence: None,
            },
            "not a validator",
        ),
        (
            Proposal::SetParam {
                name: "block_interval_ms".into(),
                value: 0,
            },
            "block_interval_ms",
        ),
        (
            Proposal::SetParam {
                name: "colour".into(),
                value: 1,
            },
            "unknown parameter",
        ),
        (
            Proposal::AllowDeployer {
                address: key(100).address(),
            },
            "may deploy already",
        ),
        (
            Proposal::RevokeDeployer {
                address: key(101).address(),
            },
            "not on the deploy allowlist",
        ),
    ];
    let txs: Vec<_> = bad
        .iter()
        .enumerate()
        .map(|(i, (p, _))| tx(&v[0], i as u64, propose(p.clone(), false)))
        .collect();
    let out = chain.commit(&txs);
    for ((_, why), r) in bad.iter().zip(&out.receipts) {
        let message = refused(&r.status);
        assert!(message.contains(why), "{message:?} should say {why:?}");
    }
    // A refused action changed nothing but nonces: no proposal exists.
    assert!(committed_proposal(&chain.state, 1).unwrap().is_none());
}

#[test]
fn one_change_is_scheduled_at_a_time_and_proposals_expire() {
    let (mut chain, v) = new_chain(4);
    chain.env.governance.proposal_ttl = 3;
    let remove = |i: usize| Proposal::RemoveValidator {
        address: v[i].address(),
        evidence: None,
    };
    // Two proposals; the first is approved, then the second reaches its quorum while the
    // first waits for its height.
    chain.commit(&[
        tx(&v[0], 0, propose(remove(3), false)),
        tx(&v[1], 0, propose(remove(2), false)),
    ]);
    let out = chain.commit(&[
        tx(&v[1], 1, approve(1)),
        tx(&v[2], 0, approve(1)),
        tx(&v[0], 1, approve(2)),
        tx(&v[3], 0, approve(2)),
    ]);
    assert_eq!(out.receipts[1].status, TxStatus::Ok);
    assert_eq!(out.receipts[2].status, TxStatus::Ok);
    assert!(refused(&out.receipts[3].status).contains("already scheduled"));
    // After the first applies, the set is {0, 1, 2}; proposal 2 expired at height 1 + 3.
    chain.commit(&[]);
    chain.commit(&[]);
    let config = committed_config(&chain.state).unwrap().unwrap();
    assert_eq!(config.validators.len(), 3);
    let out = chain.commit(&[tx(&v[2], 1, approve(2))]);
    assert!(refused(&out.receipts[0].status).contains("expired"));
    // Validator 3 was removed: it may no longer approve anything.
    let out = chain.commit(&[tx(&v[3], 1, propose(remove(0), false))]);
    assert!(refused(&out.receipts[0].status).contains("may not propose"));
}

#[test]
fn deploy_allowlist_and_parameters_change_by_governance() {
    let (mut chain, v) = new_chain(1);
    let dev = key(101);
    let code = wat::parse_str(
        "(module (memory (export \"memory\") 1) (func (export \"init\") (param i32)))",
    )
    .unwrap();
    let deploy = || TxPayload::Deploy {
        code: Bytes(code.clone()),
        init_args: Bytes(vec![]),
        admin: None,
    };
    let out = chain.commit(&[tx(&dev, 0, deploy())]);
    assert!(
        matches!(out.receipts[0].status, TxStatus::Failed { code: c, .. } if c == code::NOT_ALLOWED)
    );
    let out = chain.commit(&[
        tx(
            &v[0],
            0,
            propose(
                Proposal::AllowDeployer {
                    address: dev.address(),
                },
                false,
            ),
        ),
        tx(
            &v[0],
            1,
            propose(
                Proposal::SetParam {
                    name: "max_block_txs".into(),
                    value: 7,
                },
                false,
            ),
        ),
    ]);
    assert_eq!(out.receipts[0].status, TxStatus::Ok);
    // Only one change is scheduled at a time.
    assert!(refused(&out.receipts[1].status).contains("already scheduled"));
    chain.commit(&[]);
    let config = committed_config(&chain.state).unwrap().unwrap();
    assert_eq!(
        config.deploy_policy,
        DeployPolicy::Allowlist(vec![key(100).address(), dev.address()])
    );
    chain.env.deploy_policy = config.deploy_policy;
    let out = chain.commit(&[tx(&dev, 1, deploy())]);
    assert_eq!(out.receipts[0].status, TxStatus::Ok);
    // With nothing scheduled, the parameter change goes through and applies two blocks on.
    let out = chain.commit(&[tx(
        &v[0],
        2,
        propose(
            Proposal::SetParam {
                name: "max_block_txs".into(),
                value: 7,
            },
            false,
        ),
    )]);
    assert_eq!(out.receipts[0].status, TxStatus::Ok);
    assert_eq!(
        committed_config(&chain.state)
            .unwrap()
            .unwrap()
            .params
            .max_block_txs,
        ConsensusParams::default().max_block_txs
    );
    chain.commit(&[]);
    assert_eq!(
        committed_config(&chain.state)
            .unwrap()
            .unwrap()
            .params
            .max_block_txs,
        7
    );
}

#[test]
fn a_removal_may_carry_equivocation_evidence_which_the_chain_checks() {
    use phalanx_types::Hash;
    use phalanx_types::consensus::{ConsensusMessage, Evidence, Vote};
    let (mut chain, v) = new_chain(4);
    let vote = |k: &SecretKey, hash: u8| {
        ConsensusMessage::Prepare(Vote {
            view: 3,
            height: 9,
            block_hash: Hash([hash; 32]),
        })
        .sign(common::CHAIN, k)
    };
    let real = Evidence::of(&vote(&v[3], 1), &vote(&v[3], 2)).expect("a conflict");
    let same = Evidence {
        first: vote(&v[3], 1).signed_statement(),
        second: vote(&v[3], 1).signed_statement(),
    };
    let remove = |address: Address, ev: &Evidence| {
        propose(
            Proposal::RemoveValidator {
                address,
                evidence: Some(Box::new(*ev)),
            },
            false,
        )
    };
    let out = chain.commit(&[
        tx(&v[0], 0, remove(v[2].address(), &real)),
        tx(&v[0], 1, remove(v[3].address(), &same)),
        tx(&v[0], 2, remove(v[3].address(), &real)),
    ]);
    assert!(refused(&out.receipts[0].status).contains("evidence is against"));
    assert!(refused(&out.receipts[1].status).contains("evidence does not hold"));
    assert_eq!(out.receipts[2].status, TxStatus::Ok);
    let record = committed_proposal(&chain.state, 1).unwrap().unwrap();
    assert!(matches!(
        record.change,
        Proposal::RemoveValidator {
            evidence: Some(_),
            ..
        }
    ));
}

#[test]
fn a_governance_contract_changes_only_as_approved_proposals_say() {
    use phalanx_runtime::layout::{self, ContractInfo};
    use phalanx_types::Admin;
    let (mut chain, v) = new_chain(1);
    let dev = key(100);
    let module = |extra: &str| {
        wat::parse_str(format!(
            "(module (memory (export \"memory\") 1) (func (export \"init\") (param i32)) {extra})"
        ))
        .unwrap()
    };
    let v1 = module("");
    let v2 = module("(func (export \"migrate\") (param i32))");
    let h2 = layout::code_hash(&v2);
    let out = chain.commit(&[tx(
        &dev,
        0,
        TxPayload::Deploy {
            code: Bytes(v1),
            init_args: Bytes(vec![]),
            admin: Some(Admin::Governance),
        },
    )]);
    let contract = Address::from_slice(&out.receipts[0].return_data.0).unwrap();
    let migrate = |args: &[u8]| TxPayload::Migrate {
        contract,
        code_hash: h2,
        code: Some(Bytes(v2.clone())),
        args: Bytes(args.to_vec()),
    };
    let code_hash = |chain: &Chain| {
        let raw = chain
            .state
            .get(&layout::contract_key(&contract))
            .unwrap()
            .unwrap();
        ContractInfo::from_bytes(&raw).unwrap().code_hash
    };
    // No proposal yet: the deployer may not migrate it.
    let out = chain.commit(&[tx(&dev, 1, migrate(b"x"))]);
    assert!(
        matches!(out.receipts[0].status, TxStatus::Failed { code: c, .. } if c == code::NOT_ADMIN)
    );
    // Proposals about a contract that does not exist, or is not governance's, are refused.
    let stray = Proposal::MigrateContract {
        contract: Address([9; 32]),
        code_hash: h2,
        args: Bytes(vec![]),
    };
    let out = chain.commit(&[tx(&v[0], 0, propose(stray, false))]);
    assert!(refused(&out.receipts[0].status).contains("no contract"));
    // Approved (one validator is a quorum of one), applied at the end of the next block.
    let grant = Proposal::MigrateContract {
        contract,
        code_hash: h2,
        args: Bytes(b"x".to_vec()),
    };
    let out = chain.commit(&[tx(&v[0], 1, propose(grant, false))]);
    assert_eq!(out.receipts[0].status, TxStatus::Ok);
    chain.commit(&[]);
    // Other arguments do not match the approval; the approved ones do, once.
    let out = chain.commit(&[tx(&dev, 2, migrate(b"y")), tx(&dev, 3, migrate(b"x"))]);
    assert!(
        matches!(out.receipts[0].status, TxStatus::Failed { code: c, .. } if c == code::NOT_ADMIN)
    );
    assert_eq!(out.receipts[1].status, TxStatus::Ok);
    assert_eq!(code_hash(&chain), h2);
    let out = chain.commit(&[tx(&dev, 4, migrate(b"x"))]);
    assert!(
        matches!(out.receipts[0].status, TxStatus::Failed { code: c, .. } if c == code::NOT_ADMIN)
    );
    // Governance hands the contract to the deployer, who then gives it up.
    let hand = Proposal::SetContractAdmin {
        contract,
        admin: Some(Admin::Account(dev.address())),
    };
    let out = chain.commit(&[tx(&v[0], 2, propose(hand, false))]);
    assert_eq!(out.receipts[0].status, TxStatus::Ok);
    chain.commit(&[]);
    let out = chain.commit(&[tx(
        &dev,
        5,
        TxPayload::SetAdmin {
            contract,
            admin: None,
        },
    )]);
    assert_eq!(out.receipts[0].status, TxStatus::Ok);
    assert!(
        chain
            .state
            .get(&layout::admin_key(&contract))
            .unwrap()
            .is_none()
    );
    // Now nobody's: governance cannot take it back.
    let back = Proposal::SetContractAdmin {
        contract,
        admin: Some(Admin::Governance),
    };
    let out = chain.commit(&[tx(&v[0], 3, propose(back, false))]);
    assert!(refused(&out.receipts[0].status).contains("immutable"));
}
