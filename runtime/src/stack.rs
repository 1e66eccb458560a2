//! Deterministic stack limit: deploy-time stack-height instrumentation.
//!
//! wasmtime's own stack limit (`max_wasm_stack`) counts native bytes, and how many native bytes
//! a wasm frame takes depends on the code Cranelift emits for the host CPU. A contract that
//! recurses to near that limit could trap on one validator and not on another: a fork. So the
//! limit that decides outcomes is a property of the wasm alone, enforced by code added to the
//! module before it is compiled (the approach of Substrate's and NEAR's stack-height
//! metering):
//!
//! - Every defined function gets a **cost** in stack units: [`FRAME_UNITS`] for the frame
//!   itself, plus one per parameter and local, plus the largest height its operand stack can
//!   reach (computed by wasmparser's validator, so it is exact and the same everywhere).
//! - A mutable global counts the units in use. Around every `call` of a defined function the
//!   caller adds the callee's cost, traps with `unreachable` if the count exceeds
//!   [`STACK_LIMIT`], and subtracts the cost when the call returns. A `call_indirect` is
//!   charged the largest cost of any function (the target is not known statically).
//! - The counter is exported as [`STACK_EXPORT`], so the runtime can tell this trap from a
//!   contract's own `unreachable`: after the trap the counter is above the limit.
//!
//! The native limit stays, far above what [`STACK_LIMIT`] units can use, as a safety net: the
//! `stack` tests measure the native bytes per unit for the worst frame shapes on this machine.
//!
//! The instrumentation is a pure function of the code bytes. Changing it (or the limits here)
//! changes results, so it is part of the consensus rules, like the gas schedule.

use crate::validate::InvalidModule;
use wasm_encoder::reencode::{Reencode, RoundtripReencoder};
use wasm_encoder::{
    CodeSection, ConstExpr, ExportKind, ExportSection, Function, GlobalSection, GlobalType,
    Instruction, Module, RawSection, SectionId, ValType,
};
use wasmparser::{
    FuncValidatorAllocations, Operator, Parser, Payload, ValidPayload, Validator, WasmFeatures,
};

/// Stack units one call may use in total (per contract instance; each cross-contract call
/// starts its own count, and nesting is bounded by `MAX_CALL_DEPTH`).
pub const STACK_LIMIT: u32 = 32 * 1024;

/// Units of one frame on top of its parameters, locals and operands: return address, frame
/// pointer, saved registers and the engine's per-call context.
pub const FRAME_UNITS: u32 = 16;

/// Most units one function may cost. A single frame must fit the native safety net on its own,
/// since the outermost frame (entered from the host) is not counted.
pub const MAX_FUNCTION_UNITS: u32 = 8 * 1024;

/// The export under which the instrumented module exposes its stack counter.
pub const STACK_EXPORT: &str = "__phalanx_stack_units";

/// The wasm features the runtime's engine accepts (see `engine`); the instrumenter validates
/// with exactly these, so a module it accepts is one the engine can compile.
pub(crate) fn features() -> WasmFeatures {
    let mut f = WasmFeatures::default();
    for off in [
        WasmFeatures::THREADS,
        WasmFeatures::SHARED_EVERYTHING_THREADS,
        WasmFeatures::SIMD,
        WasmFeatures::RELAXED_SIMD,
        WasmFeatures::MULTI_MEMORY,
        WasmFeatures::MEMORY64,
        WasmFeatures::TAIL_CALL,
        WasmFeatures::CUSTOM_PAGE_SIZES,
        WasmFeatures::WIDE_ARITHMETIC,
        WasmFeatures::EXCEPTIONS,
        WasmFeatures::LEGACY_EXCEPTIONS,
        WasmFeatures::GC,
        WasmFeatures::FUNCTION_REFERENCES,
        WasmFeatures::STACK_SWITCHING,
        WasmFeatures::COMPONENT_MODEL,
    ] {
        f.remove(off);
    }
    f
}

fn invalid(msg: impl Into<String>) -> InvalidModule {
    InvalidModule(msg.into())
}

fn malformed(e: impl std::fmt::Display) -> InvalidModule {
    invalid(format!("malformed module: {e}"))
}

/// The stack cost of every function in the index space (imports cost nothing: host functions
/// run on the host's stack, and a nested contract call counts its own units) and how many are
/// imported.
struct Costs {
    imported: u32,
    per_function: Vec<u32>,
    max: u32,
    /// Globals the module defines.
    globals: u32,
}

impl Costs {
    fn of(&self, function: u32) -> u32 {
        self.per_function
            .get(function as usize)
            .copied()
            .unwrap_or(0)
    }
}

/// Validates `code` with the engine's features and computes every function's stack cost.
fn costs(code: &[u8]) -> Result<Costs, InvalidModule> {
    let mut validator = Validator::new_with_features(features());
    let mut imported = 0u32;
    let mut globals = 0u32;
    let mut per_function = Vec::new();
    let mut allocs = FuncValidatorAllocations::default();
    for payload in Parser::new(0).parse_all(code) {
        let payload = payload.map_err(malformed)?;
        if let Payload::GlobalSection(reader) = &payload {
            globals = reader.count();
        }
        if let Payload::ImportSection(reader) = &payload {
            for import in reader.clone().into_imports() {
                let import = import.map_err(malformed)?;
                if matches!(import.ty, wasmparser::TypeRef::Func(_)) {
                    imported += 1;
                    per_function.push(0);
                }
            }
        }
        if let ValidPayload::Func(func, body) = validator.payload(&payload).map_err(malformed)? {
            let mut v = func.into_validator(std::mem::take(&mut allocs));
            let mut reader = body.get_binary_reader();
            v.read_locals(&mut reader).map_err(malformed)?;
            let mut max_height = 0u32;
            let mut ops = body.get_operators_reader().map_err(malformed)?;
            while !ops.eof() {
                let (op, offset) = ops.read_with_offset().map_err(malformed)?;
                v.op(offset, &op).map_err(malformed)?;
                max_height = max_height.max(v.operand_stack_height());
            }
            ops.finish().map_err(malformed)?;
            if v.control_stack_height() != 0 {
                return Err(malformed("a function body ends inside a block"));
            }
            let cost = u64::from(FRAME_UNITS) + u64::from(v.len_locals()) + u64::from(max_height);
            if cost > u64::from(MAX_FUNCTION_UNITS) {
                return Err(invalid(format!(
                    "function {} needs {cost} stack units (parameters, locals and operand stack); the limit is {MAX_FUNCTION_UNITS}",
                    v.index()
                )));
            }
            per_function.push(cost as u32);
            allocs = v.into_allocations();
        }
    }
    let max = per_function.iter().copied().max().unwrap_or(0);
    Ok(Costs {
        imported,
        per_function,
        max,
        globals,
    })
}

/// Returns `code` with stack-height metering added. `code` must already have passed
/// [`validate`](crate::validate::validate) (one memory, only `phalanx` imports).
pub fn instrument(code: &[u8]) -> Result<Vec<u8>, InvalidModule> {
    let costs = costs(code)?;
    // Index of our counter: after every global the module defines (validation forbids
    // imported ones).
    let counter = costs.globals;
    let mut out = Module::new();
    let mut global_added = false;
    // The code section being rebuilt, and how many bodies it still expects.
    let mut bodies: Option<(CodeSection, u32)> = None;
    let mut re = RoundtripReencoder;
    for payload in Parser::new(0).parse_all(code) {
        let payload = payload.map_err(malformed)?;
        if let Payload::CodeSectionEntry(body) = &payload {
            let Some((section, left)) = bodies.as_mut() else {
                return Err(malformed("a function body outside the code section"));
            };
            section.function(&instrument_body(body, &costs, counter)?);
            *left = left.saturating_sub(1);
            if *left == 0
                && let Some((section, _)) = bodies.take()
            {
                out.section(&section);
            }
            continue;
        }
        let Some((id, range)) = payload.as_section() else {
            continue;
        };
        // Sections come in a fixed order; our global section must precede the exports.
        if !global_added && id >= SectionId::Export as u8 && id != SectionId::Tag as u8 {
            let mut globals = GlobalSection::new();
            push_counter(&mut globals);
            out.section(&globals);
            global_added = true;
        }
        match payload {
            Payload::GlobalSection(reader) => {
                let mut globals = GlobalSection::new();
                re.parse_global_section(&mut globals, reader)
                    .map_err(malformed)?;
                push_counter(&mut globals);
                out.section(&globals);
                global_added = true;
            }
            Payload::ExportSection(reader) => {
                let mut exports = ExportSection::new();
                for export in reader {
                    let export = export.map_err(malformed)?;
                    if export.name == STACK_EXPORT {
                        return Err(invalid(format!(
                            "the export name `{STACK_EXPORT}` is reserved"
                        )));
                    }
                    re.parse_export(&mut exports, export).map_err(malformed)?;
                }
                exports.export(STACK_EXPORT, ExportKind::Global, counter);
                out.section(&exports);
            }
            // Bodies follow one by one; the section is written after the last.
            Payload::CodeSectionStart { count: 0, .. } => {
                out.section(&CodeSection::new());
            }
            Payload::CodeSectionStart { count, .. } => bodies = Some((CodeSection::new(), count)),
            _ => {
                let data = code
                    .get(range)
                    .ok_or_else(|| malformed("section out of range"))?;
                out.section(&RawSection { id, data });
            }
        }
    }
    Ok(out.finish())
}

fn push_counter(globals: &mut GlobalSection) {
    globals.global(
        GlobalType {
            val_type: ValType::I32,
            mutable: true,
            shared: false,
        },
        &ConstExpr::i32_const(0),
    );
}

/// One function body with each call wrapped in the counter's bookkeeping.
fn instrument_body(
    body: &wasmparser::FunctionBody<'_>,
    costs: &Costs,
    counter: u32,
) -> Result<Function, InvalidModule> {
    let mut re = RoundtripReencoder;
    let mut locals = Vec::new();
    for local in body.get_locals_reader().map_err(malformed)? {
        let (count, ty) = local.map_err(malformed)?;
        locals.push((count, re.val_type(ty).map_err(malformed)?));
    }
    let mut func = Function::new(locals);
    let mut ops = body.get_operators_reader().map_err(malformed)?;
    while !ops.eof() {
        let op = ops.read().map_err(malformed)?;
        let cost = match &op {
            Operator::Call { function_index } if *function_index >= costs.imported => {
                costs.of(*function_index)
            }
            Operator::CallIndirect { .. } => costs.max,
            _ => 0,
        };
        if cost == 0 {
            func.instruction(&re.instruction(op).map_err(malformed)?);
            continue;
        }
        let enter = [
            Instruction::GlobalGet(counter),
            Instruction::I32Const(cost as i32),
            Instruction::I32Add,
            Instruction::GlobalSet(counter),
            Instruction::GlobalGet(counter),
            Instruction::I32Const(STACK_LIMIT as i32),
            Instruction::I32GtU,
            Instruction::If(wasm_encoder::BlockType::Empty),
            Instruction::Unreachable,
            Instruction::End,
        ];
        for i in &enter {
            func.instruction(i);
        }
        func.instruction(&re.instruction(op).map_err(malformed)?);
        for i in [
            Instruction::GlobalGet(counter),
            Instruction::I32Const(cost as i32),
            Instruction::I32Sub,
            Instruction::GlobalSet(counter),
        ] {
            func.instruction(&i);
        }
    }
    Ok(func)
}
