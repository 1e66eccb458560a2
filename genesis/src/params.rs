//! Consensus parameters set at genesis.

use crate::GenesisError;
use serde::{Deserialize, Serialize};

/// Consensus and block parameters. Every node must use the same values.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConsensusParams {
    /// Most gas all transactions of a block may use together.
    pub block_gas_limit: u64,
    /// Most gas one transaction may ask for.
    pub max_tx_gas: u64,
    /// Largest encoded block, in bytes.
    pub max_block_bytes: u64,
    /// Most transactions in a block.
    pub max_block_txs: u32,
    /// The primary proposes an empty block after this long without transactions (ms).
    pub block_interval_ms: u64,
    /// First view-change timeout (ms). It doubles with each consecutive failed view.
    pub view_timeout_ms: u64,
    /// Cap on the view-change timeout (ms).
    pub max_view_timeout_ms: u64,
    /// How far a block's timestamp may be ahead of a replica's clock (ms).
    pub max_clock_drift_ms: u64,
}

impl Default for ConsensusParams {
    fn default() -> Self {
        ConsensusParams {
            block_gas_limit: 10_000_000_000,
            max_tx_gas: 1_000_000_000,
            max_block_bytes: 4 * 1024 * 1024,
            max_block_txs: 10_000,
            block_interval_ms: 1_000,
            view_timeout_ms: 2_000,
            max_view_timeout_ms: 10_000,
            max_clock_drift_ms: 2_000,
        }
    }
}

impl ConsensusParams {
    /// Checks ranges and relations between parameters.
    pub fn validate(&self) -> Result<(), GenesisError> {
        let bad = |field: &str, reason: &str| {
            Err(GenesisError::Invalid {
                field: format!("params.{field}"),
                reason: reason.into(),
            })
        };
        if self.block_gas_limit == 0 {
            return bad("block_gas_limit", "must be positive");
        }
        if self.max_tx_gas == 0 || self.max_tx_gas > self.block_gas_limit {
            return bad("max_tx_gas", "must be positive and at most block_gas_limit");
        }
        if self.max_block_bytes < 1024
            || self.max_block_bytes > phalanx_types::block::MAX_BLOCK_BYTES as u64 / 2
        {
            return bad("max_block_bytes", "must be between 1 KiB and 8 MiB");
        }
        if self.max_block_txs == 0 {
            return bad("max_block_txs", "must be positive");
        }
        if self.view_timeout_ms < 50 {
            return bad("view_timeout_ms", "must be at least 50");
        }
        if self.max_view_timeout_ms < self.view_timeout_ms {
            return bad("max_view_timeout_ms", "must be at least view_timeout_ms");
        }
        if self.block_interval_ms == 0 || self.block_interval_ms >= self.view_timeout_ms {
            return bad(
                "block_interval_ms",
                "must be positive and below view_timeout_ms (or idle primaries get replaced)",
            );
        }
        if self.max_clock_drift_ms == 0 {
            return bad("max_clock_drift_ms", "must be positive");
        }
        Ok(())
    }
}
