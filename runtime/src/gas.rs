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
    /// One iteration step, and each deleted entry it steps over.
    pub storage_next: u64,
    /// Per committed key the contract has ever deleted, on every iteration step: the
    /// database tombstones iteration may have to step over.
    pub storage_next_deleted: u64,
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
    /// The first call of a code in a block: loading a compiled module that the node's cache
    /// may not hold (a database read, checksum, mapping). Gas never depends on the cache.
    pub code_load: u64,
    /// Per byte of code, with [`code_load`](Self::code_load).
    pub code_load_byte: u64,
    /// Per byte of a contract's code, on every instantiation: data segments and tables are
    /// copied into the fresh instance.
    pub instance_byte: u64,
    /// Per 64 KiB page of linear memory an instance starts with or grows to, among the first
    /// [`RESIDENT_PAGES`]: the engine keeps those resident and resets them with a `memset`.
    pub memory_page: u64,
    /// Per page beyond [`RESIDENT_PAGES`]: those are unmapped after each call, so every use
    /// faults them in again, page by page.
    pub memory_page_faulted: u64,
}

/// Pages of each instance's memory the engine keeps resident between calls (2 MiB).
pub const RESIDENT_PAGES: u64 = 32;

impl GasSchedule {
    /// Gas for an instance's memory growing from `from` pages to `to`.
    pub fn memory_pages(&self, from: u64, to: u64) -> u64 {
        let resident = to
            .min(RESIDENT_PAGES)
            .saturating_sub(from.min(RESIDENT_PAGES));
        let faulted = to.saturating_sub(from.max(RESIDENT_PAGES));
        resident
            .saturating_mul(self.memory_page)
            .saturating_add(faulted.saturating_mul(self.memory_page_faulted))
    }
}

impl GasSchedule {
    /// The schedule of this release.
    pub const DEFAULT: GasSchedule = GasSchedule {
        host_call: 40,
        byte_copy: 1,
        instantiate: 10_000,
        storage_read: 1_500,
        storage_read_byte: 2,
        storage_write: 40_000,
        storage_write_byte: 30,
        storage_remove: 40_000,
        storage_next: 5_000,
        storage_next_deleted: 200,
        event: 500,
        event_byte: 10,
        blake3_byte: 2,
        ed25519_verify: 60_000,
        deploy_byte: 200,
        new_contract: 20_000,
        code_load: 300_000,
        code_load_byte: 2,
        instance_byte: 1,
        memory_page: 4_000,
        memory_page_faulted: 30_000,
    };
}

impl Default for GasSchedule {
    fn default() -> Self {
        GasSchedule::DEFAULT
    }
}
