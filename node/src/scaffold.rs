//! `phalanx contract new` and `phalanx contract build`: a contract project outside this
//! repository, and building it with the node's own deploy checks.

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Where the SDK was when this binary was built (the default `phalanx-sdk` path).
pub fn default_sdk() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../sdk")
}

const FILES: &[(&str, &str)] = &[
    ("Cargo.toml", include_str!("scaffold/Cargo.toml.tmpl")),
    ("build.rs", include_str!("scaffold/build.rs.tmpl")),
    ("src/lib.rs", include_str!("scaffold/lib.rs.tmpl")),
    ("tests/{{crate}}.rs", include_str!("scaffold/test.rs.tmpl")),
    ("README.md", include_str!("scaffold/README.md.tmpl")),
    (".gitignore", include_str!("scaffold/gitignore.tmpl")),
];

/// `my-book` → `MyBook`.
fn type_name(name: &str) -> String {
    name.split(['-', '_'])
        .filter(|p| !p.is_empty())
        .map(|p| {
            let mut c = p.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect()
}

/// A valid crate name that is also usable as a Rust type once camel-cased.
fn check_name(name: &str) -> Result<()> {
    let ok = name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if !ok {
        bail!(
            "bad contract name {name:?}: lowercase letters, digits, `-` and `_`, starting with a letter"
        );
    }
    // The crate name and the type made from it must not collide with Rust's own names, the
    // SDK's prelude, or the items of the generated contract.
    let krate = name.replace('-', "_");
    if RESERVED_CRATES.contains(&krate.as_str())
        || RESERVED_TYPES.contains(&type_name(name).as_str())
    {
        bail!("bad contract name {name:?}: it collides with a Rust or SDK name; pick another");
    }
    Ok(())
}

const RESERVED_CRATES: &[&str] = &[
    "std",
    "core",
    "alloc",
    "test",
    "proc_macro",
    "phalanx_sdk",
    "serde",
    "serde_json",
    "as",
    "break",
    "const",
    "continue",
    "crate",
    "else",
    "enum",
    "extern",
    "false",
    "fn",
    "for",
    "if",
    "impl",
    "in",
    "let",
    "loop",
    "match",
    "mod",
    "move",
    "mut",
    "pub",
    "ref",
    "return",
    "self",
    "static",
    "struct",
    "super",
    "trait",
    "true",
    "type",
    "unsafe",
    "use",
    "where",
    "while",
    "async",
    "await",
    "dyn",
    "abstract",
    "become",
    "box",
    "do",
    "final",
    "macro",
    "override",
    "priv",
    "typeof",
    "unsized",
    "virtual",
    "yield",
    "try",
    "gen",
];

const RESERVED_TYPES: &[&str] = &[
    "Signed",
    "Item",
    "Map",
    "Address",
    "Amount",
    "Json",
    "ContractError",
    "String",
    "Vec",
    "Option",
    "Result",
    "Box",
    "Serialize",
    "Deserialize",
    "Event",
    "ToString",
];

/// The files of a new project `name` using the SDK at `sdk`: (relative path, contents).
pub fn render(name: &str, sdk: &Path) -> Vec<(String, String)> {
    let krate = name.replace('-', "_");
    let ty = type_name(name);
    // A TOML basic string.
    let sdk = sdk
        .display()
        .to_string()
        .replace('\\', "/")
        .replace('"', "\\\"");
    let fill = |s: &str| {
        s.replace("{{name}}", name)
            .replace("{{crate}}", &krate)
            .replace("{{Type}}", &ty)
            .replace("{{sdk}}", &sdk)
    };
    FILES
        .iter()
        .map(|(path, text)| (fill(path), fill(text)))
        .collect()
}

/// `phalanx contract new NAME [--dir DIR] [--sdk PATH]`
pub fn cmd_new(name: &str, dir: &Path, sdk: Option<&Path>, json: bool) -> Result<()> {
    check_name(name)?;
    let sdk = sdk.map(Path::to_path_buf).unwrap_or_else(default_sdk);
    let sdk = sdk.canonicalize().with_context(|| {
        format!(
            "the Phalanx SDK is not at {} (where this binary was built); pass --sdk PATH to the `sdk` directory of a Phalanx checkout",
            sdk.display()
        )
    })?;
    if !sdk.join("Cargo.toml").is_file() {
        bail!("{} is not the Phalanx SDK (no Cargo.toml)", sdk.display());
    }
    let root = dir.join(name);
    if root.exists() {
        bail!("{} exists already; nothing was written", root.display());
    }
    for (path, text) in render(name, &sdk) {
        let file = root.join(&path);
        if let Some(parent) = file.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        std::fs::write(&file, text).with_context(|| format!("cannot write {}", file.display()))?;
    }
    let out = json!({"path": root, "name": name, "sdk": sdk});
    crate::client::print(json, &out, || {
        println!("created {}", root.display());
        println!(
            "  cd {} && cargo test && phalanx contract build",
            root.display()
        );
    });
    Ok(())
}

/// The `.wasm` files cargo reports building, from its JSON messages.
fn wasm_artifacts(stdout: &str) -> Vec<PathBuf> {
    stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|m| m["reason"] == "compiler-artifact")
        .flat_map(|m| {
            m["filenames"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .filter_map(|f| f.as_str().map(PathBuf::from))
        })
        .filter(|p| p.extension().is_some_and(|e| e == "wasm"))
        .collect()
}

/// `phalanx contract build [DIR]`: `cargo build --release --target wasm32-unknown-unknown`,
/// then the node's deploy checks on each module, with its size, code hash and ABI.
pub fn cmd_build(dir: &Path, json: bool) -> Result<()> {
    let manifest = dir.join("Cargo.toml");
    if !manifest.is_file() {
        bail!("no Cargo.toml in {}", dir.display());
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args([
            "build",
            "--release",
            "--target",
            "wasm32-unknown-unknown",
            "--message-format=json-render-diagnostics",
            "--manifest-path",
        ])
        .arg(&manifest)
        .stderr(Stdio::inherit())
        .output()
        .context("cannot run cargo")?;
    if !out.status.success() {
        bail!(
            "cargo build failed (is the wasm32 target installed? `rustup target add wasm32-unknown-unknown`)"
        );
    }
    let modules = wasm_artifacts(&String::from_utf8_lossy(&out.stdout));
    if modules.is_empty() {
        bail!("cargo built no .wasm: is the crate a `cdylib`?");
    }
    let runtime = phalanx_runtime::Runtime::new(phalanx_runtime::RuntimeConfig::default())
        .map_err(|e| anyhow::anyhow!("cannot start the contract runtime: {e}"))?;
    let mut reports = Vec::new();
    let mut failed = false;
    for path in modules {
        let code =
            std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
        let check = runtime.check_code(&code);
        failed |= check.is_err();
        let abi = crate::contract::abi_of_code(&code)?;
        let methods: Vec<Value> = abi
            .as_ref()
            .and_then(|a| a["methods"].as_array().cloned())
            .unwrap_or_default()
            .iter()
            .map(|m| {
                json!(format!(
                    "{} {}",
                    m["kind"].as_str().unwrap_or("?"),
                    m["name"].as_str().unwrap_or("?")
                ))
            })
            .collect();
        reports.push(json!({
            "wasm": path,
            "bytes": code.len(),
            "abi_bytes": phalanx_runtime::validate::abi_bytes(&code),
            "code_hash": phalanx_runtime::layout::code_hash(&code),
            "deployable": check.is_ok(),
            "error": check.err().map(|e| e.to_string()),
            "contract": abi.as_ref().map(|a| a["contract"].clone()),
            "methods": methods,
        }));
    }
    let value = json!({"modules": reports});
    crate::client::print(json, &value, || {
        for r in &reports {
            println!("wasm      {}", r["wasm"].as_str().unwrap_or(""));
            println!(
                "size      {} bytes (ABI {} bytes)",
                r["bytes"], r["abi_bytes"]
            );
            println!("code hash {}", r["code_hash"].as_str().unwrap_or(""));
            match r["error"].as_str() {
                None => println!("deploy    ok (the node's deploy checks, default limits)"),
                Some(e) => println!("deploy    REFUSED: {e}"),
            }
            match r["contract"].as_str() {
                Some(c) => {
                    let names: Vec<&str> = r["methods"]
                        .as_array()
                        .map(Vec::as_slice)
                        .unwrap_or(&[])
                        .iter()
                        .filter_map(Value::as_str)
                        .collect();
                    println!("abi       {c}: {}", names.join(", "));
                }
                None => println!("abi       none (not built with #[contract])"),
            }
        }
    });
    if failed {
        bail!("a module would be refused at deploy");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_become_types_and_bad_names_are_refused() {
        assert_eq!(type_name("guestbook"), "Guestbook");
        assert_eq!(type_name("my-book_2"), "MyBook2");
        for bad in [
            "", "Book", "1book", "my book", "a/b", "../x", "signed", "std", "map", "fn",
        ] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
        assert!(check_name("my-book_2").is_ok());
    }

    #[test]
    fn the_walkthrough_shows_the_scaffold_verbatim() {
        // docs/CONTRACTS.md prints the generated contract and test for `guestbook`: they must
        // be exactly what `contract new guestbook` writes.
        let doc = include_str!("../../docs/CONTRACTS.md");
        let files = render("guestbook", Path::new("/sdk"));
        for wanted in ["src/lib.rs", "tests/guestbook.rs"] {
            let (_, text) = files.iter().find(|(p, _)| p == wanted).unwrap();
            assert!(
                doc.contains(&format!("```rust\n{text}```")),
                "CONTRACTS.md does not show {wanted} as generated"
            );
        }
    }
}
