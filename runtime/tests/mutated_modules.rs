//! Untrusted code never panics the runtime: random bytes and randomly mutated valid modules
//! are either refused at deploy or run to a clean outcome (never a node fault).

mod common;

use common::*;
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn random_bytes_are_refused(bytes in proptest::collection::vec(any::<u8>(), 0..4096)) {
        let rt = phalanx_runtime::Runtime::new(phalanx_runtime::RuntimeConfig::default()).unwrap();
        prop_assert!(rt.check_code(&bytes).is_err());
    }

    #[test]
    fn mutated_modules_deploy_cleanly_or_are_refused(
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8)
    ) {
        let mut code = counter();
        for (at, byte) in &flips {
            let i = at.index(code.len());
            code[i] = *byte;
        }
        let outcome = with_stack(move || {
            let mut chain = Chain::new();
            let out = chain.deploy_outcome(&code, b"", GAS);
            let call = out.contract.map(|c| chain.call(&c, "inc", b""));
            (out, call)
        });
        let (deploy, call) = outcome;
        match deploy.result {
            Ok(_) => prop_assert!(deploy.contract.is_some()),
            Err(e) => prop_assert!(e.code > 0 && deploy.contract.is_none()),
        }
        if let Some(call) = call {
            prop_assert!(call.gas_used <= GAS);
        }
    }
}
