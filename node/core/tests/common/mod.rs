//! Shared by the core's integration tests.

#![allow(dead_code)]

use phalanx_core::ChainInfo;
use phalanx_genesis::{ChainConfig, ConsensusParams, DeployPolicy, GovernancePolicy};
use phalanx_runtime::EXEC_STACK_BYTES;
use phalanx_types::{Address, Bytes, SecretKey, SignedTx, Tx, TxPayload, Validator, ValidatorSet};

/// Genesis time of the test chains.
pub const T0: u64 = 1_700_000_000_000;

/// The rules of a one-validator test chain `chain-test` whose validator is `key`.
pub fn one_validator_info(key: &SecretKey) -> ChainInfo {
    ChainInfo {
        chain_id: "chain-test".into(),
        genesis_config: ChainConfig {
            validators: ValidatorSet::new(vec![Validator::new(key.public_key(), "p0")]),
            params: ConsensusParams::default(),
            deploy_policy: DeployPolicy::Anyone,
        },
        governance: GovernancePolicy::default(),
        genesis_time_ms: T0,
    }
}

/// A contract whose `set` stores its argument bytes under themselves (`echo` returns them,
/// `fail` traps).
pub const SETTER: &str = include_str!("../setter.wat");

/// A call by `key` with `nonce` to a contract that does not exist: it fails, but is included
/// and takes its nonce (one state key changes).
pub fn call(key: &SecretKey, nonce: u64) -> SignedTx {
    Tx {
        chain_id: "chain-test".into(),
        sender: key.public_key(),
        nonce,
        gas_limit: 1_000_000,
        payload: TxPayload::Call {
            contract: Address([9; 32]),
            method: "nothing".into(),
            args: Bytes(Vec::new()),
        },
    }
    .sign(key)
}

/// Runs `f` on a thread with the stack contract execution needs; panics propagate.
pub fn in_big_stack(f: impl FnOnce() + Send + 'static) {
    std::thread::Builder::new()
        .stack_size(EXEC_STACK_BYTES)
        .spawn(f)
        .unwrap()
        .join()
        .unwrap();
}
