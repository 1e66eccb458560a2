//! The one wasmtime engine every contract runs on, configured for determinism.
//!
//! | option | setting | why |
//! |---|---|---|
//! | fuel | on, [`operator_cost`](wasmtime::Config::operator_cost) table | gas metering: deterministic, counted per wasm operator |
//! | NaN canonicalization | on | float results are bit-identical on every machine |
//! | Cranelift optimization | none | merged expressions would hide live values from the deterministic stack limit ([`crate::stack`]) |
//! | threads, SIMD, relaxed SIMD, multi-memory, memory64, tail calls | off | non-determinism (threads, relaxed SIMD) or attack surface we do not need |
//! | `max_wasm_stack` | [`MAX_WASM_STACK`] | a safety net far above the deterministic stack limit of [`crate::stack`] |
//! | backtraces | off | traps are cheaper, and no engine text can leak into receipts |
//! | allocation | pooling, linear memory reserved at its maximum | instantiation in microseconds, bounded address space |

use crate::error::RuntimeError;
use crate::validate::ModuleLimits;
use phalanx_abi::limits::MAX_CALL_DEPTH;
use wasmtime::{
    Config, Enabled, Engine, InstanceAllocationStrategy, OperatorCost, OptLevel,
    PoolingAllocationConfig, RegallocAlgorithm, WasmFeatures,
};

/// Native stack available to each (nested) call: a safety net only. Outcomes are decided by
/// the deterministic limit of [`crate::stack`], which the `stack` tests show stays far below
/// this on the worst frame shapes. With [`MAX_CALL_DEPTH`] nested calls the runtime needs at
/// most `MAX_CALL_DEPTH * MAX_WASM_STACK` plus host frames of native stack; threads that
/// execute contracts must have at least [`EXEC_STACK_BYTES`].
pub const MAX_WASM_STACK: usize = 1024 * 1024;

/// Native stack a thread needs to run contracts safely at the deepest call nesting.
pub const EXEC_STACK_BYTES: usize = 16 * 1024 * 1024;

/// Engine settings that must never change an outcome; tests vary them to prove it.
#[derive(Debug, Clone, Copy)]
pub struct EngineTuning {
    /// Native stack per call ([`MAX_WASM_STACK`]).
    pub max_wasm_stack: usize,
    /// Use Cranelift's single-pass register allocator instead of the backtracking one: very
    /// different frames (it spills far more), for tests.
    pub single_pass_regalloc: bool,
}

impl Default for EngineTuning {
    fn default() -> Self {
        EngineTuning {
            max_wasm_stack: MAX_WASM_STACK,
            single_pass_regalloc: false,
        }
    }
}

/// Memory kept resident per instance slot between calls (reset with `memset`).
const RESIDENT_BYTES: usize = crate::gas::RESIDENT_PAGES as usize * WASM_PAGE as usize;

/// Size of one wasm page.
pub const WASM_PAGE: u64 = 64 * 1024;

/// Fuel charged by the operator table per 64 KiB page requested by `memory.grow`. Zero: grown
/// pages are paid at [`GasSchedule::memory_page`](crate::GasSchedule::memory_page) each, more
/// than the table's `u8` can express, when the next host call or the call frame ends.
pub const MEMORY_GROW_PER_PAGE: u8 = 0;

/// Fuel of `f32.div`, `f64.div`, `f32.sqrt` and `f64.sqrt`.
pub const SLOW_FLOAT_OP: u8 = 4;

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
    tuning: EngineTuning,
) -> Result<Engine, RuntimeError> {
    let mut config = Config::new();
    let mut cost = OperatorCost::new();
    cost.variable.memory_grow_per_page = MEMORY_GROW_PER_PAGE;
    // The slow float operators (tens of cycles each) cost more than the flat 1; the
    // `adversarial` benchmark measures them against the rest (docs/GAS.md).
    cost.F32Div = SLOW_FLOAT_OP;
    cost.F64Div = SLOW_FLOAT_OP;
    cost.F32Sqrt = SLOW_FLOAT_OP;
    cost.F64Sqrt = SLOW_FLOAT_OP;
    config
        .consume_fuel(true)
        .operator_cost(cost)
        .cranelift_nan_canonicalization(true)
        // No mid-end optimization: the e-graph pass merges equal expressions across calls and
        // keeps the merged values alive in frame slots the wasm does not show, which would let
        // a native frame outgrow its stack units (the `merged expressions` shape in
        // tests/stack.rs). Without it, what lives across a call is the wasm's own locals and
        // operands, which the units count.
        .cranelift_opt_level(OptLevel::None)
        .cranelift_regalloc_algorithm(if tuning.single_pass_regalloc {
            RegallocAlgorithm::SinglePass
        } else {
            RegallocAlgorithm::Backtracking
        })
        .wasm_features(WasmFeatures::THREADS, false)
        .wasm_features(WasmFeatures::SHARED_EVERYTHING_THREADS, false)
        .wasm_simd(false)
        .wasm_relaxed_simd(false)
        .wasm_multi_memory(false)
        .wasm_memory64(false)
        .wasm_tail_call(false)
        .wasm_custom_page_sizes(false)
        .wasm_wide_arithmetic(false)
        .max_wasm_stack(tuning.max_wasm_stack)
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
