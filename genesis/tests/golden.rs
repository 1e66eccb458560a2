//! Golden-file tests: the sample genesis parses, validates and hashes to the recorded value;
//! each file in tests/invalid/ is rejected with the recorded message.

use phalanx_genesis::{Genesis, GenesisError};
use std::path::PathBuf;

/// This crate's directory, as cargo reports it when the test runs (a test binary reused
/// from a build in another checkout would otherwise look in that checkout).
fn crate_dir() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")))
}

fn sample() -> String {
    std::fs::read_to_string(crate_dir().join("samples/example.json")).unwrap()
}

#[test]
fn sample_hash_is_stable() {
    let g = Genesis::from_json(&sample()).unwrap();
    let golden = std::fs::read_to_string(crate_dir().join("samples/example.hash")).unwrap();
    assert_eq!(
        g.hash().to_hex(),
        golden.trim(),
        "the genesis hash changed: a consensus-breaking change (update samples/example.hash only on purpose)"
    );
    assert_eq!(g.validator_set().len(), 4);
    assert_eq!(g.validator_set().quorum(), 3);
}

#[test]
fn hash_ignores_formatting_but_not_content() {
    let g = Genesis::from_json(&sample()).unwrap();
    let compact: serde_json::Value = serde_json::from_str(&sample()).unwrap();
    let g2 = Genesis::from_json(&compact.to_string()).unwrap();
    assert_eq!(g.hash(), g2.hash());
    let mut g3 = g.clone();
    g3.params.block_interval_ms += 1;
    assert_ne!(g.hash(), g3.hash());
    let mut g4 = g.clone();
    g4.validators.swap(0, 1);
    assert_ne!(
        g.hash(),
        g4.hash(),
        "validator order decides the primary, so it is hashed"
    );
    // Round trip through to_json.
    assert_eq!(Genesis::from_json(&g.to_json()).unwrap(), g);
}

#[test]
fn invalid_files_are_rejected_with_clear_errors() {
    let dir = crate_dir().join("tests/invalid");
    let mut checked = 0;
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let expected = std::fs::read_to_string(path.with_extension("expected")).unwrap();
        let err = Genesis::from_json(&std::fs::read_to_string(&path).unwrap())
            .expect_err(&format!("{} should be rejected", path.display()));
        assert!(
            err.to_string().contains(expected.trim()),
            "{}: error {:?} does not contain {:?}",
            path.display(),
            err.to_string(),
            expected.trim()
        );
        checked += 1;
    }
    assert!(checked >= 6, "only {checked} invalid samples");
}

#[test]
fn empty_validator_set_is_rejected() {
    let mut v: serde_json::Value = serde_json::from_str(&sample()).unwrap();
    v["validators"] = serde_json::json!([]);
    assert_eq!(
        Genesis::from_json(&v.to_string()),
        Err(GenesisError::NoValidators)
    );
}
