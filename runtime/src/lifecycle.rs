//! A contract's life: deploy (store code and instantiate), instantiate from stored code,
//! migrate to other code (its admin only) and hand the admin role on.
//!
//! Upgrades keep the address and the storage: only the contract record's code hash (and the
//! sizes that price it) changes, and the new code's `migrate` method runs in the same overlay
//! layer, so a failing migration leaves nothing behind. Each upgrade or admin change records
//! an event under a reserved topic (`phalanx.migrated`, `phalanx.admin`), which contracts
//! cannot emit themselves.

use crate::cache::compile;
use crate::error::RuntimeError;
use crate::exec::{CodeSizes, ExecError, Meter, Outcome, Runtime, TxEnv, failed};
use crate::layout::{self, ContractInfo};
use crate::state::Overlay;
use crate::validate::validate;
use phalanx_abi::{INIT_METHOD, MIGRATE_METHOD, code};
use phalanx_types::{Address, Admin, Event, Hash, decode, encode};

/// Event topics starting with this are the runtime's; a contract emitting one fails with
/// `LIMIT_EXCEEDED`.
pub const RESERVED_TOPIC_PREFIX: &str = "phalanx.";
/// Topic of the event a migration records (data: `{"from": old code hash, "to": new}`).
pub const MIGRATED_TOPIC: &str = "phalanx.migrated";
/// Topic of the event an admin change records (data: `{"admin": new admin or null}`).
pub const ADMIN_TOPIC: &str = "phalanx.admin";

/// The admin of the contract at `address`, if it has one.
pub fn admin_of(
    state: &dyn crate::state::StateRead,
    address: &Address,
) -> Result<Option<Admin>, RuntimeError> {
    decode_admin(state.get(&layout::admin_key(address))?)
}

fn admin_in(overlay: &Overlay, address: &Address) -> Result<Option<Admin>, RuntimeError> {
    decode_admin(overlay.get(&layout::admin_key(address))?)
}

fn decode_admin(bytes: Option<Vec<u8>>) -> Result<Option<Admin>, RuntimeError> {
    let Some(bytes) = bytes else {
        return Ok(None);
    };
    decode(&bytes).map(Some).map_err(|e| RuntimeError::Corrupt {
        what: "contract admin",
        reason: e.to_string(),
    })
}

/// The JSON form of an admin in events and RPC answers: an address, `"governance"`, or null.
pub fn admin_json(admin: Option<&Admin>) -> String {
    match admin {
        Some(a) => format!("\"{a}\""),
        None => "null".into(),
    }
}

fn system_event(contract: Address, topic: &str, data: String) -> Event {
    Event {
        contract,
        topic: topic.into(),
        data: phalanx_types::Bytes(data.into_bytes()),
    }
}

impl Runtime {
    /// Stores `code_bytes` (of `sizes`) once per hash (validated and compiled on first
    /// sight), charging `meter` for it. `Ok(Err(_))` is a deterministic failure (bad module,
    /// out of gas).
    fn store_code(
        &self,
        overlay: &mut Overlay,
        meter: &mut Meter,
        code_bytes: &[u8],
        sizes: CodeSizes,
    ) -> Result<Result<Hash, ExecError>, RuntimeError> {
        let s = self.schedule();
        // The ABI section is stored, never compiled: it pays for storage only
        // (`sizes.code` leaves it out).
        let charged = meter.charge(
            s.storage_write
                .saturating_add(s.deploy_byte.saturating_mul(u64::from(sizes.code)))
                .saturating_add(s.storage_write_byte.saturating_mul(code_bytes.len() as u64)),
        );
        if let Err(e) = charged {
            return Ok(Err(e));
        }
        let hash = layout::code_hash(code_bytes);
        let key = layout::code_key(&hash);
        if overlay.get(&key)?.is_none() {
            let inner = self.inner();
            // Our structural rules first (cheap, bounded), then wasmtime validates the wasm
            // while compiling it: each module is parsed and validated once.
            let module = match validate(code_bytes, &inner.limits) {
                Ok(()) => compile(&inner.engine, code_bytes).ok(),
                Err(_) => None,
            };
            let Some(module) = module else {
                return Ok(Err(ExecError::host(code::INVALID_MODULE)));
            };
            inner.cache.store_compiled(&hash, &module)?;
            inner.cache.prepare(&inner.linker, hash, &module)?;
            overlay.set(key, code_bytes.to_vec());
        }
        Ok(Ok(hash))
    }

    /// Stores `code` (once per hash) and instantiates an immutable contract from it.
    pub fn deploy(
        &self,
        overlay: &mut Overlay,
        env: &TxEnv,
        code_bytes: &[u8],
        init_args: &[u8],
    ) -> Result<Outcome, RuntimeError> {
        self.deploy_with_admin(overlay, env, code_bytes, init_args, None)
    }

    /// Stores `code` (once per hash) and instantiates a contract from it, with `admin`.
    pub fn deploy_with_admin(
        &self,
        overlay: &mut Overlay,
        env: &TxEnv,
        code_bytes: &[u8],
        init_args: &[u8],
        admin: Option<Admin>,
    ) -> Result<Outcome, RuntimeError> {
        let mut meter = Meter::new(env.gas_limit);
        let sizes = CodeSizes::of(code_bytes);
        overlay.begin();
        let hash = match self.store_code(overlay, &mut meter, code_bytes, sizes)? {
            Ok(hash) => hash,
            Err(e) => {
                overlay.rollback();
                return Ok(failed(e, meter.used));
            }
        };
        let mut outcome = match meter.charge(self.schedule().new_contract) {
            Ok(()) => self.create_contract(overlay, env, &hash, sizes, init_args, admin, meter)?,
            Err(e) => failed(e, meter.used),
        };
        if outcome.result.is_ok() {
            overlay.commit();
        } else {
            overlay.rollback();
            outcome.contract = None;
        }
        Ok(outcome)
    }

    /// Instantiates a contract from stored code and runs its `init`.
    pub fn instantiate(
        &self,
        overlay: &mut Overlay,
        env: &TxEnv,
        code_hash: &Hash,
        init_args: &[u8],
        admin: Option<Admin>,
    ) -> Result<Outcome, RuntimeError> {
        let mut meter = Meter::new(env.gas_limit);
        if let Err(e) = meter.charge(self.schedule().new_contract) {
            return Ok(failed(e, meter.used));
        }
        let Some(code) = overlay.get(&layout::code_key(code_hash))? else {
            return Ok(failed(ExecError::host(code::UNKNOWN_CODE), meter.used));
        };
        // Reading the code to learn its size is a read like any other.
        let read = self.schedule().storage_read_byte;
        if let Err(e) = meter.charge(read.saturating_mul(code.len() as u64)) {
            return Ok(failed(e, meter.used));
        }
        self.create_contract(
            overlay,
            env,
            code_hash,
            CodeSizes::of(&code),
            init_args,
            admin,
            meter,
        )
    }

    /// Records a contract of stored code `code_hash` at its derived address and runs its
    /// `init` (the `new_contract` gas is already charged).
    #[allow(clippy::too_many_arguments)]
    fn create_contract(
        &self,
        overlay: &mut Overlay,
        env: &TxEnv,
        code_hash: &Hash,
        sizes: CodeSizes,
        init_args: &[u8],
        admin: Option<Admin>,
        meter: Meter,
    ) -> Result<Outcome, RuntimeError> {
        let address = layout::contract_address(&env.origin, env.nonce);
        let key = layout::contract_key(&address);
        if overlay.get(&key)?.is_some() {
            return Ok(failed(ExecError::host(code::CONTRACT_EXISTS), meter.used));
        }
        overlay.begin();
        let info = ContractInfo {
            code_hash: *code_hash,
            deployer: env.origin,
            height: env.block.height,
            code_len: sizes.code,
            data_len: sizes.data,
        };
        overlay.set(key, info.to_bytes());
        if let Some(admin) = admin {
            overlay.set(layout::admin_key(&address), encode(&admin));
        }
        let mut outcome = self.run_top(
            overlay,
            env,
            &address,
            INIT_METHOD,
            init_args,
            meter,
            false,
            true,
        )?;
        if outcome.result.is_ok() {
            overlay.commit();
            outcome.contract = Some(address);
        } else {
            overlay.rollback();
        }
        Ok(outcome)
    }

    /// Switches `contract` to the code `code_hash` (stored first from `code` when given) and
    /// runs the new code's `migrate` with `args`, all or nothing. The sender must be the
    /// contract's admin; a contract whose admin is governance migrates only when a governance
    /// proposal authorized exactly this code and these arguments (consumed on success).
    pub fn migrate(
        &self,
        overlay: &mut Overlay,
        env: &TxEnv,
        contract: &Address,
        code_hash: &Hash,
        code: Option<&[u8]>,
        args: &[u8],
    ) -> Result<Outcome, RuntimeError> {
        let mut meter = Meter::new(env.gas_limit);
        // Reading the record and the admin, rewriting the record.
        if let Err(e) = meter.charge(self.schedule().new_contract) {
            return Ok(failed(e, meter.used));
        }
        let Some(raw) = overlay.get(&layout::contract_key(contract))? else {
            return Ok(failed(ExecError::host(code::UNKNOWN_CONTRACT), meter.used));
        };
        let info = ContractInfo::from_bytes(&raw)?;
        let authorization = layout::migration_key(contract);
        let admin = admin_in(overlay, contract)?;
        let authorized = match admin {
            Some(Admin::Account(a)) => a == env.origin,
            Some(Admin::Governance) => overlay
                .get(&authorization)?
                .is_some_and(|grant| grant == migration_grant(code_hash, args)),
            None => false,
        };
        if !authorized {
            return Ok(failed(ExecError::host(code::NOT_ADMIN), meter.used));
        }
        overlay.begin();
        // The new code's sizes: from the bytes the transaction brings (stored now), or from
        // the stored code, whose read is priced like any other.
        let sizes = match code {
            Some(code_bytes) => {
                if layout::code_hash(code_bytes) != *code_hash {
                    overlay.rollback();
                    return Ok(failed(ExecError::host(code::UNKNOWN_CODE), meter.used));
                }
                let sizes = CodeSizes::of(code_bytes);
                if let Err(e) = self.store_code(overlay, &mut meter, code_bytes, sizes)? {
                    overlay.rollback();
                    return Ok(failed(e, meter.used));
                }
                sizes
            }
            None => {
                let Some(stored) = overlay.get(&layout::code_key(code_hash))? else {
                    overlay.rollback();
                    return Ok(failed(ExecError::host(code::UNKNOWN_CODE), meter.used));
                };
                let read = self.schedule().storage_read_byte;
                if let Err(e) = meter.charge(read.saturating_mul(stored.len() as u64)) {
                    overlay.rollback();
                    return Ok(failed(e, meter.used));
                }
                CodeSizes::of(&stored)
            }
        };
        let next = ContractInfo {
            code_hash: *code_hash,
            code_len: sizes.code,
            data_len: sizes.data,
            ..info.clone()
        };
        overlay.set(layout::contract_key(contract), next.to_bytes());
        if admin == Some(Admin::Governance) {
            // A governance grant is spent by the migration it authorized.
            overlay.remove(authorization)?;
        }
        // Whoever carries out a migration governance approved only pays for it: the new
        // code's `migrate` sees the zero address as its caller, so the race to send it wins
        // nothing (an upgrade step that records `caller()` records nobody's).
        let hook_env = match admin {
            Some(Admin::Governance) => TxEnv {
                origin: Address([0; 32]),
                ..env.clone()
            },
            _ => env.clone(),
        };
        let mut outcome = self.run_top(
            overlay,
            &hook_env,
            contract,
            MIGRATE_METHOD,
            args,
            meter,
            false,
            true,
        )?;
        if outcome.result.is_ok() {
            overlay.commit();
            outcome.events.push(system_event(
                *contract,
                MIGRATED_TOPIC,
                format!(r#"{{"from":"{}","to":"{}"}}"#, info.code_hash, code_hash),
            ));
        } else {
            overlay.rollback();
        }
        Ok(outcome)
    }

    /// Sets (or, with `None`, clears for good) the admin of `contract`; the sender must be
    /// its account admin. A governance-administered contract changes admin only through
    /// governance ([`Runtime::set_admin_by_governance`]).
    pub fn set_admin(
        &self,
        overlay: &mut Overlay,
        env: &TxEnv,
        contract: &Address,
        admin: Option<Admin>,
    ) -> Result<Outcome, RuntimeError> {
        let mut meter = Meter::new(env.gas_limit);
        if let Err(e) = meter.charge(self.schedule().new_contract) {
            return Ok(failed(e, meter.used));
        }
        if overlay.get(&layout::contract_key(contract))?.is_none() {
            return Ok(failed(ExecError::host(code::UNKNOWN_CONTRACT), meter.used));
        }
        if admin_in(overlay, contract)? != Some(Admin::Account(env.origin)) {
            return Ok(failed(ExecError::host(code::NOT_ADMIN), meter.used));
        }
        let event = write_admin(overlay, contract, admin)?;
        Ok(Outcome {
            result: Ok(Vec::new()),
            gas_used: meter.used,
            events: vec![event],
            contract: None,
        })
    }
}

/// Writes (or removes) the admin record and returns the event that records it. A migration
/// governance approved but nobody carried out is dropped with the old admin: it must not come
/// back to life if governance becomes the admin again.
pub fn write_admin(
    overlay: &mut Overlay,
    contract: &Address,
    admin: Option<Admin>,
) -> Result<Event, RuntimeError> {
    overlay.remove(layout::migration_key(contract))?;
    match admin {
        Some(a) => overlay.set(layout::admin_key(contract), encode(&a)),
        None => {
            overlay.remove(layout::admin_key(contract))?;
        }
    }
    Ok(system_event(
        *contract,
        ADMIN_TOPIC,
        format!(r#"{{"admin":{}}}"#, admin_json(admin.as_ref())),
    ))
}

/// What a governance grant to migrate stores: the code hash and the arguments, so the
/// migration that spends it is exactly the one the validators approved.
pub fn migration_grant(code_hash: &Hash, args: &[u8]) -> Vec<u8> {
    encode(&(code_hash, phalanx_types::Bytes(args.to_vec())))
}
