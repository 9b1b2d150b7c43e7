//! `paychan eth deploy`: deploys the `PaychanAdjudicator` contract (the committed artifact) and
//! prints the `[ledger]` section that points a node at it.
//!
//! The deploying account pays the gas: by default the node key of `--data-dir` (unlocked like
//! `paychan node` does), or a hex private key read from the environment variable named by
//! `--private-key-env` (never from the command line, where other users could read it).

use std::path::PathBuf;

use anyhow::{Context, Result, anyhow};
use paychan_core::{B256, SigningKey};
use serde_json::json;

use crate::{
    config::{Config, data_dir, in_dir},
    keystore::{self, PassphraseArgs},
};

/// Options of `paychan eth`.
#[derive(clap::Args, Debug)]
pub(crate) struct EthArgs {
    #[command(subcommand)]
    command: EthCommand,
}

#[derive(clap::Subcommand, Debug)]
enum EthCommand {
    /// Deploys the adjudicator contract and prints the node configuration for it.
    Deploy(DeployArgs),
}

/// Options of `paychan eth deploy`.
#[derive(clap::Args, Debug)]
struct DeployArgs {
    /// The Ethereum node's JSON-RPC endpoint.
    #[arg(long, value_name = "URL")]
    rpc_url: String,
    /// The deploying account's key: the node key of this data directory (default:
    /// ~/.paychan).
    #[arg(long, env = "PAYCHAN_DATA_DIR", value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Instead of the node key, the hex private key in this environment variable.
    #[arg(long, value_name = "VAR")]
    private_key_env: Option<String>,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    passphrase: PassphraseArgs,
}

/// Runs `paychan eth`.
pub(crate) fn run(args: &EthArgs) -> Result<()> {
    match &args.command {
        EthCommand::Deploy(d) => deploy(d),
    }
}

fn deployer_key(args: &DeployArgs) -> Result<SigningKey> {
    if let Some(var) = &args.private_key_env {
        let hex =
            std::env::var(var).with_context(|| format!("environment variable {var} is not set"))?;
        let bytes: B256 = hex
            .trim()
            .parse()
            .map_err(|e| anyhow!("{var} is not a 32-byte hex key: {e}"))?;
        return Ok(SigningKey::from_bytes(bytes.0)?);
    }
    let dir = data_dir(args.data_dir.as_deref());
    let config = Config::load(&dir)?;
    keystore::load(&in_dir(&dir, &config.node.key_file), &args.passphrase)
}

fn deploy(args: &DeployArgs) -> Result<()> {
    let key = deployer_key(args)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let d = runtime
        .block_on(paychan_eth::deploy_adjudicator(&args.rpc_url, &key))
        .map_err(|e| anyhow!("deployment from {} failed: {e}", key.address()))?;
    if args.json {
        let out = json!({
            "contract": d.address.to_string(),
            "chainId": d.chain_id,
            "block": d.block,
            "gasUsed": d.gas_used,
            "deployer": key.address().to_string(),
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    println!(
        "PaychanAdjudicator deployed at {} on chain {} (block {}, {} gas, paid by {})",
        d.address,
        d.chain_id,
        d.block,
        d.gas_used,
        key.address()
    );
    println!("\n# config.toml of every node using it:");
    println!(
        "[ledger]\nkind = \"ethereum\"\nrpc_url = \"{}\"\ncontract = \"{}\"\nchain_id = {}\nconfirmations = 3\nstart_block = {}",
        args.rpc_url, d.address, d.chain_id, d.block
    );
    Ok(())
}
