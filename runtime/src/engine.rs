//! The one wasmtime engine every contract runs on, configured for determinism.
//!
//! | option | setting | why |
//! |---|---|---|
//! | fuel | on, [`operator_cost`](wasmtime::Config::operator_cost) table | gas metering: deterministic, counted per wasm operator |
//! | NaN canonicalization | on | float results are bit-identical on every machine |
//! | threads, SIMD, relaxed SIMD, multi-memory, memory64, tail calls | off | non-determinism (threads, relaxed SIMD) or attack surface we do not need |
//! | `max_wasm_stack` | [`MAX_WASM_STACK`] | deep recursion traps instead of overflowing the node's stack |
//! | backtraces | off | traps are cheaper, and no engine text can leak into receipts |
//! | allocation | pooling, linear memory reserved at its maximum | instantiation in microseconds, bounded address space |

use crate::error::RuntimeError;
use crate::validate::ModuleLimits;
use phalanx_abi::limits::MAX_CALL_DEPTH;
use wasmtime::{
    Config, Enabled, Engine, InstanceAllocationStrategy, OperatorCost, OptLevel,
    PoolingAllocationConfig, WasmFeatures,
};

/// Wasm stack available to each (nested) call. With [`MAX_CALL_DEPTH`] nested calls the
/// runtime needs at most `MAX_CALL_DEPTH * MAX_WASM_STACK` plus host frames of native stack;
/// threads that execute contracts must have at least [`EXEC_STACK_BYTES`].
pub const MAX_WASM_STACK: usize = 128 * 1024;

/// Native stack a thread needs to run contracts safely at the deepest call nesting.
pub const EXEC_STACK_BYTES: usize = 8 * 1024 * 1024;

/// Memory kept resident per instance slot between calls (reset with `memset`).
const RESIDENT_BYTES: usize = 2 * 1024 * 1024;

/// Size of one wasm page.
pub const WASM_PAGE: u64 = 64 * 1024;

/// Fuel charged per 64 KiB page requested by `memory.grow` (on top of the operator's flat 1),
/// since the host must zero the page.
pub const MEMORY_GROW_PER_PAGE: u8 = 255;

/// How many calls may run at once: block execution plus concurrent queries. Each may nest
/// [`MAX_CALL_DEPTH`] instances, and the pooling allocator reserves a slot for each.
#[derive(Debug, Clone, Copy)]
pub struct Concurrency {
    /// Concurrent read-only queries (RPC).
    pub queries: u32,
    /// Concurrent transaction executions (block execution, block validation).
    pub executions: u32,
}

impl Default for Concurrency {
    fn default() -> Self {
        Concurrency {
            queries: 16,
            executions: 2,
        }
    }
}

/// Builds the engine.
pub fn build_engine(
    limits: &ModuleLimits,
    concurrency: Concurrency,
) -> Result<Engine, RuntimeError> {
    let mut config = Config::new();
    let mut cost = OperatorCost::new();
    cost.variable.memory_grow_per_page = MEMORY_GROW_PER_PAGE;
    config
        .consume_fuel(true)
        .operator_cost(cost)
        .cranelift_nan_canonicalization(true)
        .cranelift_opt_level(OptLevel::Speed)
        .wasm_features(WasmFeatures::THREADS, false)
        .wasm_features(WasmFeatures::SHARED_EVERYTHING_THREADS, false)
        .wasm_simd(false)
        .wasm_relaxed_simd(false)
        .wasm_multi_memory(false)
        .wasm_memory64(false)
        .wasm_tail_call(false)
        .wasm_custom_page_sizes(false)
        .wasm_wide_arithmetic(false)
        .max_wasm_stack(MAX_WASM_STACK)
        .wasm_backtrace_max_frames(None);

    let max_memory = limits.max_memory_pages * WASM_PAGE;
    let slots = (concurrency.queries + concurrency.executions) * MAX_CALL_DEPTH;
    let mut pool = PoolingAllocationConfig::new();
    pool.total_core_instances(slots)
        .total_memories(slots)
        .total_tables(slots)
        .total_component_instances(0)
        .max_memories_per_module(1)
        .max_tables_per_module(1)
        .table_elements(limits.max_table_elements as usize)
        .max_memory_size(max_memory as usize)
        // Reset only the pages a call dirtied (PAGEMAP_SCAN, Linux 6.7+) and keep them
        // resident, instead of unmapping every page and faulting it back in on the next call.
        .pagemap_scan(Enabled::Auto)
        .linear_memory_keep_resident(RESIDENT_BYTES)
        .table_keep_resident(RESIDENT_BYTES);
    config
        .allocation_strategy(InstanceAllocationStrategy::Pooling(pool))
        .memory_reservation(max_memory)
        .memory_reservation_for_growth(0)
        .memory_may_move(false);
    Engine::new(&config).map_err(RuntimeError::engine)
}
