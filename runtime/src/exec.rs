//! Executing contracts: deploy, instantiate, call and query.

use crate::cache::{ArtifactStore, CacheStats, ModuleCache, compile};
use crate::engine::{Concurrency, EngineTuning, build_engine};
use crate::error::RuntimeError;
use crate::gas::GasSchedule;
use crate::host::{BlockInfo, HostState, HostTrap, TxCtx, link};
use crate::layout::{self, ContractInfo};
use crate::stack::{STACK_EXPORT, STACK_LIMIT, instrument};
use crate::state::{Overlay, StateRead};
use crate::validate::{InvalidModule, ModuleLimits, validate};
use phalanx_abi::{INIT_METHOD, MEMORY_EXPORT, MIGRATE_METHOD, code, limits};
use phalanx_types::{Address, Event, Gas, Hash, TxPayload};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use wasmtime::{Engine, Linker, Module, Store, Trap};

/// A deterministic failure of a call: a stable code and a message that is either the
/// contract's own or the fixed description of a host code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("error {code}: {message}")]
pub struct ExecError {
    /// Stable code (see `phalanx_abi::code`).
    pub code: u32,
    /// Contract-chosen message, or the host code's fixed description.
    pub message: String,
}

impl ExecError {
    /// A host failure with its fixed description.
    pub fn host(code: u32) -> ExecError {
        ExecError {
            code,
            message: code::describe(code).to_string(),
        }
    }
}

/// What a deploy, instantiate, call or query produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The return data, or why the call failed (then it changed no state).
    pub result: Result<Vec<u8>, ExecError>,
    /// Gas consumed, never more than the limit.
    pub gas_used: Gas,
    /// Events, in emission order (empty on failure).
    pub events: Vec<Event>,
    /// The instantiated contract's address (deploy and instantiate).
    pub contract: Option<Address>,
}

/// A read-only call.
#[derive(Debug, Clone, Copy)]
pub struct Query<'a> {
    /// The contract.
    pub contract: Address,
    /// Its method.
    pub method: &'a str,
    /// Argument bytes.
    pub args: &'a [u8],
    /// Who the contract sees as caller (the zero address if `None`).
    pub caller: Option<Address>,
    /// Most gas the query may use.
    pub gas_cap: Gas,
}

/// Who runs a transaction and with what budget.
#[derive(Debug, Clone)]
pub struct TxEnv {
    /// The block.
    pub block: BlockInfo,
    /// The account that signed the transaction (caller of the outermost call).
    pub origin: Address,
    /// The transaction's nonce (makes contract addresses unique).
    pub nonce: u64,
    /// Gas available to the transaction's execution.
    pub gas_limit: Gas,
}

/// How the runtime is set up.
#[derive(Debug, Clone, Default)]
pub struct RuntimeConfig {
    /// Deploy-time module limits (also the memory and table limits of instances).
    pub limits: ModuleLimits,
    /// The gas schedule.
    pub schedule: GasSchedule,
    /// Concurrency the instance pool is sized for.
    pub concurrency: Concurrency,
    /// Compiled modules kept in memory.
    pub cache_capacity: usize,
    /// Engine settings that never change outcomes (tests vary them).
    pub tuning: EngineTuning,
}

pub(crate) struct Inner {
    pub engine: Engine,
    pub linker: Linker<HostState>,
    pub cache: ModuleCache,
    pub schedule: GasSchedule,
    pub limits: ModuleLimits,
    queries: AtomicU32,
    max_queries: u32,
}

/// The contract runtime. Cheap to clone; share one per node.
#[derive(Clone)]
pub struct Runtime {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("cache", &self.inner.cache.stats())
            .finish()
    }
}

/// The result of running one call frame.
pub(crate) struct Frame {
    pub tx: TxCtx,
    pub result: Result<Vec<u8>, ExecError>,
    pub fuel_left: u64,
}

/// Maps a wasmtime error from a call or instantiation to a deterministic failure, or to a node
/// fault when it is not something the contract caused.
fn classify(err: wasmtime::Error) -> Result<ExecError, RuntimeError> {
    let err = match err.downcast::<HostTrap>() {
        Ok(HostTrap::Exec(e)) => return Ok(e),
        // Keep the fault's own kind (a storage failure stays a storage failure).
        Ok(HostTrap::Fault(f)) => return Err(f),
        Err(err) => err,
    };
    if let Some(trap) = err.downcast_ref::<Trap>() {
        let c = match trap {
            Trap::OutOfFuel => code::OUT_OF_GAS,
            Trap::StackOverflow => {
                // The deterministic limit (`stack`) should always trap first; reaching the
                // native safety net means a frame shape used more native stack than measured.
                tracing::error!(
                    "a contract hit the native stack limit before the deterministic one; \
                     results may differ between machines"
                );
                code::STACK_OVERFLOW
            }
            Trap::MemoryOutOfBounds => code::MEMORY_OUT_OF_BOUNDS,
            Trap::UnreachableCodeReached => code::UNREACHABLE,
            Trap::IntegerOverflow | Trap::IntegerDivisionByZero | Trap::BadConversionToInteger => {
                code::ARITHMETIC
            }
            _ => code::TRAP,
        };
        return Ok(ExecError::host(c));
    }
    Err(RuntimeError::engine(err))
}

/// Runs `method` of `contract` in a fresh instance with `fuel`, taking the transaction context
/// and handing it back. Opens an overlay layer that is kept only if the call succeeds.
pub(crate) fn run_frame(
    inner: &Arc<Inner>,
    mut tx: TxCtx,
    caller: Address,
    contract: Address,
    method: &str,
    input: Vec<u8>,
    fuel: u64,
) -> Result<Frame, RuntimeError> {
    let fail = |tx: TxCtx, code: u32, fuel_left: u64| {
        Ok(Frame {
            tx,
            result: Err(ExecError::host(code)),
            fuel_left,
        })
    };
    if input.len() > limits::MAX_ARGS_LEN as usize {
        return fail(tx, code::ARGS_TOO_LARGE, fuel);
    }
    // Everything from here on costs the node time whatever it finds (a missing contract is a
    // storage read too), so the flat price is paid first.
    let s = &inner.schedule;
    let Some(mut fuel) = fuel.checked_sub(s.instantiate) else {
        return fail(tx, code::OUT_OF_GAS, 0);
    };
    let Some(info) = tx.overlay.get(&layout::contract_key(&contract))? else {
        return fail(tx, code::UNKNOWN_CONTRACT, fuel);
    };
    let info = ContractInfo::from_bytes(&info)?;
    // Instantiating copies data segments and tables (at most the code's size). The first call
    // of a code in a block may also have to load it; the block's overlay then holds it, so
    // later calls never depend on the cache. Both are priced by code size, never by what the
    // node's cache holds.
    let code_len = u64::from(info.code_len);
    let loaded = tx.overlay.module(&info.code_hash);
    let mut cost = s.instance_byte.saturating_mul(u64::from(info.data_len));
    if loaded.is_none() {
        if tx.overlay.modules_held() >= MAX_CODES_PER_BLOCK {
            return fail(tx, code::LIMIT_EXCEEDED, fuel);
        }
        cost = cost
            .saturating_add(s.code_load)
            .saturating_add(s.code_load_byte.saturating_mul(code_len));
    }
    let Some(left) = fuel.checked_sub(cost) else {
        return fail(tx, code::OUT_OF_GAS, 0);
    };
    fuel = left;
    let prepared = match loaded {
        Some(p) => p,
        None => {
            let prepared =
                inner
                    .cache
                    .get(&inner.engine, &inner.linker, &info.code_hash, || {
                        tx.overlay.get(&layout::code_key(&info.code_hash))
                    })?;
            let Some(prepared) = prepared else {
                return Err(RuntimeError::Corrupt {
                    what: "contract code",
                    reason: format!("no code stored for hash {}", info.code_hash),
                });
            };
            tx.overlay.hold_module(info.code_hash, prepared.clone());
            prepared
        }
    };
    // Initial memory is faulted in and reset like grown memory.
    let pages = match prepared.module().get_export(MEMORY_EXPORT) {
        Some(wasmtime::ExternType::Memory(m)) => m.minimum(),
        _ => 0,
    };
    let Some(left) = fuel.checked_sub(s.memory_pages(0, pages)) else {
        return fail(tx, code::OUT_OF_GAS, 0);
    };
    fuel = left;

    tx.overlay.begin();
    tx.stack.push(contract);
    let events_mark = tx.events.len();
    let input_len = input.len() as i32;
    let mut store = Store::new(
        &inner.engine,
        HostState {
            inner: inner.clone(),
            tx: Some(tx),
            contract,
            caller,
            input,
            return_data: Vec::new(),
            result: Vec::new(),
            memory: None,
            unpaid_gas: 0,
            memory_created: false,
        },
    );
    store.limiter(|s| s);
    store.set_fuel(fuel).map_err(RuntimeError::engine)?;

    let run = (|| -> Result<Result<(), ExecError>, RuntimeError> {
        let instance = match prepared.instantiate(&mut store) {
            Ok(i) => i,
            Err(e) => return classify(e).map(Err),
        };
        let Some(memory) = instance.get_memory(&mut store, MEMORY_EXPORT) else {
            return Ok(Err(ExecError::host(code::INVALID_MODULE)));
        };
        store.data_mut().memory = Some(memory);
        let Ok(func) = instance.get_typed_func::<i32, ()>(&mut store, method) else {
            return Ok(Err(ExecError::host(code::UNKNOWN_METHOD)));
        };
        match func.call(&mut store, input_len) {
            Ok(()) => Ok(Ok(())),
            Err(e) => {
                let mut failure = classify(e)?;
                // Our stack metering traps with `unreachable` and leaves its counter above
                // the limit; a contract's own `unreachable` leaves it within.
                if failure.code == code::UNREACHABLE {
                    let units = instance
                        .get_global(&mut store, STACK_EXPORT)
                        .and_then(|g| g.get(&mut store).i32())
                        .map_or(0, |u| u as u32);
                    if units > STACK_LIMIT {
                        failure = ExecError::host(code::STACK_OVERFLOW);
                    }
                }
                Ok(Err(failure))
            }
        }
    })();
    let fuel_left = store.get_fuel().unwrap_or(0);
    let state = store.into_data();
    let run = run?;
    let Some(mut tx) = state.tx else {
        return Err(RuntimeError::Engine(
            "transaction context lost in a call".into(),
        ));
    };
    tx.stack.pop();
    // Memory grown since the last host call is paid now.
    let debt = state.unpaid_gas;
    let (run, fuel_left) = match fuel_left.checked_sub(debt) {
        Some(left) => (run, left),
        None => (Err(ExecError::host(code::OUT_OF_GAS)), 0),
    };
    let result = match run {
        Ok(()) => {
            tx.overlay.commit();
            Ok(state.return_data)
        }
        Err(e) => {
            tx.overlay.rollback();
            tx.events.truncate(events_mark);
            Err(e)
        }
    };
    let fuel_left = if matches!(&result, Err(e) if e.code == code::OUT_OF_GAS) {
        0
    } else {
        fuel_left
    };
    Ok(Frame {
        tx,
        result,
        fuel_left,
    })
}

/// The sizes a contract record keeps about its code.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CodeSizes {
    pub code: u32,
    pub data: u32,
}

impl CodeSizes {
    /// The sizes of `code`: its length without the ABI section, and its data segments.
    pub fn of(code: &[u8]) -> CodeSizes {
        let clamp = |n: u64| u32::try_from(n).unwrap_or(u32::MAX);
        CodeSizes {
            code: clamp((code.len() as u64).saturating_sub(crate::validate::abi_bytes(code))),
            data: clamp(crate::validate::data_bytes(code)),
        }
    }
}

/// Most distinct contract codes one block (one overlay) may call. Each loaded code is held
/// until the block ends, so this bounds that memory.
pub const MAX_CODES_PER_BLOCK: usize = 256;

/// Gas accounting for the work done before any contract code runs.
pub(crate) struct Meter {
    pub limit: Gas,
    pub used: Gas,
}

impl Meter {
    pub fn new(limit: Gas) -> Meter {
        Meter { limit, used: 0 }
    }

    pub fn charge(&mut self, gas: Gas) -> Result<(), ExecError> {
        let total = self.used.saturating_add(gas);
        if total > self.limit {
            self.used = self.limit;
            return Err(ExecError::host(code::OUT_OF_GAS));
        }
        self.used = total;
        Ok(())
    }

    fn left(&self) -> Gas {
        self.limit - self.used
    }
}

impl Runtime {
    /// A runtime with `config`. Compiled modules are cached in memory only.
    pub fn new(config: RuntimeConfig) -> Result<Runtime, RuntimeError> {
        Runtime::build(config, None)
    }

    /// A runtime that also persists compiled modules in `kv`, so they survive restarts.
    pub fn with_store(
        config: RuntimeConfig,
        kv: Arc<dyn ArtifactStore>,
    ) -> Result<Runtime, RuntimeError> {
        Runtime::build(config, Some(kv))
    }

    fn build(
        config: RuntimeConfig,
        kv: Option<Arc<dyn ArtifactStore>>,
    ) -> Result<Runtime, RuntimeError> {
        let engine = build_engine(&config.limits, config.concurrency, config.tuning)?;
        let mut linker = Linker::new(&engine);
        link(&mut linker)?;
        let capacity = if config.cache_capacity == 0 {
            256
        } else {
            config.cache_capacity
        };
        Ok(Runtime {
            inner: Arc::new(Inner {
                engine,
                linker,
                cache: ModuleCache::new(capacity, kv),
                schedule: config.schedule,
                limits: config.limits,
                queries: AtomicU32::new(0),
                max_queries: config.concurrency.queries,
            }),
        })
    }

    /// Compiles and persists every stored code whose artifact is missing or stale (after an
    /// upgrade of the engine or the instrumentation, or on a node restored from a copy of
    /// state). Run before voting: the first call of a code in a block is priced as a load
    /// (`code_load`), not as a compile, so a block must never have to compile. Returns how
    /// many codes were compiled.
    pub fn prepare_artifacts(
        &self,
        codes: impl IntoIterator<Item = (Hash, Vec<u8>)>,
    ) -> Result<usize, RuntimeError> {
        let inner = &self.inner;
        let mut compiled = 0;
        for (hash, code) in codes {
            if inner.cache.has_artifact(&inner.engine, &hash)? {
                continue;
            }
            let module = compile(&inner.engine, &code).map_err(RuntimeError::engine)?;
            inner.cache.store_compiled(&hash, &module)?;
            compiled += 1;
        }
        Ok(compiled)
    }

    /// Module cache counters.
    pub fn cache_stats(&self) -> CacheStats {
        self.inner.cache.stats()
    }

    pub(crate) fn inner(&self) -> &Inner {
        &self.inner
    }

    /// The gas schedule in force.
    pub fn schedule(&self) -> &GasSchedule {
        &self.inner.schedule
    }

    /// Checks that `code` would be accepted by a deploy (limits, ABI imports, wasm validity),
    /// with a readable reason. For RPC and mempool admission; execution records only the code.
    pub fn check_code(&self, code: &[u8]) -> Result<(), InvalidModule> {
        validate(code, &self.inner.limits)?;
        let instrumented = instrument(code)?;
        Module::validate(&self.inner.engine, &instrumented)
            .map_err(|e| InvalidModule(e.to_string()))
    }

    /// Executes a transaction payload in its own overlay layer (kept on success, dropped on
    /// failure). Governance payloads are not for the runtime and fail with `UNSUPPORTED`.
    pub fn apply(
        &self,
        overlay: &mut Overlay,
        env: &TxEnv,
        payload: &TxPayload,
    ) -> Result<Outcome, RuntimeError> {
        match payload {
            TxPayload::Deploy {
                code,
                init_args,
                admin,
            } => self.deploy_with_admin(overlay, env, &code.0, &init_args.0, *admin),
            TxPayload::Instantiate {
                code_hash,
                init_args,
                admin,
            } => self.instantiate(overlay, env, code_hash, &init_args.0, *admin),
            TxPayload::Migrate {
                contract,
                code_hash,
                code,
                args,
            } => self.migrate(
                overlay,
                env,
                contract,
                code_hash,
                code.as_ref().map(|c| c.0.as_slice()),
                &args.0,
            ),
            TxPayload::SetAdmin { contract, admin } => {
                self.set_admin(overlay, env, contract, *admin)
            }
            TxPayload::Call {
                contract,
                method,
                args,
            } => self.call(overlay, env, contract, method, &args.0),
            TxPayload::Governance(_) => Ok(Outcome {
                result: Err(ExecError::host(code::UNSUPPORTED)),
                gas_used: 0,
                events: Vec::new(),
                contract: None,
            }),
        }
    }

    /// Calls `method` of `contract` with `args`.
    pub fn call(
        &self,
        overlay: &mut Overlay,
        env: &TxEnv,
        contract: &Address,
        method: &str,
        args: &[u8],
    ) -> Result<Outcome, RuntimeError> {
        let meter = Meter::new(env.gas_limit);
        self.run_top(overlay, env, contract, method, args, meter, false, false)
    }

    /// Runs `f` holding one of the slots read-only queries share ([`RuntimeError::Busy`]
    /// when all are taken): a caller that runs contract code for a client outside
    /// [`Runtime::query`] (a simulation) uses it, so client work never takes the instances
    /// block execution needs.
    pub fn with_query_slot<T>(&self, f: impl FnOnce() -> T) -> Result<T, RuntimeError> {
        let inner = &self.inner;
        let active = inner.queries.fetch_add(1, Ordering::AcqRel);
        let _guard = QueryGuard(&inner.queries);
        if active >= inner.max_queries {
            return Err(RuntimeError::Busy);
        }
        Ok(f())
    }

    /// A read-only call against `state`. Any write fails with `READ_ONLY`; events are
    /// discarded.
    pub fn query(
        &self,
        state: Arc<dyn StateRead>,
        block: BlockInfo,
        q: &Query<'_>,
    ) -> Result<Outcome, RuntimeError> {
        let Query {
            contract,
            method,
            args,
            caller,
            gas_cap,
        } = *q;
        let inner = &self.inner;
        let active = inner.queries.fetch_add(1, Ordering::AcqRel);
        let _guard = QueryGuard(&inner.queries);
        if active >= inner.max_queries {
            return Err(RuntimeError::Busy);
        }
        let mut overlay = Overlay::new(state);
        let env = TxEnv {
            block,
            origin: caller.unwrap_or(Address([0; 32])),
            nonce: 0,
            gas_limit: gas_cap,
        };
        let meter = Meter::new(gas_cap);
        let mut outcome = self.run_top(
            &mut overlay,
            &env,
            &contract,
            method,
            args,
            meter,
            true,
            false,
        )?;
        outcome.events.clear();
        Ok(outcome)
    }

    /// Runs `method` as the outermost frame of a transaction (or query). The reserved entry
    /// points (`init`, `migrate`) run only when `allow_reserved` (instantiation, migration).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn run_top(
        &self,
        overlay: &mut Overlay,
        env: &TxEnv,
        contract: &Address,
        method: &str,
        args: &[u8],
        meter: Meter,
        read_only: bool,
        allow_reserved: bool,
    ) -> Result<Outcome, RuntimeError> {
        if is_reserved(method) && !allow_reserved {
            return Ok(failed(ExecError::host(code::UNKNOWN_METHOD), meter.used));
        }
        let placeholder = Overlay::new(Arc::new(crate::state::EmptyState));
        let tx = TxCtx {
            overlay: std::mem::replace(overlay, placeholder),
            events: Vec::new(),
            stack: Vec::new(),
            origin: env.origin,
            block: Arc::new(env.block.clone()),
            read_only,
        };
        let frame = run_frame(
            &self.inner,
            tx,
            env.origin,
            *contract,
            method,
            args.to_vec(),
            meter.left(),
        );
        let frame = frame?;
        *overlay = frame.tx.overlay;
        let gas_used = meter.limit - frame.fuel_left.min(meter.limit);
        Ok(match frame.result {
            Ok(ret) => Outcome {
                result: Ok(ret),
                gas_used,
                events: frame.tx.events,
                contract: None,
            },
            Err(e) => failed(e, gas_used),
        })
    }
}

/// True for the entry points only the runtime calls: `init` and `migrate`.
pub(crate) fn is_reserved(method: &str) -> bool {
    method == INIT_METHOD || method == MIGRATE_METHOD
}

pub(crate) fn failed(error: ExecError, gas_used: Gas) -> Outcome {
    Outcome {
        result: Err(error),
        gas_used,
        events: Vec::new(),
        contract: None,
    }
}

struct QueryGuard<'a>(&'a AtomicU32);

impl Drop for QueryGuard<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}
