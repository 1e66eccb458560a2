//! Encrypted key files: the 32-byte ed25519 seed sealed with XChaCha20-Poly1305 under a key
//! that Argon2id (memory-hard) derives from a passphrase. The public key is authenticated
//! with it, so a file whose public key was swapped does not open.

use anyhow::{Context, Result, anyhow, bail};
use argon2::{Algorithm, Argon2, Params, Version};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand_core::{OsRng, RngCore};
use serde::{Deserialize, Serialize};
use std::path::Path;
use zeroize::Zeroizing;

/// Environment variable naming a file whose first line is the passphrase (for services:
/// systemd's `LoadCredential=` puts one in `$CREDENTIALS_DIRECTORY`).
pub const PASSPHRASE_FILE_ENV: &str = "PHALANX_KEY_PASSPHRASE_FILE";

/// Argon2id memory per derivation (KiB): 64 MiB.
pub const M_KIB: u32 = 64 * 1024;
/// Argon2id passes.
pub const T_COST: u32 = 3;
/// Argon2id lanes.
pub const P_COST: u32 = 1;
/// Most memory a key file may ask the KDF for (KiB): 1 GiB, so a crafted file cannot
/// exhaust the machine.
const MAX_M_KIB: u32 = 1024 * 1024;
/// Most passes a key file may ask for.
const MAX_T_COST: u32 = 64;
/// Shortest passphrase accepted when encrypting.
pub const MIN_PASSPHRASE: usize = 8;

/// The KDF's parameters, stored with the key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Kdf {
    /// Always `argon2id`.
    pub name: String,
    /// Memory (KiB).
    pub m_kib: u32,
    /// Passes.
    pub t: u32,
    /// Lanes.
    pub p: u32,
    /// 16 random bytes (hex).
    pub salt: String,
}

/// A sealed seed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sealed {
    /// How the key was derived.
    pub kdf: Kdf,
    /// Always `xchacha20poly1305`.
    pub cipher: String,
    /// 24 random bytes (hex).
    pub nonce: String,
    /// The seed and its tag (48 bytes, hex).
    pub ciphertext: String,
}

fn derive(kdf: &Kdf, passphrase: &[u8]) -> Result<Zeroizing<[u8; 32]>> {
    if kdf.name != "argon2id" {
        bail!("unsupported key derivation {:?}", kdf.name);
    }
    if kdf.m_kib > MAX_M_KIB || kdf.t > MAX_T_COST || kdf.p == 0 || kdf.p > 16 {
        bail!(
            "key derivation parameters out of bounds (m_kib ≤ {MAX_M_KIB}, t ≤ {MAX_T_COST}, 1 ≤ p ≤ 16)"
        );
    }
    let salt = hex::decode(&kdf.salt).context("bad salt")?;
    let params = Params::new(kdf.m_kib, kdf.t, kdf.p, Some(32))
        .map_err(|e| anyhow!("bad key derivation parameters: {e}"))?;
    let mut key = Zeroizing::new([0u8; 32]);
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password_into(passphrase, &salt, key.as_mut())
        .map_err(|e| anyhow!("key derivation failed: {e}"))?;
    Ok(key)
}

/// Seals `seed`, binding `public_key` (authenticated, not secret).
pub fn seal(seed: &[u8; 32], public_key: &str, passphrase: &[u8]) -> Result<Sealed> {
    let mut salt = [0u8; 16];
    let mut nonce = [0u8; 24];
    OsRng.fill_bytes(&mut salt);
    OsRng.fill_bytes(&mut nonce);
    let kdf = Kdf {
        name: "argon2id".into(),
        m_kib: M_KIB,
        t: T_COST,
        p: P_COST,
        salt: hex::encode(salt),
    };
    let key = derive(&kdf, passphrase)?;
    let cipher = XChaCha20Poly1305::new(key.as_ref().into());
    let ciphertext = cipher
        .encrypt(
            XNonce::from_slice(&nonce),
            Payload {
                msg: seed,
                aad: public_key.as_bytes(),
            },
        )
        .map_err(|_| anyhow!("encryption failed"))?;
    Ok(Sealed {
        kdf,
        cipher: "xchacha20poly1305".into(),
        nonce: hex::encode(nonce),
        ciphertext: hex::encode(ciphertext),
    })
}

/// Opens a sealed seed; a wrong passphrase or a tampered file is an error.
pub fn open(sealed: &Sealed, public_key: &str, passphrase: &[u8]) -> Result<Zeroizing<[u8; 32]>> {
    if sealed.cipher != "xchacha20poly1305" {
        bail!("unsupported cipher {:?}", sealed.cipher);
    }
    let nonce = hex::decode(&sealed.nonce).context("bad nonce")?;
    if nonce.len() != 24 {
        bail!("bad nonce length");
    }
    let ciphertext = hex::decode(&sealed.ciphertext).context("bad ciphertext")?;
    let key = derive(&sealed.kdf, passphrase)?;
    let cipher = XChaCha20Poly1305::new(key.as_ref().into());
    let plain = Zeroizing::new(
        cipher
            .decrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: &ciphertext,
                    aad: public_key.as_bytes(),
                },
            )
            .map_err(|_| anyhow!("wrong passphrase, or the file was altered"))?,
    );
    let seed: [u8; 32] = plain
        .as_slice()
        .try_into()
        .map_err(|_| anyhow!("bad sealed seed length"))?;
    Ok(Zeroizing::new(seed))
}

/// The passphrase for `path`: from the file named by [`PASSPHRASE_FILE_ENV`], else asked on
/// the terminal (twice when `confirm`).
pub fn passphrase(path: &Path, confirm: bool) -> Result<Zeroizing<String>> {
    if let Some(file) = std::env::var_os(PASSPHRASE_FILE_ENV) {
        let text = Zeroizing::new(
            std::fs::read_to_string(&file)
                .with_context(|| format!("cannot read {PASSPHRASE_FILE_ENV} ({file:?})"))?,
        );
        let line = text.lines().next().unwrap_or("");
        return Ok(Zeroizing::new(line.to_string()));
    }
    if !std::io::IsTerminal::is_terminal(&std::io::stdin()) {
        bail!(
            "{} is encrypted: give its passphrase in a file named by {PASSPHRASE_FILE_ENV}, or run on a terminal",
            path.display()
        );
    }
    let first = Zeroizing::new(rpassword::prompt_password(format!(
        "passphrase for {}: ",
        path.display()
    ))?);
    if confirm {
        let again = Zeroizing::new(rpassword::prompt_password("again: ")?);
        if *again != *first {
            bail!("the passphrases differ");
        }
    }
    Ok(first)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seals_and_opens_only_with_its_passphrase_and_public_key() {
        let seed = [7u8; 32];
        let sealed = seal(&seed, "pk", b"correct horse").unwrap();
        assert_eq!(*open(&sealed, "pk", b"correct horse").unwrap(), seed);
        assert!(open(&sealed, "pk", b"wrong horse").is_err());
        assert!(open(&sealed, "other pk", b"correct horse").is_err());
        let mut tampered = sealed.clone();
        let mut bytes = hex::decode(&tampered.ciphertext).unwrap();
        bytes[0] ^= 1;
        tampered.ciphertext = hex::encode(bytes);
        assert!(open(&tampered, "pk", b"correct horse").is_err());
        // Two seals of one seed differ (fresh salt and nonce).
        assert_ne!(seal(&seed, "pk", b"correct horse").unwrap(), sealed);
        assert!(!sealed.ciphertext.contains(&hex::encode(seed)));
    }

    #[test]
    fn a_crafted_file_cannot_ask_for_unbounded_work() {
        let mut sealed = seal(&[1; 32], "pk", b"passphrase").unwrap();
        sealed.kdf.m_kib = u32::MAX;
        let err = open(&sealed, "pk", b"passphrase").unwrap_err().to_string();
        assert!(err.contains("out of bounds"), "{err}");
        sealed.kdf.m_kib = M_KIB;
        sealed.kdf.t = 1_000_000;
        assert!(open(&sealed, "pk", b"passphrase").is_err());
    }
}
