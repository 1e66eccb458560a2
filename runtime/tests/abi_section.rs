//! The `phalanx.abi` custom section: checked at deploy, stored with the code, priced as storage
//! only, and never part of what a call pays for or executes.

mod common;

use common::*;
use phalanx_runtime::abi::code;
use phalanx_runtime::validate::{ABI_SECTION, MAX_ABI_BYTES, abi, abi_bytes};

fn leb(mut n: usize, out: &mut Vec<u8>) {
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// `module` with a custom section `name` holding `data` appended.
fn with_section(module: &[u8], name: &str, data: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    leb(name.len(), &mut body);
    body.extend_from_slice(name.as_bytes());
    body.extend_from_slice(data);
    let mut out = module.to_vec();
    out.push(0);
    leb(body.len(), &mut out);
    out.extend_from_slice(&body);
    out
}

const GOOD: &str = r#"{"phalanx_abi":1,"contract":"Counter","methods":[{"name":"inc","kind":"call","params":[],"returns":"u64"}],"errors":[],"events":[]}"#;

#[test]
fn bad_abi_sections_are_refused_with_a_reason() {
    with_stack(|| {
        let mut chain = Chain::new();
        let before = chain.state.clone();
        let base = counter();
        let padded = format!(
            r#"{{"phalanx_abi":1,"methods":[],"pad":"{}"}}"#,
            "x".repeat(MAX_ABI_BYTES)
        );
        let twice = with_section(
            &with_section(&base, ABI_SECTION, GOOD.as_bytes()),
            ABI_SECTION,
            GOOD.as_bytes(),
        );
        let cases: [(&str, Vec<u8>, &str); 6] = [
            (
                "not JSON",
                with_section(&base, ABI_SECTION, b"{\"phalanx_abi\":1,"),
                "is not JSON",
            ),
            (
                "not UTF-8",
                with_section(&base, ABI_SECTION, &[0xff, 0xfe]),
                "is not JSON",
            ),
            (
                "unknown version",
                with_section(&base, ABI_SECTION, br#"{"phalanx_abi":2,"methods":[]}"#),
                "version 2",
            ),
            (
                "no version",
                with_section(&base, ABI_SECTION, br#"{"methods":[]}"#),
                "no numeric `phalanx_abi`",
            ),
            (
                "too large",
                with_section(&base, ABI_SECTION, padded.as_bytes()),
                "over the limit",
            ),
            ("two sections", twice, "`phalanx.abi` sections"),
        ];
        for (what, module, reason) in cases {
            let err = chain.rt.check_code(&module).expect_err(what);
            assert!(err.0.contains(reason), "{what}: {err}");
            let out = chain.deploy_outcome(&module, b"", 1_000_000_000);
            assert_eq!(
                out.result.as_ref().map_err(|e| e.code),
                Err(code::INVALID_MODULE),
                "{what}"
            );
        }
        assert_eq!(chain.state.0, before.0, "nothing stored");
        // Other custom sections (names, producers) are none of the runtime's business.
        let named = with_section(&base, "name-ish", b"\xff anything");
        assert!(chain.rt.check_code(&named).is_ok());
    });
}

#[test]
fn the_abi_is_stored_priced_as_storage_and_free_for_calls() {
    with_stack(|| {
        let mut chain = Chain::new();
        let plain = counter();
        let with_abi = with_section(&plain, ABI_SECTION, GOOD.as_bytes());
        assert!(chain.rt.check_code(&with_abi).is_ok());
        assert_eq!(abi(&with_abi), Some(GOOD.as_bytes()));
        assert_eq!(abi(&plain), None);

        let a = chain.deploy_outcome(&plain, b"", GAS);
        let b = chain.deploy_outcome(&with_abi, b"", GAS);
        assert!(a.result.is_ok() && b.result.is_ok());
        // The section's bytes, framing included, pay storage only: no compilation, and no
        // loading by `init`.
        let s = chain.rt.schedule().clone();
        let extra = (with_abi.len() - plain.len()) as u64;
        assert_eq!(abi_bytes(&with_abi), extra);
        assert_eq!(b.gas_used - a.gas_used, s.storage_write_byte * extra);
        // Calls of either contract cost exactly the same: the section is never loaded.
        let (ca, cb) = (a.contract.unwrap(), b.contract.unwrap());
        let call_a = chain.call(&ca, "inc", b"");
        let call_b = chain.call(&cb, "inc", b"");
        assert_eq!(u64_of(&call_a), 1);
        assert_eq!(u64_of(&call_b), 1);
        assert_eq!(call_a.gas_used, call_b.gas_used);
    });
}
