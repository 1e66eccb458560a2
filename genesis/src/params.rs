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

/// The worst wall time per gas measured on the reference machine, in picoseconds, rounded
/// up (1.19 ns in the runtime's `adversarial` benchmark; docs/GAS.md).
pub const WORST_PS_PER_GAS: u64 = 1_250;

/// A full block at [`WORST_PS_PER_GAS`] must execute within this share of the first view
/// timeout, leaving the rest for proposing, voting and a slower validator.
pub const BLOCK_TIME_SHARE_OF_TIMEOUT: u64 = 4;

impl ConsensusParams {
    /// The largest `block_gas_limit` that `view_timeout_ms` allows: a full block at the worst
    /// measured rate takes at most a quarter of the timeout on the reference machine.
    pub fn max_block_gas_for_timeout(view_timeout_ms: u64) -> u64 {
        view_timeout_ms.saturating_mul(1_000_000_000)
            / BLOCK_TIME_SHARE_OF_TIMEOUT
            / WORST_PS_PER_GAS
    }
}

impl Default for ConsensusParams {
    fn default() -> Self {
        ConsensusParams {
            block_gas_limit: 400_000_000,
            max_tx_gas: 400_000_000,
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
        // Every consensus message must fit a wire frame with blocks this large and the
        // largest validator set governance allows (a NEW-VIEW carries one block and a
        // certificate from every validator).
        if !phalanx_types::limits::messages_fit(
            self.max_block_bytes as usize,
            crate::MAX_VALIDATORS,
        ) {
            return bad(
                "max_block_bytes",
                "too large: a NEW-VIEW with a block this size would not fit a wire frame",
            );
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
        if self.block_gas_limit > Self::max_block_gas_for_timeout(self.view_timeout_ms) {
            return bad(
                "block_gas_limit",
                &format!(
                    "a full block could run longer than a quarter of view_timeout_ms at the worst \
                     measured {WORST_PS_PER_GAS} ps per gas (at most {} with view_timeout_ms = {}); \
                     lower it or raise view_timeout_ms",
                    Self::max_block_gas_for_timeout(self.view_timeout_ms),
                    self.view_timeout_ms
                ),
            );
        }
        if self.max_clock_drift_ms == 0 {
            return bad("max_clock_drift_ms", "must be positive");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_block_budget_beyond_the_view_timeout_is_refused() {
        // The old defaults: 10 Ggas blocks (12.5 s at the worst measured rate) against 2 s.
        let old = ConsensusParams {
            block_gas_limit: 10_000_000_000,
            max_tx_gas: 1_000_000_000,
            ..ConsensusParams::default()
        };
        let err = old.validate().unwrap_err().to_string();
        assert!(err.contains("block_gas_limit"), "{err}");
        // The defaults sit exactly at the bound; one gas more is refused, and a longer
        // timeout makes room.
        let d = ConsensusParams::default();
        assert!(d.validate().is_ok());
        assert_eq!(
            d.block_gas_limit,
            ConsensusParams::max_block_gas_for_timeout(d.view_timeout_ms)
        );
        let over = ConsensusParams {
            block_gas_limit: d.block_gas_limit + 1,
            ..d.clone()
        };
        assert!(over.validate().is_err());
        let slower = ConsensusParams {
            view_timeout_ms: 4_000,
            max_view_timeout_ms: 10_000,
            block_gas_limit: 2 * d.block_gas_limit,
            ..d
        };
        assert!(slower.validate().is_ok());
    }

    #[test]
    fn the_largest_blocks_allowed_fit_every_message() {
        // The cap on max_block_bytes keeps a NEW-VIEW of the largest validator set within a
        // wire frame; the frame check stands behind it should the cap ever be raised.
        let cap = phalanx_types::block::MAX_BLOCK_BYTES / 2;
        assert!(phalanx_types::limits::messages_fit(
            cap,
            crate::MAX_VALIDATORS
        ));
        let params = ConsensusParams {
            max_block_bytes: cap as u64,
            ..ConsensusParams::default()
        };
        assert!(params.validate().is_ok());
        assert!(!phalanx_types::limits::messages_fit(
            2 * cap,
            crate::MAX_VALIDATORS
        ));
    }
}
