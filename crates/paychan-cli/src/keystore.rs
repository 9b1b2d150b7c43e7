//! The node key on disk: the standard Ethereum V3 keystore (scrypt + aes-128-ctr + keccak
//! MAC, so geth, alloy and MetaMask read the same file), or, only with
//! `--insecure-plaintext-key`, the raw key in hex for development. New keystores use geth's
//! standard scrypt parameters (n = 2^18, r = 8, p = 1); reading (through the `eth-keystore`
//! crate) uses the parameters the file states, so older files (n = 8192) still open.
//!
//! The passphrase comes from `--passphrase-file` (its first line), else the
//! `PAYCHAN_PASSPHRASE` environment variable, else a prompt on the terminal. Key files are
//! created with mode 0600 and never overwritten.

use std::{
    fs,
    io::{IsTerminal, Write},
    path::{Path, PathBuf},
};

use anyhow::{Context, Result, anyhow, bail};
use paychan_core::SigningKey;

/// The environment variable holding the passphrase.
pub(crate) const PASSPHRASE_ENV: &str = "PAYCHAN_PASSPHRASE";

/// Where the passphrase comes from.
#[derive(clap::Args, Debug, Clone, Default)]
pub(crate) struct PassphraseArgs {
    /// Read the keystore passphrase from this file (its first line). Otherwise it comes from
    /// the PAYCHAN_PASSPHRASE environment variable, or a prompt.
    #[arg(long, value_name = "FILE")]
    pub(crate) passphrase_file: Option<PathBuf>,
}

impl PassphraseArgs {
    /// The passphrase; `confirm` asks twice when prompting (for a new keystore).
    pub(crate) fn passphrase(&self, confirm: bool) -> Result<String> {
        let passphrase = if let Some(path) = &self.passphrase_file {
            let text = fs::read_to_string(path)
                .with_context(|| format!("cannot read the passphrase file {}", path.display()))?;
            text.lines().next().unwrap_or_default().to_owned()
        } else if let Ok(value) = std::env::var(PASSPHRASE_ENV) {
            value
        } else if std::io::stdin().is_terminal() {
            let first = rpassword::prompt_password("Keystore passphrase: ")
                .context("cannot read the passphrase")?;
            if confirm {
                let second = rpassword::prompt_password("Repeat the passphrase: ")
                    .context("cannot read the passphrase")?;
                if first != second {
                    bail!("the passphrases differ");
                }
            }
            first
        } else {
            bail!(
                "no passphrase: use --passphrase-file FILE, set {PASSPHRASE_ENV}, or run in a terminal"
            );
        };
        if passphrase.is_empty() {
            bail!(
                "the passphrase is empty (use --insecure-plaintext-key for an unencrypted development key)"
            );
        }
        Ok(passphrase)
    }
}

/// A new key from the operating system's random source.
pub(crate) fn generate() -> Result<SigningKey> {
    let mut entropy = [0u8; 64];
    getrandom::fill(&mut entropy).map_err(|e| anyhow!("no randomness from the OS: {e}"))?;
    Ok(SigningKey::from_entropy(&entropy)?)
}

/// Random bytes from the operating system.
pub(crate) fn random<const N: usize>() -> Result<[u8; N]> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).map_err(|e| anyhow!("no randomness from the OS: {e}"))?;
    Ok(bytes)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Creates `path` with mode 0600 (on Unix) and writes `contents`; fails if it exists.
pub(crate) fn write_private(path: &Path, contents: &[u8]) -> Result<()> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(contents)
        .with_context(|| format!("cannot write {}", path.display()))?;
    file.sync_all()
        .with_context(|| format!("cannot sync {}", path.display()))?;
    Ok(())
}

/// The scrypt parameters of a keystore (`crypto.kdfparams`): cost `2^log_n`, block size `r`,
/// parallelism `p`. Reading a keystore uses the parameters written in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ScryptParams {
    pub(crate) log_n: u8,
    pub(crate) r: u32,
    pub(crate) p: u32,
}

impl ScryptParams {
    /// geth's "standard" parameters (`StandardScryptN` = 2^18, r = 8, p = 1): about a second
    /// and 256 MiB per unlock. `paychan init` always writes these.
    pub(crate) const STANDARD: ScryptParams = ScryptParams {
        log_n: 18,
        r: 8,
        p: 1,
    };
}

/// Writes `key` to `path` as a V3 keystore encrypted with `passphrase` under the
/// [standard](ScryptParams::STANDARD) scrypt parameters, with its `address` (lower-case hex,
/// as geth writes it).
pub(crate) fn write_encrypted(path: &Path, key: &SigningKey, passphrase: &str) -> Result<()> {
    write_encrypted_with(path, key, passphrase, ScryptParams::STANDARD)
}

/// [`write_encrypted`] under the scrypt parameters `kdf` (tests use a cheaper cost; the
/// commands always use the standard one).
pub(crate) fn write_encrypted_with(
    path: &Path,
    key: &SigningKey,
    passphrase: &str,
    kdf: ScryptParams,
) -> Result<()> {
    let json = encrypt(key, passphrase, kdf)?;
    write_private(path, serde_json::to_string_pretty(&json)?.as_bytes())
}

/// The V3 keystore of `key`: scrypt derives 32 bytes from the passphrase and a random salt;
/// the first 16 are the aes-128-ctr key of the secret, the last 16 are hashed with the
/// ciphertext into the MAC (keccak256), which reading checks before decrypting.
fn encrypt(key: &SigningKey, passphrase: &str, kdf: ScryptParams) -> Result<serde_json::Value> {
    use ctr::cipher::{KeyIvInit, StreamCipher};
    use sha3::Digest;

    let salt = random::<32>()?;
    let iv = random::<16>()?;
    let params = scrypt::Params::new(kdf.log_n, kdf.r, kdf.p)
        .map_err(|e| anyhow!("bad scrypt parameters {kdf:?}: {e}"))?;
    let mut derived = [0u8; 32];
    scrypt::scrypt(passphrase.as_bytes(), &salt, &params, &mut derived)
        .map_err(|e| anyhow!("scrypt failed: {e}"))?;
    let (cipher_key, mac_key) = derived.split_at(16);
    let mut ciphertext = key.to_bytes();
    ctr::Ctr128BE::<aes::Aes128>::new(cipher_key.into(), (&iv).into())
        .apply_keystream(&mut ciphertext);
    let mac = sha3::Keccak256::new()
        .chain_update(mac_key)
        .chain_update(ciphertext)
        .finalize();
    let n = 1u64.checked_shl(kdf.log_n.into()).unwrap_or(u64::MAX);
    Ok(serde_json::json!({
        "address": hex(key.address().as_slice()),
        "crypto": {
            "cipher": "aes-128-ctr",
            "cipherparams": { "iv": hex(&iv) },
            "ciphertext": hex(&ciphertext),
            "kdf": "scrypt",
            "kdfparams": { "dklen": 32, "n": n, "p": kdf.p, "r": kdf.r, "salt": hex(&salt) },
            "mac": hex(&mac),
        },
        "id": uuid_v4(random::<16>()?),
        "version": 3,
    }))
}

/// A random (version 4) UUID made of `bytes`, in its usual text form.
fn uuid_v4(mut bytes: [u8; 16]) -> String {
    if let Some(version) = bytes.get_mut(6) {
        *version = (*version & 0x0f) | 0x40;
    }
    if let Some(variant) = bytes.get_mut(8) {
        *variant = (*variant & 0x3f) | 0x80;
    }
    let text = hex(&bytes);
    let part = |range: std::ops::Range<usize>| text.get(range).unwrap_or_default();
    format!(
        "{}-{}-{}-{}-{}",
        part(0..8),
        part(8..12),
        part(12..16),
        part(16..20),
        part(20..32)
    )
}

/// Writes `key` to `path` in hex, unencrypted.
pub(crate) fn write_plaintext(path: &Path, key: &SigningKey) -> Result<()> {
    write_private(path, format!("0x{}\n", hex(&key.to_bytes())).as_bytes())
}

/// Loads the key at `path`: a V3 keystore (asking for the passphrase) or a plaintext hex key.
pub(crate) fn load(path: &Path, passphrase: &PassphraseArgs) -> Result<SigningKey> {
    let text = fs::read_to_string(path)
        .with_context(|| format!("cannot read the key file {}", path.display()))?;
    warn_if_readable(path);
    if text.trim_start().starts_with('{') {
        let json: serde_json::Value = serde_json::from_str(&text)
            .with_context(|| format!("{} is not a keystore", path.display()))?;
        let secret = passphrase.passphrase(false)?;
        let bytes = eth_keystore::decrypt_key(path, secret).map_err(|e| match e {
            eth_keystore::KeystoreError::MacMismatch => {
                anyhow!("wrong passphrase for {}", path.display())
            }
            other => anyhow!("cannot decrypt {}: {other}", path.display()),
        })?;
        let bytes: [u8; 32] = bytes
            .try_into()
            .map_err(|_| anyhow!("{} does not hold a 32-byte key", path.display()))?;
        let key = SigningKey::from_bytes(bytes)?;
        if let Some(address) = json.get("address").and_then(|a| a.as_str()) {
            let stated = address.trim_start_matches("0x").to_ascii_lowercase();
            if stated != hex(key.address().as_slice()) {
                bail!(
                    "{}: the key does not belong to the address it states ({address})",
                    path.display()
                );
            }
        }
        Ok(key)
    } else {
        tracing::warn!(path = %path.display(), "the node key is stored unencrypted (development only)");
        let digits = text.trim().trim_start_matches("0x");
        if digits.len() != 64 || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
            bail!(
                "{} is neither a keystore nor a 64-digit hex key",
                path.display()
            );
        }
        let mut bytes = [0u8; 32];
        for (i, byte) in bytes.iter_mut().enumerate() {
            let pair = digits
                .get(i.saturating_mul(2)..i.saturating_mul(2).saturating_add(2))
                .unwrap_or("00");
            *byte = u8::from_str_radix(pair, 16)?;
        }
        Ok(SigningKey::from_bytes(bytes)?)
    }
}

/// Logs a warning if others than the owner may read `path`.
pub(crate) fn warn_if_readable(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = fs::metadata(path)
            && meta.permissions().mode() & 0o077 != 0
        {
            tracing::warn!(
                path = %path.display(),
                mode = format!("{:o}", meta.permissions().mode() & 0o777),
                "readable by others than its owner: chmod 600 it"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use super::*;

    /// A cheap scrypt cost, so that tests do not spend seconds per keystore.
    const LIGHT: ScryptParams = ScryptParams {
        log_n: 10,
        r: 8,
        p: 1,
    };

    fn passphrase_file(dir: &Path, passphrase: &str) -> PassphraseArgs {
        let path = dir.join("pass");
        fs::write(&path, format!("{passphrase}\n")).unwrap();
        PassphraseArgs {
            passphrase_file: Some(path),
        }
    }

    /// Issue 17, defect 5: `paychan init` writes geth's standard parameters.
    #[test]
    fn a_new_keystore_uses_the_standard_scrypt_parameters() {
        let dir = tempfile::tempdir().unwrap();
        let key = generate().unwrap();
        let path = dir.path().join("keystore.json");
        write_encrypted(&path, &key, "correct horse").unwrap();
        let json: serde_json::Value =
            serde_json::from_str(&fs::read_to_string(&path).unwrap()).unwrap();
        let kdf = &json["crypto"]["kdfparams"];
        assert_eq!(
            (&kdf["n"], &kdf["r"], &kdf["p"], &kdf["dklen"]),
            (
                &serde_json::json!(262_144),
                &serde_json::json!(8),
                &serde_json::json!(1),
                &serde_json::json!(32)
            ),
            "{json}"
        );
        assert_eq!(json["crypto"]["salt"], serde_json::Value::Null);
        assert_eq!(kdf["salt"].as_str().unwrap().len(), 64);
        assert_eq!(json["id"].as_str().unwrap().len(), 36);
        let args = passphrase_file(dir.path(), "correct horse");
        assert_eq!(load(&path, &args).unwrap().address(), key.address());
    }

    /// Keystores written before (by `eth-keystore`, n = 8192) still open.
    #[test]
    fn a_keystore_with_n_8192_still_opens() {
        let dir = tempfile::tempdir().unwrap();
        let key = generate().unwrap();
        eth_keystore::encrypt_key(
            dir.path(),
            &mut rand::rngs::OsRng,
            key.to_bytes(),
            "correct horse",
            Some("old.json"),
        )
        .unwrap();
        let path = dir.path().join("old.json");
        let json: serde_json::Value =
            serde_json::from_str(&fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(json["crypto"]["kdfparams"]["n"], 8192);
        let args = passphrase_file(dir.path(), "correct horse");
        assert_eq!(load(&path, &args).unwrap().address(), key.address());
    }

    #[test]
    fn keys_round_trip_through_both_formats() {
        let dir = tempfile::tempdir().unwrap();
        let key = generate().unwrap();
        let encrypted = dir.path().join("keystore.json");
        write_encrypted_with(&encrypted, &key, "correct horse", LIGHT).unwrap();
        let passphrase = dir.path().join("pass");
        fs::write(&passphrase, "correct horse\n").unwrap();
        let args = PassphraseArgs {
            passphrase_file: Some(passphrase.clone()),
        };
        assert_eq!(load(&encrypted, &args).unwrap().address(), key.address());
        let json: serde_json::Value =
            serde_json::from_str(&fs::read_to_string(&encrypted).unwrap()).unwrap();
        assert_eq!(json["version"], 3);
        assert_eq!(json["crypto"]["kdf"], "scrypt");
        assert_eq!(json["crypto"]["cipher"], "aes-128-ctr");
        assert_eq!(json["address"], hex(key.address().as_slice()));
        fs::write(&passphrase, "wrong horse\n").unwrap();
        assert!(format!("{:#}", load(&encrypted, &args).unwrap_err()).contains("wrong passphrase"));
        // Never overwritten.
        assert!(write_encrypted_with(&encrypted, &key, "x", LIGHT).is_err());

        let plain = dir.path().join("node.key");
        write_plaintext(&plain, &key).unwrap();
        assert_eq!(
            load(&plain, &PassphraseArgs::default()).unwrap().address(),
            key.address()
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            for path in [&encrypted, &plain] {
                assert_eq!(
                    fs::metadata(path).unwrap().permissions().mode() & 0o777,
                    0o600
                );
            }
        }
    }
}
