//! The host side of the ABI: per-call store data and the functions a contract may import.
//!
//! Every function charges gas first (also when it then fails), checks lengths against the ABI
//! limits, and checks every guest pointer against the guest memory. A failure becomes a
//! [`HostTrap`], which ends the call with a stable error code.

use crate::error::RuntimeError;
use crate::exec::{ExecError, Inner, run_frame};
use crate::gas::GasSchedule;
use crate::layout;
use crate::state::{Overlay, Removal};
use phalanx_abi::{MODULE, code, limits, names};
use phalanx_types::{Address, Bytes, Event, Height, PublicKey, Signature};
use std::sync::Arc;
use wasmtime::{Caller, Linker, Memory, ResourceLimiter};

/// The block a transaction executes in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockInfo {
    /// Its height.
    pub height: Height,
    /// Its timestamp (ms since the Unix epoch, chosen by the proposer).
    pub time_ms: u64,
    /// The chain id.
    pub chain_id: String,
}

/// State of one transaction, handed from call frame to call frame.
pub(crate) struct TxCtx {
    pub overlay: Overlay,
    pub events: Vec<Event>,
    /// Contracts currently executing, outermost first.
    pub stack: Vec<Address>,
    pub origin: Address,
    pub block: Arc<BlockInfo>,
    pub read_only: bool,
}

/// Data of one wasmtime store: one call frame.
pub struct HostState {
    pub(crate) inner: Arc<Inner>,
    pub(crate) tx: Option<TxCtx>,
    pub(crate) contract: Address,
    pub(crate) caller: Address,
    pub(crate) input: Vec<u8>,
    pub(crate) return_data: Vec<u8>,
    pub(crate) result: Vec<u8>,
    pub(crate) memory: Option<Memory>,
    /// Gas for memory grown by `memory.grow` and not yet paid (the limiter cannot reach the
    /// fuel); the next host call or the end of the call frame settles it.
    pub(crate) unpaid_gas: u64,
    /// Whether the instance's memory exists yet (its creation is not growth).
    pub(crate) memory_created: bool,
}

/// Why a call stopped early.
#[derive(Debug, thiserror::Error)]
pub(crate) enum HostTrap {
    /// A deterministic failure that ends up in the receipt.
    #[error("{}", .0.message)]
    Exec(ExecError),
    /// The node could not continue (storage failure).
    #[error("{0}")]
    Fault(RuntimeError),
}

pub(crate) fn exec_trap(code: u32) -> wasmtime::Error {
    wasmtime::Error::new(HostTrap::Exec(ExecError::host(code)))
}

fn fault(err: RuntimeError) -> wasmtime::Error {
    wasmtime::Error::new(HostTrap::Fault(err))
}

fn lost_context() -> wasmtime::Error {
    fault(RuntimeError::Engine(
        "transaction context missing from call frame".into(),
    ))
}

impl ResourceLimiter for HostState {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired as u64 > self.inner.limits.max_memory_pages * crate::engine::WASM_PAGE {
            return Err(exec_trap(code::MEMORY_LIMIT));
        }
        // The engine asks once when it creates the memory at its initial size, which the call
        // paid for before instantiating; only later growth is new.
        if !self.memory_created {
            self.memory_created = true;
            return Ok(true);
        }
        let page = crate::engine::WASM_PAGE;
        let gas = self
            .inner
            .schedule
            .memory_pages(current as u64 / page, (desired as u64).div_ceil(page));
        self.unpaid_gas = self.unpaid_gas.saturating_add(gas);
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired as u64 <= self.inner.limits.max_table_elements)
    }
}

type Ctx<'a> = Caller<'a, HostState>;

fn s_next(caller: &Ctx<'_>) -> u64 {
    schedule(caller).storage_next
}

fn schedule<'s>(caller: &'s Ctx<'_>) -> &'s GasSchedule {
    &caller.data().inner.schedule
}

/// Takes `gas` from the call's fuel, or fails with out-of-gas (leaving none). Memory grown
/// since the last charge is paid first.
pub(crate) fn charge(caller: &mut Ctx<'_>, gas: u64) -> wasmtime::Result<()> {
    let gas = gas.saturating_add(std::mem::take(&mut caller.data_mut().unpaid_gas));
    let left = caller.get_fuel()?;
    if left < gas {
        caller.set_fuel(0)?;
        return Err(exec_trap(code::OUT_OF_GAS));
    }
    caller.set_fuel(left - gas)
}

fn check_len(len: i32, max: u32) -> wasmtime::Result<usize> {
    let len = len as u32;
    if len > max {
        return Err(exec_trap(code::LIMIT_EXCEEDED));
    }
    Ok(len as usize)
}

fn memory(caller: &Ctx<'_>) -> wasmtime::Result<Memory> {
    caller.data().memory.ok_or_else(lost_context)
}

/// Copies `len` bytes at `ptr` out of guest memory (length already checked and paid for).
fn read(caller: &Ctx<'_>, ptr: i32, len: usize) -> wasmtime::Result<Vec<u8>> {
    let mem = memory(caller)?;
    let start = ptr as u32 as usize;
    let end = start
        .checked_add(len)
        .ok_or_else(|| exec_trap(code::BAD_POINTER))?;
    mem.data(caller)
        .get(start..end)
        .map(<[u8]>::to_vec)
        .ok_or_else(|| exec_trap(code::BAD_POINTER))
}

/// Copies `bytes` into guest memory at `ptr`.
fn write(caller: &mut Ctx<'_>, ptr: i32, bytes: &[u8]) -> wasmtime::Result<()> {
    let mem = memory(caller)?;
    let start = ptr as u32 as usize;
    let end = start
        .checked_add(bytes.len())
        .ok_or_else(|| exec_trap(code::BAD_POINTER))?;
    mem.data_mut(caller)
        .get_mut(start..end)
        .ok_or_else(|| exec_trap(code::BAD_POINTER))?
        .copy_from_slice(bytes);
    Ok(())
}

fn tx<'s>(caller: &'s Ctx<'_>) -> wasmtime::Result<&'s TxCtx> {
    caller.data().tx.as_ref().ok_or_else(lost_context)
}

fn tx_mut<'s>(caller: &'s mut Ctx<'_>) -> wasmtime::Result<&'s mut TxCtx> {
    caller.data_mut().tx.as_mut().ok_or_else(lost_context)
}

/// Reads a length-checked, paid-for byte string: base cost, limit, per-byte cost, bounds.
fn read_arg(
    caller: &mut Ctx<'_>,
    ptr: i32,
    len: i32,
    max: u32,
    per_byte: u64,
) -> wasmtime::Result<Vec<u8>> {
    let len = check_len(len, max)?;
    charge(caller, per_byte.saturating_mul(len as u64))?;
    read(caller, ptr, len)
}

fn check_writable(caller: &Ctx<'_>) -> wasmtime::Result<()> {
    if tx(caller)?.read_only {
        return Err(exec_trap(code::READ_ONLY));
    }
    Ok(())
}

/// Writes up to `cap` bytes of `bytes` to `ptr` and returns the full length.
fn write_capped(caller: &mut Ctx<'_>, ptr: i32, cap: i32, bytes: &[u8]) -> wasmtime::Result<i64> {
    let n = bytes.len().min(cap as u32 as usize);
    write(caller, ptr, &bytes[..n])?;
    Ok(bytes.len() as i64)
}

fn write_address(
    caller: &mut Ctx<'_>,
    ptr: i32,
    pick: fn(&HostState) -> Option<Address>,
) -> wasmtime::Result<()> {
    let s = schedule(caller);
    let cost = s.host_call + 32 * s.byte_copy;
    charge(caller, cost)?;
    let address = pick(caller.data()).ok_or_else(lost_context)?;
    write(caller, ptr, &address.0)
}

/// Registers every ABI function in `linker`.
pub(crate) fn link(linker: &mut Linker<HostState>) -> Result<(), RuntimeError> {
    define_io(linker).map_err(RuntimeError::engine)?;
    define_storage(linker).map_err(RuntimeError::engine)?;
    define_env(linker).map_err(RuntimeError::engine)?;
    define_crypto(linker).map_err(RuntimeError::engine)?;
    define_calls(linker).map_err(RuntimeError::engine)?;
    Ok(())
}

fn define_io(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    linker.func_wrap(MODULE, names::input_read, |mut c: Ctx<'_>, ptr: i32| {
        let s = schedule(&c);
        let cost = s.host_call + s.byte_copy * c.data().input.len() as u64;
        charge(&mut c, cost)?;
        let input = std::mem::take(&mut c.data_mut().input);
        let r = write(&mut c, ptr, &input);
        c.data_mut().input = input;
        r
    })?;
    linker.func_wrap(
        MODULE,
        names::return_data,
        |mut c: Ctx<'_>, ptr: i32, len: i32| {
            let s = schedule(&c);
            let (base, per) = (s.host_call, s.byte_copy);
            charge(&mut c, base)?;
            let data = read_arg(&mut c, ptr, len, limits::MAX_RETURN_LEN, per)?;
            c.data_mut().return_data = data;
            Ok(())
        },
    )?;
    linker.func_wrap(
        MODULE,
        names::abort,
        |mut c: Ctx<'_>, code_: i32, ptr: i32, len: i32| -> wasmtime::Result<()> {
            let s = schedule(&c);
            let (base, per) = (s.host_call, s.byte_copy);
            charge(&mut c, base)?;
            let len = (len as u32).min(limits::MAX_ERROR_MESSAGE) as i32;
            let msg = read_arg(&mut c, ptr, len, limits::MAX_ERROR_MESSAGE, per)?;
            let code_ = code_ as u32;
            if code_ < code::CONTRACT_MIN {
                return Err(exec_trap(code::BAD_ABORT_CODE));
            }
            Err(wasmtime::Error::new(HostTrap::Exec(ExecError {
                code: code_,
                message: String::from_utf8_lossy(&msg).into_owned(),
            })))
        },
    )?;
    linker.func_wrap(
        MODULE,
        names::emit,
        |mut c: Ctx<'_>, tp: i32, tl: i32, dp: i32, dl: i32| {
            let s = schedule(&c);
            let (base, per) = (s.host_call + s.event, s.event_byte);
            charge(&mut c, base)?;
            if tx(&c)?.events.len() >= limits::MAX_EVENTS as usize {
                return Err(exec_trap(code::TOO_MANY_EVENTS));
            }
            let topic = read_arg(&mut c, tp, tl, limits::MAX_TOPIC_LEN, per)?;
            let data = read_arg(&mut c, dp, dl, limits::MAX_EVENT_DATA, per)?;
            let topic = String::from_utf8(topic).map_err(|_| exec_trap(code::LIMIT_EXCEEDED))?;
            // `phalanx.` topics are the runtime's own records (migrations, admin changes): a
            // contract cannot forge them.
            if topic.starts_with(crate::lifecycle::RESERVED_TOPIC_PREFIX) {
                return Err(exec_trap(code::LIMIT_EXCEEDED));
            }
            let contract = c.data().contract;
            tx_mut(&mut c)?.events.push(Event {
                contract,
                topic,
                data: Bytes(data),
            });
            Ok(())
        },
    )?;
    Ok(())
}

fn define_storage(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    linker.func_wrap(
        MODULE,
        names::storage_read,
        |mut c: Ctx<'_>, kp: i32, kl: i32, op: i32, cap: i32| -> wasmtime::Result<i64> {
            let s = schedule(&c);
            let (base, per) = (s.host_call + s.storage_read, s.storage_read_byte);
            charge(&mut c, base)?;
            let key = read_arg(&mut c, kp, kl, limits::MAX_KEY_LEN, per)?;
            let full = layout::storage_key(&c.data().contract, &key);
            let value = tx(&c)?.overlay.get(&full).map_err(fault)?;
            match value {
                None => Ok(-1),
                Some(v) => {
                    charge(&mut c, per * v.len() as u64)?;
                    write_capped(&mut c, op, cap, &v)
                }
            }
        },
    )?;
    linker.func_wrap(
        MODULE,
        names::storage_write,
        |mut c: Ctx<'_>, kp: i32, kl: i32, vp: i32, vl: i32| {
            let s = schedule(&c);
            let (base, per) = (s.host_call + s.storage_write, s.storage_write_byte);
            charge(&mut c, base)?;
            check_writable(&c)?;
            let key = read_arg(&mut c, kp, kl, limits::MAX_KEY_LEN, per)?;
            let value = read_arg(&mut c, vp, vl, limits::MAX_VALUE_LEN, per)?;
            let full = layout::storage_key(&c.data().contract, &key);
            tx_mut(&mut c)?.overlay.set(full, value);
            Ok(())
        },
    )?;
    linker.func_wrap(
        MODULE,
        names::storage_remove,
        |mut c: Ctx<'_>, kp: i32, kl: i32| -> wasmtime::Result<i32> {
            let s = schedule(&c);
            let (base, per) = (s.host_call + s.storage_remove, s.byte_copy);
            charge(&mut c, base)?;
            check_writable(&c)?;
            let key = read_arg(&mut c, kp, kl, limits::MAX_KEY_LEN, per)?;
            let full = layout::storage_key(&c.data().contract, &key);
            let contract = c.data().contract;
            let overlay = &mut tx_mut(&mut c)?.overlay;
            let removal = overlay.remove(full).map_err(fault)?;
            if removal == Removal::Committed {
                // A tombstone will reach the database: iteration over this contract's keys
                // is priced by how many there may be.
                let key = layout::deletions_key(&contract);
                let count = deletion_count(overlay, &key).map_err(fault)?;
                overlay.set(key, count.saturating_add(1).to_le_bytes().to_vec());
            }
            Ok(i32::from(removal.existed()))
        },
    )?;
    linker.func_wrap(
        MODULE,
        names::storage_next,
        |mut c: Ctx<'_>,
         pp: i32,
         pl: i32,
         ap: i32,
         al: i32,
         op: i32,
         cap: i32|
         -> wasmtime::Result<i64> {
            let s = schedule(&c);
            let (base, per) = (s.host_call + s.storage_next, s.storage_read_byte);
            charge(&mut c, base)?;
            let prefix = read_arg(&mut c, pp, pl, limits::MAX_KEY_LEN, per)?;
            let after = if al == -1 {
                None
            } else {
                Some(read_arg(&mut c, ap, al, limits::MAX_KEY_LEN, per)?)
            };
            let contract = c.data().contract;
            // The database may hold a tombstone for every key this contract ever deleted, and
            // no node can tell how many compaction has removed: pay for all of them.
            let deleted = deletion_count(&tx(&c)?.overlay, &layout::deletions_key(&contract))
                .map_err(fault)?;
            let per_deleted = schedule(&c).storage_next_deleted;
            charge(&mut c, per_deleted.saturating_mul(deleted))?;
            let full_prefix = layout::storage_key(&contract, &prefix);
            let full_after = after.map(|a| layout::storage_key(&contract, &a));
            // Every deleted entry stepped over is work (a seek when the base held it), paid at
            // `storage_next` each: the walk stops as soon as the gas left cannot pay for it.
            let per_skip = s_next(&c).max(1);
            let affordable = c.get_fuel()? / per_skip;
            let step = tx(&c)?
                .overlay
                .step_within(&full_prefix, full_after.as_deref(), affordable)
                .map_err(fault)?;
            charge(&mut c, per_skip.saturating_mul(step.skipped))?;
            let Some((key, value)) = step.entry else {
                return Ok(-1);
            };
            let key = &key[layout::STORAGE_PREFIX_LEN..];
            let mut record = Vec::with_capacity(4 + key.len() + value.len());
            record.extend_from_slice(&(key.len() as u32).to_le_bytes());
            record.extend_from_slice(key);
            record.extend_from_slice(&value);
            charge(&mut c, per * record.len() as u64)?;
            write_capped(&mut c, op, cap, &record)
        },
    )?;
    Ok(())
}

/// The deletion count stored under `key` (0 when absent or malformed).
fn deletion_count(overlay: &Overlay, key: &[u8]) -> Result<u64, RuntimeError> {
    Ok(overlay
        .get(key)?
        .and_then(|v| <[u8; 8]>::try_from(v.as_slice()).ok())
        .map_or(0, u64::from_le_bytes))
}

fn define_env(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    linker.func_wrap(MODULE, names::caller, |mut c: Ctx<'_>, ptr: i32| {
        write_address(&mut c, ptr, |h| Some(h.caller))
    })?;
    linker.func_wrap(MODULE, names::self_address, |mut c: Ctx<'_>, ptr: i32| {
        write_address(&mut c, ptr, |h| Some(h.contract))
    })?;
    linker.func_wrap(MODULE, names::origin, |mut c: Ctx<'_>, ptr: i32| {
        write_address(&mut c, ptr, |h| h.tx.as_ref().map(|t| t.origin))
    })?;
    linker.func_wrap(
        MODULE,
        names::block_height,
        |mut c: Ctx<'_>| -> wasmtime::Result<i64> {
            let cost = schedule(&c).host_call;
            charge(&mut c, cost)?;
            Ok(tx(&c)?.block.height as i64)
        },
    )?;
    linker.func_wrap(
        MODULE,
        names::block_time,
        |mut c: Ctx<'_>| -> wasmtime::Result<i64> {
            let cost = schedule(&c).host_call;
            charge(&mut c, cost)?;
            Ok(tx(&c)?.block.time_ms as i64)
        },
    )?;
    linker.func_wrap(
        MODULE,
        names::chain_id,
        |mut c: Ctx<'_>, ptr: i32, cap: i32| -> wasmtime::Result<i32> {
            let s = schedule(&c);
            let cost = s.host_call + s.byte_copy * 64;
            charge(&mut c, cost)?;
            let block = tx(&c)?.block.clone();
            let id = block.chain_id.as_bytes();
            if id.len() <= cap as u32 as usize {
                write(&mut c, ptr, id)?;
            }
            Ok(id.len() as i32)
        },
    )?;
    linker.func_wrap(
        MODULE,
        names::gas_left,
        |mut c: Ctx<'_>| -> wasmtime::Result<i64> {
            let cost = schedule(&c).host_call;
            charge(&mut c, cost)?;
            Ok(c.get_fuel()? as i64)
        },
    )?;
    Ok(())
}

fn define_crypto(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    linker.func_wrap(
        MODULE,
        names::blake3,
        |mut c: Ctx<'_>, ptr: i32, len: i32, out: i32| {
            let s = schedule(&c);
            let (base, per) = (s.host_call, s.blake3_byte + s.byte_copy);
            charge(&mut c, base)?;
            let data = read_arg(&mut c, ptr, len, limits::MAX_ARGS_LEN, per)?;
            let hash = blake3::hash(&data);
            write(&mut c, out, hash.as_bytes())
        },
    )?;
    linker.func_wrap(
        MODULE,
        names::ed25519_verify,
        |mut c: Ctx<'_>, pk: i32, mp: i32, ml: i32, sp: i32| -> wasmtime::Result<i32> {
            let s = schedule(&c);
            let (base, per) = (s.host_call + s.ed25519_verify, s.byte_copy);
            charge(&mut c, base + 96 * per)?;
            let msg = read_arg(&mut c, mp, ml, limits::MAX_ARGS_LEN, per)?;
            let key = read(&c, pk, 32)?;
            let sig = read(&c, sp, 64)?;
            let (Ok(key), Ok(sig)) = (PublicKey::from_slice(&key), Signature::from_slice(&sig))
            else {
                return Ok(0);
            };
            Ok(i32::from(key.verify(&msg, &sig).is_ok()))
        },
    )?;
    Ok(())
}

fn failure_bytes(err: &ExecError) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + err.message.len());
    out.extend_from_slice(&err.code.to_le_bytes());
    out.extend_from_slice(err.message.as_bytes());
    out
}

fn define_calls(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    linker.func_wrap(
        MODULE,
        names::call,
        |mut c: Ctx<'_>, ap: i32, mp: i32, ml: i32, gp: i32, gl: i32| -> wasmtime::Result<i32> {
            let s = schedule(&c);
            let (base, per) = (s.host_call, s.byte_copy);
            charge(&mut c, base + 32 * per)?;
            let address = read(&c, ap, 32)?;
            let method = read_arg(&mut c, mp, ml, limits::MAX_METHOD_LEN, per)?;
            let args = read_arg(&mut c, gp, gl, limits::MAX_ARGS_LEN, per)?;
            let callee = Address::from_slice(&address).map_err(|_| exec_trap(code::BAD_POINTER))?;
            let refuse = {
                let ctx = tx(&c)?;
                if ctx.stack.contains(&callee) {
                    Some(code::REENTRANCY)
                } else if ctx.stack.len() >= limits::MAX_CALL_DEPTH as usize {
                    Some(code::CALL_DEPTH_EXCEEDED)
                } else {
                    None
                }
            };
            let outcome = match (refuse, String::from_utf8(method)) {
                (Some(code_), _) => Err(ExecError::host(code_)),
                (None, Err(_)) => Err(ExecError::host(code::UNKNOWN_METHOD)),
                // `init` and `migrate` run only when the runtime instantiates or migrates a
                // contract: a contract calling another's `init` could re-initialize it.
                (None, Ok(method)) if crate::exec::is_reserved(&method) => {
                    Err(ExecError::host(code::UNKNOWN_METHOD))
                }
                (None, Ok(method)) => {
                    let fuel = c.get_fuel()?;
                    let ctx = c.data_mut().tx.take().ok_or_else(lost_context)?;
                    let inner = c.data().inner.clone();
                    let me = c.data().contract;
                    let frame =
                        run_frame(&inner, ctx, me, callee, &method, args, fuel).map_err(fault)?;
                    c.data_mut().tx = Some(frame.tx);
                    c.set_fuel(frame.fuel_left)?;
                    frame.result
                }
            };
            match outcome {
                Ok(ret) => {
                    c.data_mut().result = ret;
                    Ok(0)
                }
                // The gas budget is shared: the caller has none left either.
                Err(e) if e.code == code::OUT_OF_GAS => Err(exec_trap(code::OUT_OF_GAS)),
                Err(e) => {
                    c.data_mut().result = failure_bytes(&e);
                    Ok(1)
                }
            }
        },
    )?;
    linker.func_wrap(
        MODULE,
        names::result_len,
        |mut c: Ctx<'_>| -> wasmtime::Result<i32> {
            let cost = schedule(&c).host_call;
            charge(&mut c, cost)?;
            Ok(c.data().result.len() as i32)
        },
    )?;
    linker.func_wrap(MODULE, names::result_read, |mut c: Ctx<'_>, ptr: i32| {
        let s = schedule(&c);
        let cost = s.host_call + s.byte_copy * c.data().result.len() as u64;
        charge(&mut c, cost)?;
        let result = std::mem::take(&mut c.data_mut().result);
        let r = write(&mut c, ptr, &result);
        c.data_mut().result = result;
        r
    })?;
    Ok(())
}
