//! The golden-file check shared by the vector tests (`node/types/tests/vectors.rs`,
//! `node/storage/tests/vectors.rs`): a file must equal what the code produces, or be
//! rewritten on request (`PHALANX_UPDATE_VECTORS=1`) after an intended change.

use serde_json::Value;
use std::path::Path;

/// Lowercase hex.
pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Compares `value` with `node/types/tests/vectors/NAME.json` (`types_dir` is the
/// `node/types` directory), or writes it when asked to.
pub fn golden(types_dir: &Path, name: &str, value: &Value) {
    let path = types_dir.join("tests/vectors").join(format!("{name}.json"));
    let text = serde_json::to_string_pretty(value).unwrap() + "\n";
    if std::env::var_os("PHALANX_UPDATE_VECTORS").is_some() {
        std::fs::write(&path, &text).unwrap();
        return;
    }
    let on_disk = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (PHALANX_UPDATE_VECTORS=1 writes it)",
            path.display()
        )
    });
    assert!(
        on_disk == text,
        "{name}.json no longer matches what the code produces: the wire format changed. If \
         that is intended, run with PHALANX_UPDATE_VECTORS=1 and update docs/WIRE.md"
    );
}
