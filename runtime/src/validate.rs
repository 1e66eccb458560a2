//! Deploy-time checks on a wasm module, before it is compiled.
//!
//! These bound the work the compiler and the instance allocator can be made to do, and make
//! sure the module can only talk to the host through the ABI. The wasm specification itself
//! (and the disabled proposals: threads, SIMD, memory64, multi-memory, ...) is checked by
//! wasmtime when it compiles the module with the runtime's engine configuration.
//!
//! Floating-point instructions are allowed: the engine canonicalizes every NaN it produces,
//! which makes float arithmetic deterministic (IEEE 754 fixes everything else), and Rust's
//! JSON and formatting code uses floats even when a contract never does.

use phalanx_abi::{HostFn, MEMORY_EXPORT, MODULE, ValType as AbiType, host_fn};
use wasmparser::{CompositeInnerType, ExternalKind, Parser, Payload, TypeRef, ValType as WasmType};

/// Name of the custom section that holds a contract's ABI (JSON; `docs/CONTRACTS.md`).
pub const ABI_SECTION: &str = "phalanx.abi";

/// Largest ABI section, in bytes.
pub const MAX_ABI_BYTES: usize = 64 * 1024;

/// The ABI format versions this runtime accepts.
pub const ABI_VERSIONS: std::ops::RangeInclusive<u64> = 1..=1;

/// Structural limits on a deployable module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleLimits {
    /// Largest module, in bytes.
    pub max_code_bytes: usize,
    /// Most functions (imported and defined).
    pub max_functions: u32,
    /// Most parameters of one function type.
    pub max_params: usize,
    /// Most results of one function type.
    pub max_results: usize,
    /// Most locals (excluding parameters) of one function.
    pub max_locals: u64,
    /// Largest function body, in bytes.
    pub max_body_bytes: usize,
    /// Most types.
    pub max_types: u32,
    /// Most globals.
    pub max_globals: u32,
    /// Most exports.
    pub max_exports: u32,
    /// Most data segments.
    pub max_data_segments: u32,
    /// Most initial elements of the (single) table.
    pub max_table_elements: u64,
    /// Most pages (64 KiB) a memory may start or grow to.
    pub max_memory_pages: u64,
}

impl Default for ModuleLimits {
    fn default() -> Self {
        ModuleLimits {
            max_code_bytes: 768 * 1024,
            max_functions: 4_096,
            max_params: 32,
            max_results: 8,
            max_locals: 4_096,
            max_body_bytes: 256 * 1024,
            max_types: 1_024,
            max_globals: 256,
            max_exports: 512,
            max_data_segments: 1_024,
            max_table_elements: 8_192,
            max_memory_pages: 256,
        }
    }
}

/// Why a module was refused. The text names the rule; it is shown to the deployer (RPC, CLI)
/// but never enters a receipt, which only records the stable `INVALID_MODULE` code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidModule(pub String);

fn invalid(msg: impl Into<String>) -> InvalidModule {
    InvalidModule(msg.into())
}

fn check_count(what: &str, count: u64, max: u64) -> Result<(), InvalidModule> {
    if count > max {
        return Err(invalid(format!(
            "{what}: {count} is over the limit of {max}"
        )));
    }
    Ok(())
}

fn same_signature(abi: &HostFn, params: &[WasmType], results: &[WasmType]) -> bool {
    fn eq(a: &[AbiType], w: &[WasmType]) -> bool {
        a.len() == w.len()
            && a.iter().zip(w).all(|(a, w)| {
                matches!(
                    (a, w),
                    (AbiType::I32, WasmType::I32) | (AbiType::I64, WasmType::I64)
                )
            })
    }
    eq(abi.params, params) && eq(abi.results, results)
}

/// Checks `code` against `limits` and the host ABI.
pub fn validate(code: &[u8], limits: &ModuleLimits) -> Result<(), InvalidModule> {
    check_count(
        "module size in bytes",
        code.len() as u64,
        limits.max_code_bytes as u64,
    )?;
    // Function types by type index; `None` for non-function types.
    let mut types: Vec<Option<(Vec<WasmType>, Vec<WasmType>)>> = Vec::new();
    let mut functions: u64 = 0;
    let mut memories = 0u32;
    let mut tables = 0u32;
    let mut memory_exported = false;
    let mut abi_sections = 0u32;
    for payload in Parser::new(0).parse_all(code) {
        let payload = payload.map_err(|e| invalid(format!("malformed module: {}", e.message())))?;
        match payload {
            Payload::TypeSection(reader) => {
                check_count("types", reader.count() as u64, limits.max_types as u64)?;
                for group in reader {
                    let group = group.map_err(|e| invalid(e.message().to_string()))?;
                    for sub in group.into_types() {
                        match &sub.composite_type.inner {
                            CompositeInnerType::Func(f) => {
                                check_count(
                                    "function parameters",
                                    f.params().len() as u64,
                                    limits.max_params as u64,
                                )?;
                                check_count(
                                    "function results",
                                    f.results().len() as u64,
                                    limits.max_results as u64,
                                )?;
                                types.push(Some((f.params().to_vec(), f.results().to_vec())));
                            }
                            _ => types.push(None),
                        }
                    }
                }
            }
            Payload::ImportSection(reader) => {
                for import in reader.into_imports() {
                    let import = import.map_err(|e| invalid(e.message().to_string()))?;
                    if import.module != MODULE {
                        return Err(invalid(format!(
                            "import {}.{}: only the `{MODULE}` host module may be imported",
                            import.module, import.name
                        )));
                    }
                    let Some(abi) = host_fn(import.name) else {
                        return Err(invalid(format!("unknown host function `{}`", import.name)));
                    };
                    let TypeRef::Func(ty) = import.ty else {
                        return Err(invalid(format!(
                            "import `{}` must be a function; memories, tables and globals cannot be imported",
                            import.name
                        )));
                    };
                    let Some(Some((params, results))) = types.get(ty as usize) else {
                        return Err(invalid(format!(
                            "import `{}` has a bad type index",
                            import.name
                        )));
                    };
                    if !same_signature(abi, params, results) {
                        return Err(invalid(format!(
                            "import `{}` has the wrong signature (expected {:?} -> {:?})",
                            import.name, abi.params, abi.results
                        )));
                    }
                    functions += 1;
                }
            }
            Payload::FunctionSection(reader) => {
                functions += u64::from(reader.count());
                check_count("functions", functions, limits.max_functions as u64)?;
            }
            Payload::TableSection(reader) => {
                for table in reader {
                    let table = table.map_err(|e| invalid(e.message().to_string()))?;
                    tables += 1;
                    check_count("tables", tables as u64, 1)?;
                    check_count(
                        "table elements",
                        table.ty.initial,
                        limits.max_table_elements,
                    )?;
                }
            }
            Payload::MemorySection(reader) => {
                for memory in reader {
                    let memory = memory.map_err(|e| invalid(e.message().to_string()))?;
                    memories += 1;
                    check_count("memories", memories as u64, 1)?;
                    if memory.memory64 || memory.shared {
                        return Err(invalid("64-bit and shared memories are not supported"));
                    }
                    check_count(
                        "initial memory pages",
                        memory.initial,
                        limits.max_memory_pages,
                    )?;
                }
            }
            Payload::GlobalSection(reader) => {
                check_count("globals", reader.count() as u64, limits.max_globals as u64)?;
            }
            Payload::ExportSection(reader) => {
                check_count("exports", reader.count() as u64, limits.max_exports as u64)?;
                for export in reader {
                    let export = export.map_err(|e| invalid(e.message().to_string()))?;
                    if export.name == MEMORY_EXPORT {
                        memory_exported = export.kind == ExternalKind::Memory;
                    }
                }
            }
            Payload::StartSection { .. } => {
                return Err(invalid(
                    "a start function is not allowed; use the `init` method",
                ));
            }
            Payload::DataSection(reader) => {
                check_count(
                    "data segments",
                    reader.count() as u64,
                    limits.max_data_segments as u64,
                )?;
            }
            Payload::CodeSectionEntry(body) => {
                let size = body.range().len();
                check_count(
                    "function body bytes",
                    size as u64,
                    limits.max_body_bytes as u64,
                )?;
                let mut locals: u64 = 0;
                let reader = body
                    .get_locals_reader()
                    .map_err(|e| invalid(e.message().to_string()))?;
                for local in reader {
                    let (count, _) = local.map_err(|e| invalid(e.message().to_string()))?;
                    locals += u64::from(count);
                    check_count("locals of one function", locals, limits.max_locals)?;
                }
            }
            Payload::TagSection(_) => {
                return Err(invalid("exception handling is not supported"));
            }
            Payload::ModuleSection { .. }
            | Payload::InstanceSection(_)
            | Payload::CoreTypeSection(_)
            | Payload::ComponentSection { .. }
            | Payload::ComponentInstanceSection(_)
            | Payload::ComponentAliasSection(_)
            | Payload::ComponentTypeSection(_)
            | Payload::ComponentCanonicalSection(_)
            | Payload::ComponentStartSection { .. }
            | Payload::ComponentImportSection(_)
            | Payload::ComponentExportSection(_) => {
                return Err(invalid(
                    "components are not supported; deploy a core wasm module",
                ));
            }
            Payload::CustomSection(reader) if reader.name() == ABI_SECTION => {
                abi_sections += 1;
                check_count("`phalanx.abi` sections", abi_sections.into(), 1)?;
                check_abi(reader.data())?;
            }
            Payload::Version { encoding, .. } if encoding != wasmparser::Encoding::Module => {
                return Err(invalid(
                    "components are not supported; deploy a core wasm module",
                ));
            }
            _ => {}
        }
    }
    if memories != 1 || !memory_exported {
        return Err(invalid(format!(
            "the module must define one memory and export it as `{MEMORY_EXPORT}`"
        )));
    }
    Ok(())
}

/// Checks an ABI section: at most [`MAX_ABI_BYTES`] of JSON, an object whose `phalanx_abi`
/// version this runtime knows and whose `methods` is an array. Nothing else of it is
/// interpreted on chain: it never affects execution.
fn check_abi(data: &[u8]) -> Result<(), InvalidModule> {
    let bad = |why: &str| invalid(format!("the `{ABI_SECTION}` section {why}"));
    check_count(
        "`phalanx.abi` section bytes",
        data.len() as u64,
        MAX_ABI_BYTES as u64,
    )?;
    let doc: serde_json::Value =
        serde_json::from_slice(data).map_err(|e| bad(&format!("is not JSON: {e}")))?;
    let version = doc.get("phalanx_abi").and_then(serde_json::Value::as_u64);
    match version {
        Some(v) if ABI_VERSIONS.contains(&v) => {}
        Some(v) => {
            return Err(bad(&format!(
                "has version {v}, which this node does not know"
            )));
        }
        None => return Err(bad("has no numeric `phalanx_abi` version")),
    }
    if !doc.get("methods").is_some_and(serde_json::Value::is_array) {
        return Err(bad("has no `methods` array"));
    }
    Ok(())
}

/// The module's ABI section: its payload, and its whole size in bytes (id, size and name
/// included). `None` if it has none (or is malformed).
fn abi_section(code: &[u8]) -> Option<(&[u8], u64)> {
    Parser::new(0)
        .parse_all(code)
        .map_while(Result::ok)
        .find_map(|p| match p {
            Payload::CustomSection(r) if r.name() == ABI_SECTION => {
                let body = r.range().len() as u64;
                // The section id byte, then the body's size as unsigned LEB128.
                let size_bytes = (u64::BITS - body.max(1).leading_zeros()).div_ceil(7);
                Some((r.data(), 1 + u64::from(size_bytes) + body))
            }
            _ => None,
        })
}

/// The module's ABI section (JSON), if it has one. Malformed modules have none.
pub fn abi(code: &[u8]) -> Option<&[u8]> {
    abi_section(code).map(|(data, _)| data)
}

/// Bytes of the module's ABI section, framing (id and size) and name included: they are
/// stored but never compiled or loaded, so a deploy prices them as storage only and calls do
/// not pay for them.
pub fn abi_bytes(code: &[u8]) -> u64 {
    abi_section(code).map_or(0, |(_, bytes)| bytes)
}

/// Bytes the module's data segments copy into a fresh instance's memory (what instantiating
/// costs beyond the flat price). Malformed sections count as nothing: such code never deploys.
pub fn data_bytes(code: &[u8]) -> u64 {
    let mut total = 0u64;
    for payload in Parser::new(0).parse_all(code) {
        let Ok(Payload::DataSection(reader)) = payload else {
            continue;
        };
        for data in reader.into_iter().flatten() {
            total = total.saturating_add(data.data.len() as u64);
        }
    }
    total
}
