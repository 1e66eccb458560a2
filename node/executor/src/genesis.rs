//! The state at height 0: genesis contracts deployed in file order.

use crate::error::ExecutorError;
use phalanx_genesis::Genesis;
use phalanx_runtime::{BlockInfo, EmptyState, Overlay, Runtime, StateChanges, TxEnv};
use std::sync::Arc;

/// Gas available to each genesis contract's deploy and `init`.
pub const GENESIS_DEPLOY_GAS: u64 = 10_000_000_000;

/// The state changes of height 0. Contract `i` is deployed by its `deployer` with nonce `i`,
/// so its address is `layout::contract_address(deployer, i)`.
pub fn genesis_state(runtime: &Runtime, genesis: &Genesis) -> Result<StateChanges, ExecutorError> {
    let mut overlay = Overlay::new(Arc::new(EmptyState));
    let block = BlockInfo {
        height: 0,
        time_ms: genesis.genesis_time_ms,
        chain_id: genesis.chain_id.clone(),
    };
    for (i, contract) in genesis.contracts.iter().enumerate() {
        let env = TxEnv {
            block: block.clone(),
            origin: contract.deployer,
            nonce: i as u64,
            gas_limit: GENESIS_DEPLOY_GAS,
        };
        let out = runtime.deploy(
            &mut overlay,
            &env,
            &contract.code.0,
            contract.init_args.as_bytes(),
        )?;
        if let Err(e) = out.result {
            let detail = runtime
                .check_code(&contract.code.0)
                .err()
                .map(|v| format!(" ({v})"))
                .unwrap_or_default();
            return Err(ExecutorError::Genesis {
                name: contract.name.clone(),
                reason: format!("{e}{detail}"),
            });
        }
    }
    for (key, value) in crate::governance::genesis_records(&genesis.config()) {
        overlay.set(key, value);
    }
    Ok(overlay.into_changes())
}
