//! Key files: ed25519 secrets in JSON, written with mode 0600, never logged.

use anyhow::{Context, Result, bail};
use phalanx_types::{PublicKey, SecretKey};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::Path;

/// On-disk form of a key: the secret in hex, or sealed under a passphrase
/// ([`crate::keycrypt`]). The address and public key are readable either way.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyFile {
    #[serde(rename = "type")]
    kind: String,
    address: String,
    public_key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    secret_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sealed: Option<crate::keycrypt::Sealed>,
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
        secret_key: Some(hex_secret(key)),
        sealed: None,
    };
    create_key_file(path, &file)
}

/// Writes a key file that must not exist yet, mode 0600, synced.
/// A key file's contents: pretty JSON and a newline.
fn key_file_bytes(file: &KeyFile) -> Result<Vec<u8>> {
    let mut bytes = serde_json::to_vec_pretty(file)?;
    bytes.push(b'\n');
    Ok(bytes)
}

fn create_key_file(path: &Path, file: &KeyFile) -> Result<()> {
    let bytes = key_file_bytes(file)?;
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
    f.write_all(&bytes)?;
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

fn load_file(path: &Path) -> Result<KeyFile> {
    let json = zeroize::Zeroizing::new(
        std::fs::read_to_string(path)
            .with_context(|| format!("cannot read key file {}", path.display()))?,
    );
    let file: KeyFile = serde_json::from_str(&json)
        .with_context(|| format!("{} is not a phalanx key file", path.display()))?;
    if file.kind != "ed25519" {
        bail!("{}: unsupported key type {:?}", path.display(), file.kind);
    }
    if file.secret_key.is_some() == file.sealed.is_some() {
        bail!(
            "{}: a key file holds either secret_key or sealed",
            path.display()
        );
    }
    Ok(file)
}

/// The public key in a key file, without asking for a passphrase. A plain file's secret is
/// checked against it; an encrypted file's public key is authenticated only when the file
/// is opened with its passphrase.
pub fn read_public(path: &Path) -> Result<PublicKey> {
    let file = load_file(path)?;
    if file.secret_key.is_some() {
        return Ok(key_of(&file, path)?.public_key());
    }
    file.public_key
        .parse()
        .map_err(|e| anyhow::anyhow!("{}: bad public key: {e}", path.display()))
}

/// Reads a key file written by [`write_key`] or sealed by `keys encrypt` (then its passphrase
/// comes from [`crate::keycrypt::passphrase`]).
pub fn read_key(path: &Path) -> Result<SecretKey> {
    key_of(&load_file(path)?, path)
}

/// The secret key of a loaded key file (asking for its passphrase if it is sealed), checked
/// against its public key.
fn key_of(file: &KeyFile, path: &Path) -> Result<SecretKey> {
    let key = match (&file.secret_key, &file.sealed) {
        (Some(hex), _) => SecretKey::from_hex(hex)
            .with_context(|| format!("{}: bad secret key", path.display()))?,
        (None, Some(sealed)) => {
            let passphrase = crate::keycrypt::passphrase(path, false)?;
            let seed = crate::keycrypt::open(sealed, &file.public_key, passphrase.as_bytes())
                .with_context(|| format!("cannot open {}", path.display()))?;
            SecretKey::from_seed(*seed)
        }
        (None, None) => unreachable!("checked by load_file"),
    };
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

/// `phalanx keys encrypt FILE`: seals a plain key file under a passphrase, in place (the
/// plain file is replaced atomically; the key, address and peer id stay the same).
pub fn cmd_encrypt(path: &Path, json: bool) -> Result<()> {
    let file = load_file(path)?;
    if file.sealed.is_some() {
        bail!("{} is already encrypted", path.display());
    }
    let key = key_of(&file, path)?;
    let passphrase = crate::keycrypt::passphrase(path, true)?;
    if passphrase.chars().count() < crate::keycrypt::MIN_PASSPHRASE {
        bail!(
            "the passphrase is shorter than {} characters",
            crate::keycrypt::MIN_PASSPHRASE
        );
    }
    let sealed = crate::keycrypt::seal(
        &key.to_seed(),
        &key.public_key().to_hex(),
        passphrase.as_bytes(),
    )?;
    let sealed_file = KeyFile {
        secret_key: None,
        sealed: Some(sealed),
        ..file
    };
    // Atomically, keeping the owner (root encrypting the service user's key must not lock
    // the service out of it), readable by the owner only.
    crate::fsutil::replace_with_mode(path, &key_file_bytes(&sealed_file)?, Some(0o600))?;
    if json {
        println!(
            "{}",
            serde_json::json!({"file": path.display().to_string(), "encrypted": true, "address": key.address().to_hex()})
        );
    } else {
        println!("encrypted {} (address {})", path.display(), key.address());
        println!(
            "the node asks for the passphrase on its terminal, or reads it from the file named by {}",
            crate::keycrypt::PASSPHRASE_FILE_ENV
        );
    }
    Ok(())
}

/// The libp2p peer id of a node key.
pub fn peer_id(node_key: &SecretKey) -> Result<String> {
    peer_id_of(&node_key.public_key())
}

/// The libp2p peer id of an ed25519 public key (a node key's names its node).
pub fn peer_id_of(public_key: &PublicKey) -> Result<String> {
    let key = libp2p::identity::ed25519::PublicKey::try_from_bytes(&public_key.0)
        .map_err(|e| anyhow::anyhow!("invalid ed25519 public key: {e}"))?;
    Ok(libp2p::identity::PublicKey::from(key)
        .to_peer_id()
        .to_base58())
}

/// `phalanx keys new --out FILE`
pub fn cmd_new(out: &Path, json: bool) -> Result<()> {
    let key = SecretKey::generate();
    write_key(out, &key)?;
    print_public(&key.public_key(), Some(out), json);
    Ok(())
}

/// `phalanx keys show FILE`: public data only, so an encrypted file needs no passphrase.
pub fn cmd_show(file: &Path, json: bool) -> Result<()> {
    print_public(&read_public(file)?, None, json);
    Ok(())
}

fn print_public(public_key: &PublicKey, written: Option<&Path>, json: bool) {
    // Any ed25519 key names a libp2p peer; for a node key (`config/node_key`) it is the
    // node's peer id, what a genesis file and `gov propose add-validator` need.
    let peer = peer_id_of(public_key).unwrap_or_default();
    let address = public_key.address();
    if json {
        let mut v = serde_json::json!({
            "address": address.to_hex(),
            "public_key": public_key.to_hex(),
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
        println!("address    {address}");
        println!("public key {public_key}");
        println!("peer id    {peer} (as a node key)");
    }
}

/// `phalanx show-node-id [--home DIR]`: the libp2p peer id of the home's node key.
pub fn cmd_show_node_id(home: &Path, json: bool) -> Result<()> {
    let id = peer_id_of(&read_public(
        &crate::home::Home(home.to_path_buf()).node_key(),
    )?)?;
    if json {
        println!("{}", serde_json::json!({ "peer_id": id }));
    } else {
        println!("{id}");
    }
    Ok(())
}

/// `phalanx show-validator [--home DIR]`: the home's validator public key and address, what
/// `gov propose add-validator --public-key` needs (no secret leaves the machine, and an
/// encrypted key needs no passphrase).
pub fn cmd_show_validator(home: &Path, json: bool) -> Result<()> {
    let key = read_public(&crate::home::Home(home.to_path_buf()).validator_key())?;
    if json {
        println!(
            "{}",
            serde_json::json!({
                "public_key": key.to_hex(),
                "address": key.address().to_hex(),
            })
        );
    } else {
        println!("public key {key}");
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
        // The public-key route gives libp2p's own peer id for the key.
        assert_eq!(
            peer_id(&key).unwrap(),
            crate::p2p::keypair(&key)
                .unwrap()
                .public()
                .to_peer_id()
                .to_base58()
        );
        assert_eq!(read_public(&path).unwrap(), key.public_key());
    }

    #[test]
    fn rejects_garbage() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.json");
        std::fs::write(&path, "{\"type\":\"ed25519\"}").unwrap();
        assert!(read_key(&path).is_err());
    }
}
