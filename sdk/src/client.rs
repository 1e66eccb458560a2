//! What the typed clients `#[contract]` generates (`<Type>Client`) talk through: anything
//! that can deploy, call and query a contract. The test harness's
//! [`TestEnv`](crate::testing::TestEnv) is one (feature `testutils`).
//!
//! ```ignore
//! let mut env = TestEnv::new();
//! let mut token = TokenClient::deploy(&mut env, alice, &wasm, name, symbol, 6, supply)?;
//! let receipt = token.transfer(bob, Amount::from(250));   // a transaction, as alice
//! assert_eq!(token.balance_of(bob), Ok(Amount::from(250))); // a query
//! ```

use crate::{Address, ContractError};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// A way to reach contracts: deploy, call (a transaction) and query (read-only).
pub trait Transport {
    /// What a call returns: for the harness, the decoded result with gas and events.
    type Receipt<R>;

    /// Deploys `code` as `sender` with `init` arguments; the new contract's address.
    fn deploy_contract<A: Serialize>(
        &mut self,
        sender: Address,
        code: &[u8],
        init: &A,
    ) -> Result<Address, ContractError>;

    /// Calls `method` of `contract` as `sender` in a transaction.
    fn call_contract<A: Serialize, R: DeserializeOwned>(
        &mut self,
        sender: Address,
        contract: Address,
        method: &str,
        args: &A,
    ) -> Self::Receipt<R>;

    /// Migrates `contract` to `code` as `sender` (its admin), running the new code's
    /// `migrate` with `args`.
    fn migrate_contract<A: Serialize, R: DeserializeOwned>(
        &mut self,
        sender: Address,
        contract: Address,
        code: &[u8],
        args: &A,
    ) -> Self::Receipt<R>;

    /// Queries `method` of `contract` (no transaction, nothing written).
    fn query_contract<A: Serialize, R: DeserializeOwned>(
        &self,
        contract: Address,
        method: &str,
        args: &A,
    ) -> Result<R, ContractError>;
}
