//! `paychan init`: creates a node's data directory: a new key from the operating system's
//! randomness in a V3 keystore (or, for development, in plaintext), a commented
//! `config.toml`, and the API token readable by its owner only. It never overwrites a key:
//! run it twice on the same directory and the second run refuses.

use std::{
    fs,
    net::SocketAddr,
    path::{Path, PathBuf},
};

use anyhow::{Context, Result, bail};
use serde::Serialize;

use crate::output::{errln, outln};
use crate::{
    config::{
        CONFIG_FILE, DEFAULT_LEDGER_URL, DEFAULT_PEER_TCP, DEFAULT_RPC_LISTEN, KEYSTORE_FILE,
        PLAINTEXT_KEY_FILE, TOKEN_FILE, Template, data_dir,
    },
    keystore::{self, PassphraseArgs},
};

/// Options of `paychan init`.
#[derive(clap::Args, Debug)]
pub(crate) struct InitArgs {
    /// The node's data directory (default: ~/.paychan, or ./paychan-data without a home).
    #[arg(long, env = "PAYCHAN_DATA_DIR", value_name = "DIR")]
    data_dir: Option<PathBuf>,
    #[command(flatten)]
    passphrase: PassphraseArgs,
    /// Store the key unencrypted in node.key (development only: anyone who can read the file
    /// can spend the node's funds).
    #[arg(long)]
    insecure_plaintext_key: bool,
    /// The URL of the ledger served by `paychan ledger serve`.
    #[arg(long, default_value = DEFAULT_LEDGER_URL, value_name = "URL")]
    ledger_url: String,
    /// Where the JSON-RPC API listens.
    #[arg(long, default_value = DEFAULT_RPC_LISTEN, value_name = "ADDR")]
    rpc_listen: SocketAddr,
    /// Where peers connect over TCP.
    #[arg(long, default_value = DEFAULT_PEER_TCP, value_name = "ADDR")]
    listen_tcp: SocketAddr,
    /// Where peers connect over WebSocket (default: not listening).
    #[arg(long, value_name = "ADDR")]
    listen_ws: Option<SocketAddr>,
    /// Print one JSON object instead of sentences.
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct Report {
    address: String,
    data_dir: PathBuf,
    key_file: PathBuf,
    encrypted: bool,
    config: PathBuf,
    token_file: PathBuf,
}

/// Creates `dir` (mode 0700 on Unix) unless it exists.
fn create_dir(dir: &Path) -> Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder
        .create(dir)
        .with_context(|| format!("cannot create {}", dir.display()))
}

/// Runs `paychan init`.
pub(crate) fn run(args: &InitArgs) -> Result<()> {
    let dir = data_dir(args.data_dir.as_deref());
    for existing in [KEYSTORE_FILE, PLAINTEXT_KEY_FILE] {
        let path = dir.join(existing);
        if path.exists() {
            bail!(
                "{} already holds a node key ({}): refusing to overwrite it. Choose another \
                 --data-dir (a key that is overwritten cannot claim its channels' funds).",
                dir.display(),
                path.display()
            );
        }
    }
    let url = args.ledger_url.trim();
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        bail!("--ledger-url must start with http:// or https:// (got {url:?})");
    }
    // Ask before creating anything, so a refused passphrase leaves nothing behind.
    let passphrase = if args.insecure_plaintext_key {
        None
    } else {
        Some(args.passphrase.passphrase(true)?)
    };
    let key = keystore::generate()?;
    create_dir(&dir)?;

    let (key_name, encrypted) = match &passphrase {
        Some(passphrase) => {
            let path = dir.join(KEYSTORE_FILE);
            keystore::write_encrypted(&path, &key, passphrase)?;
            (KEYSTORE_FILE, true)
        }
        None => {
            errln!(
                "warning: the key is stored UNENCRYPTED in {} (--insecure-plaintext-key): \
                 for development only",
                dir.join(PLAINTEXT_KEY_FILE).display()
            );
            keystore::write_plaintext(&dir.join(PLAINTEXT_KEY_FILE), &key)?;
            (PLAINTEXT_KEY_FILE, false)
        }
    };

    let token_file = dir.join(TOKEN_FILE);
    let token_written = if token_file.exists() {
        false
    } else {
        let token: String = keystore::random::<32>()?
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        keystore::write_private(&token_file, format!("{token}\n").as_bytes())?;
        true
    };

    let config = dir.join(CONFIG_FILE);
    let config_written = if config.exists() {
        false
    } else {
        let text = Template {
            key_file: key_name,
            listen_tcp: Some(args.listen_tcp),
            listen_ws: args.listen_ws,
            rpc_listen: args.rpc_listen,
            ledger_url: url,
        }
        .render();
        keystore::write_private(&config, text.as_bytes())?;
        true
    };

    let report = Report {
        address: key.address().to_string(),
        data_dir: dir.clone(),
        key_file: dir.join(key_name),
        encrypted,
        config: config.clone(),
        token_file: token_file.clone(),
    };
    if args.json {
        outln!("{}", serde_json::to_string(&report)?);
        return Ok(());
    }
    outln!("created a paychan node in {}", dir.display());
    outln!("  address     {}", report.address);
    outln!(
        "  key         {}{}",
        report.key_file.display(),
        if encrypted {
            " (V3 keystore)"
        } else {
            " (UNENCRYPTED)"
        }
    );
    outln!(
        "  config      {}{}",
        config.display(),
        if config_written {
            ""
        } else {
            " (kept the existing one)"
        }
    );
    outln!(
        "  rpc token   {}{}",
        token_file.display(),
        if token_written {
            ""
        } else {
            " (kept the existing one)"
        }
    );
    outln!(
        "next: fund {} on the ledger, then run `paychan node`",
        report.address
    );
    Ok(())
}
