//! Key files: ed25519 secrets in JSON, written with mode 0600, never logged.

use anyhow::{Context, Result, bail};
use phalanx_types::SecretKey;
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::Path;

/// On-disk form of a key.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyFile {
    #[serde(rename = "type")]
    kind: String,
    address: String,
    public_key: String,
    secret_key: String,
}

/// Writes `key` to `path` (mode 0600). Refuses to overwrite an existing file.
pub fn write_key(path: &Path, key: &SecretKey) -> Result<()> {
    if let Some(dir) = path.parent()
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let file = KeyFile {
        kind: "ed25519".into(),
        address: key.address().to_hex(),
        public_key: key.public_key().to_hex(),
        secret_key: hex_secret(key),
    };
    let json = serde_json::to_string_pretty(&file)?;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path).with_context(|| {
        format!(
            "cannot create key file {} (does it already exist?)",
            path.display()
        )
    })?;
    f.write_all(json.as_bytes())?;
    f.write_all(b"\n")?;
    f.sync_all()?;
    Ok(())
}

fn hex_secret(key: &SecretKey) -> String {
    let seed = key.to_seed();
    let mut s = String::with_capacity(64);
    for b in seed.iter() {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

/// Reads a key file written by [`write_key`].
pub fn read_key(path: &Path) -> Result<SecretKey> {
    let json = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read key file {}", path.display()))?;
    let file: KeyFile = serde_json::from_str(&json)
        .with_context(|| format!("{} is not a phalanx key file", path.display()))?;
    if file.kind != "ed25519" {
        bail!("{}: unsupported key type {:?}", path.display(), file.kind);
    }
    let key = SecretKey::from_hex(&file.secret_key)
        .with_context(|| format!("{}: bad secret key", path.display()))?;
    if key.public_key().to_hex() != file.public_key {
        bail!(
            "{}: public key does not match the secret key",
            path.display()
        );
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)?.permissions().mode();
        if mode & 0o077 != 0 {
            tracing::warn!(path = %path.display(), mode = format!("{mode:o}"), "key file is readable by others; chmod 600 it");
        }
    }
    Ok(key)
}

/// The libp2p peer id of a node key.
pub fn peer_id(node_key: &SecretKey) -> Result<String> {
    Ok(crate::p2p::keypair(node_key)?
        .public()
        .to_peer_id()
        .to_base58())
}

/// `phalanx keys new --out FILE`
pub fn cmd_new(out: &Path, json: bool) -> Result<()> {
    let key = SecretKey::generate();
    write_key(out, &key)?;
    print_key(&key, Some(out), json);
    Ok(())
}

/// `phalanx keys show FILE`
pub fn cmd_show(file: &Path, json: bool) -> Result<()> {
    let key = read_key(file)?;
    print_key(&key, None, json);
    Ok(())
}

fn print_key(key: &SecretKey, written: Option<&Path>, json: bool) {
    // Any ed25519 key names a libp2p peer; for a node key (`config/node_key`) it is the
    // node's peer id, what a genesis file and `gov propose add-validator` need.
    let peer = peer_id(key).unwrap_or_default();
    if json {
        let mut v = serde_json::json!({
            "address": key.address().to_hex(),
            "public_key": key.public_key().to_hex(),
            "peer_id": peer,
        });
        if let Some(p) = written {
            v["file"] = serde_json::Value::String(p.display().to_string());
        }
        println!("{v}");
    } else {
        if let Some(p) = written {
            println!("wrote   {}", p.display());
        }
        println!("address    {}", key.address());
        println!("public key {}", key.public_key());
        println!("peer id    {peer} (as a node key)");
    }
}

/// `phalanx show-node-id [--home DIR]`: the libp2p peer id of the home's node key.
pub fn cmd_show_node_id(home: &Path, json: bool) -> Result<()> {
    let key = read_key(&crate::home::Home(home.to_path_buf()).node_key())?;
    let id = peer_id(&key)?;
    if json {
        println!("{}", serde_json::json!({ "peer_id": id }));
    } else {
        println!("{id}");
    }
    Ok(())
}

/// `phalanx show-validator [--home DIR]`: the home's validator public key and address, what
/// `gov propose add-validator --public-key` needs (no secret leaves the machine).
pub fn cmd_show_validator(home: &Path, json: bool) -> Result<()> {
    let key = read_key(&crate::home::Home(home.to_path_buf()).validator_key())?;
    if json {
        println!(
            "{}",
            serde_json::json!({
                "public_key": key.public_key().to_hex(),
                "address": key.address().to_hex(),
            })
        );
    } else {
        println!("public key {}", key.public_key());
        println!("address    {}", key.address());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_mode_and_no_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.json");
        let key = SecretKey::generate();
        write_key(&path, &key).unwrap();
        assert_eq!(read_key(&path).unwrap().public_key(), key.public_key());
        assert!(write_key(&path, &key).is_err(), "must not overwrite");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(&key.address().to_hex()));
        assert!(peer_id(&key).unwrap().starts_with("12D3KooW"));
    }

    #[test]
    fn rejects_garbage() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.json");
        std::fs::write(&path, "{\"type\":\"ed25519\"}").unwrap();
        assert!(read_key(&path).is_err());
    }
}
