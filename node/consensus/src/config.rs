//! Static configuration of a consensus core.

use crate::signer::ValidatorSigner;
use phalanx_types::{SecretKey, ValidatorSet};

/// Default byte budget of one author's future-height messages: a block of the largest size
/// genesis allows (8 MiB), plus room for votes. The node sets it from the chain's
/// `max_block_bytes` ([`buffered_bytes_for`]).
pub const DEFAULT_BUFFERED_BYTES: usize = buffered_bytes_for(8 * 1024 * 1024);

/// The byte budget of one author's future-height messages for blocks of at most
/// `max_block_bytes`: one proposal for the next height, and 1 MiB for everything else.
pub const fn buffered_bytes_for(max_block_bytes: usize) -> usize {
    max_block_bytes + 1024 * 1024
}

/// How a core is set up. Every honest validator uses the same values except `key`.
#[derive(Debug, Clone)]
pub struct Config {
    /// Chain id; bound into every signature.
    pub chain_id: String,
    /// The validator set (primary order).
    pub validators: ValidatorSet,
    /// This validator's signer (its key, or a remote signer); `None` for a non-voting
    /// observer.
    pub key: Option<ValidatorSigner>,
    /// First view-change timeout (ms); doubles with each consecutive failed view.
    pub base_timeout_ms: u64,
    /// Cap on the view-change timeout (ms).
    pub max_timeout_ms: u64,
    /// Messages for heights beyond `height + window` are dropped (the paper's high watermark).
    pub window: u64,
    /// Most buffered future-height messages kept per author.
    pub max_buffered_per_peer: usize,
    /// Most bytes of buffered future-height messages kept per author.
    pub max_buffered_bytes_per_peer: usize,
    /// How far ahead of the current view proposals and votes are kept. VIEW-CHANGE and
    /// NEW-VIEW messages of the current height are taken at any view: they carry their own
    /// proof, and a replica left many views behind must be able to catch up.
    pub max_view_lookahead: u64,
    /// How many views behind the current one proposals and votes are kept (older ones can
    /// no longer lead anywhere: the new view re-proposes whatever was prepared).
    pub view_lookbehind: u64,
    /// How many heights above the one being decided the primary proposes and replicas
    /// prepare ahead (0: one height at a time). See [`crate::pipeline`].
    pub pipeline: u64,
    /// TEST ONLY: use f+1 instead of 2f+1 for every quorum. Breaks safety on purpose so the
    /// simulator can prove its checker catches violations. Never set outside tests.
    #[doc(hidden)]
    pub weaken_quorum_for_tests: bool,
}

impl Config {
    /// Defaults for timeouts and bounds.
    pub fn new(
        chain_id: impl Into<String>,
        validators: ValidatorSet,
        key: Option<SecretKey>,
    ) -> Config {
        Config {
            chain_id: chain_id.into(),
            validators,
            key: key.map(ValidatorSigner::from),
            base_timeout_ms: 2_000,
            max_timeout_ms: 10_000,
            window: 16,
            max_buffered_per_peer: 256,
            max_buffered_bytes_per_peer: DEFAULT_BUFFERED_BYTES,
            max_view_lookahead: 64,
            view_lookbehind: 2,
            pipeline: 0,
            weaken_quorum_for_tests: false,
        }
    }

    /// The same with `signer` signing for this validator instead of a key held here.
    pub fn with_signer(mut self, signer: Option<ValidatorSigner>) -> Config {
        self.key = signer;
        self
    }

    /// 2f+1 (or f+1 under the test-only switch).
    pub fn quorum(&self) -> usize {
        if self.weaken_quorum_for_tests {
            self.validators.weak_quorum()
        } else {
            self.validators.quorum()
        }
    }

    /// f+1.
    pub fn weak_quorum(&self) -> usize {
        self.validators.weak_quorum()
    }

    /// The view-change timeout after `failed_views` consecutive failed views: exponential
    /// back-off, capped (Besu users met "round expires in 4096 seconds" without a cap).
    pub fn timeout_ms(&self, failed_views: u32) -> u64 {
        let factor = 1u64.checked_shl(failed_views.min(32)).unwrap_or(u64::MAX);
        self.base_timeout_ms
            .saturating_mul(factor)
            .min(self.max_timeout_ms)
    }
}
