//! The gas schedule. Wasm operators cost fuel through the engine's operator table (1 per
//! operator, 0 for control-flow markers); host functions cost what is listed here. The unit is
//! calibrated so that **1 gas ≈ 1 ns** on the reference machine (1 Mgas ≈ 1 ms); see
//! `docs/GAS.md` and the `runtime` benchmark that measures it.

/// Gas costs of host work. All costs are charged before the work is done, also when the host
/// function then fails.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GasSchedule {
    /// Flat cost of entering any host function.
    pub host_call: u64,
    /// Per byte copied between guest memory and the host.
    pub byte_copy: u64,
    /// Instantiating a contract for a call (top-level or nested).
    pub instantiate: u64,
    /// Reading one storage value.
    pub storage_read: u64,
    /// Per byte of key and value read.
    pub storage_read_byte: u64,
    /// Writing one storage value (the state tree update and its persistence).
    pub storage_write: u64,
    /// Per byte of key and value written (state growth is paid for here).
    pub storage_write_byte: u64,
    /// Removing one storage value.
    pub storage_remove: u64,
    /// One iteration step.
    pub storage_next: u64,
    /// Emitting one event.
    pub event: u64,
    /// Per byte of event topic and data.
    pub event_byte: u64,
    /// Per byte hashed by `blake3`.
    pub blake3_byte: u64,
    /// One ed25519 signature verification.
    pub ed25519_verify: u64,
    /// Per byte of deployed code (validation and compilation).
    pub deploy_byte: u64,
    /// Storing a new contract record at instantiation.
    pub new_contract: u64,
}

impl GasSchedule {
    /// The schedule of this release.
    pub const DEFAULT: GasSchedule = GasSchedule {
        host_call: 40,
        byte_copy: 1,
        instantiate: 10_000,
        storage_read: 1_500,
        storage_read_byte: 2,
        storage_write: 4_000,
        storage_write_byte: 30,
        storage_remove: 2_000,
        storage_next: 2_500,
        event: 500,
        event_byte: 10,
        blake3_byte: 2,
        ed25519_verify: 40_000,
        deploy_byte: 200,
        new_contract: 20_000,
    };
}

impl Default for GasSchedule {
    fn default() -> Self {
        GasSchedule::DEFAULT
    }
}
