//! The node key on disk: the standard Ethereum V3 keystore (scrypt + aes-128-ctr + keccak
//! MAC, through the `eth-keystore` crate, so geth, alloy and MetaMask read the same file), or,
//! only with `--insecure-plaintext-key`, the raw key in hex for development.
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

/// Writes `key` to `path` as a V3 keystore encrypted with `passphrase`, with its `address`
/// (lower-case hex, as geth writes it).
pub(crate) fn write_encrypted(path: &Path, key: &SigningKey, passphrase: &str) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let scratch = format!(".keystore-{}.tmp", hex(&random::<8>()?));
    // eth-keystore writes the file itself; it goes to a scratch name, gets its address, and
    // is written again with mode 0600.
    eth_keystore::encrypt_key(
        dir,
        &mut rand::rngs::OsRng,
        key.to_bytes(),
        passphrase,
        Some(&scratch),
    )
    .map_err(|e| anyhow!("cannot encrypt the key: {e}"))?;
    let scratch = dir.join(scratch);
    let text = fs::read_to_string(&scratch);
    let _ = fs::remove_file(&scratch);
    let mut json: serde_json::Value = serde_json::from_str(&text?)?;
    if let Some(object) = json.as_object_mut() {
        object.insert("address".into(), hex(key.address().as_slice()).into());
    }
    write_private(path, serde_json::to_string_pretty(&json)?.as_bytes())
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

    #[test]
    fn keys_round_trip_through_both_formats() {
        let dir = tempfile::tempdir().unwrap();
        let key = generate().unwrap();
        let encrypted = dir.path().join("keystore.json");
        write_encrypted(&encrypted, &key, "correct horse").unwrap();
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
        // Only the keystore is left in the directory.
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 2);
        fs::write(&passphrase, "wrong horse\n").unwrap();
        assert!(format!("{:#}", load(&encrypted, &args).unwrap_err()).contains("wrong passphrase"));
        // Never overwritten.
        assert!(write_encrypted(&encrypted, &key, "x").is_err());

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
