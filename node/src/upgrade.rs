//! `phalanx tx migrate` and `phalanx tx set-admin`: upgrading a contract in place, and handing
//! on (or giving up) the right to (docs/CONTRACTS.md, "Upgrades").

use crate::cli::MigrateArgs;
use crate::client::{self, Client, GasArg, report};
use crate::keys;
use anyhow::{Context, Result, bail};
use phalanx_types::{Admin, Bytes, SecretKey, TxPayload};
use std::path::Path;

/// Parses an admin flag: `self` (the signing key's account), `governance`, an address, or
/// `none`.
pub fn admin_arg(arg: Option<&str>, key: &SecretKey) -> Result<Option<Admin>> {
    match arg {
        None | Some("none") => Ok(None),
        Some("self") => Ok(Some(Admin::Account(key.address()))),
        Some(s) => s.parse::<Admin>().map(Some).map_err(|e| {
            anyhow::anyhow!("bad admin {s:?} (self, governance, none or an address): {e}")
        }),
    }
}

/// `phalanx tx migrate ADDRESS CODE.wasm [--args JSON] [--stored] --key FILE`
pub fn cmd_migrate(m: &MigrateArgs, json: bool) -> Result<()> {
    let (file, args) = (m.file.as_path(), m.args.as_deref());
    let contract = client::parse_address(&m.address, "contract")?;
    let code = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    if !code.starts_with(b"\0asm") {
        bail!("{} is not a wasm module", file.display());
    }
    // The new code must have a `migrate` entry point taking these arguments.
    if let Some(abi) = crate::contract::abi_of_code(&code)? {
        if crate::abicheck::method(&abi, "migrate").is_err() {
            bail!(
                "{} has no #[migrate] method, so the migration would fail (nothing was sent)",
                file.display()
            );
        }
        client::check_against_abi(&abi, "migrate", args)?;
    }
    let key = keys::read_key(&m.key)?;
    let code_hash = phalanx_runtime::layout::code_hash(&code);
    let out = Client::new(&m.rpc).send(
        &key,
        TxPayload::Migrate {
            contract,
            code_hash,
            code: (!m.stored).then_some(Bytes(code)),
            args: Bytes(client::json_arg(args, "the arguments")?),
        },
        m.gas,
    )?;
    report(&out, json, |r| {
        println!("contract {contract}");
        println!("code     {code_hash}");
        println!("return   {}", r.return_value);
    })
}

/// `phalanx tx set-admin ADDRESS ADMIN --key FILE`
pub fn cmd_set_admin(
    address: &str,
    admin: &str,
    key: &Path,
    rpc: &str,
    gas: GasArg,
    json: bool,
) -> Result<()> {
    let contract = client::parse_address(address, "contract")?;
    let key = keys::read_key(key)?;
    let admin = admin_arg(Some(admin), &key)?;
    let out = Client::new(rpc).send(&key, TxPayload::SetAdmin { contract, admin }, gas)?;
    report(&out, json, |_| match admin {
        Some(a) => println!("admin    {a}"),
        None => println!("admin    none: the contract is immutable from now on"),
    })
}
