//! `paychan eth`: the Ethereum ledger from the shell.
//!
//! - `paychan eth deploy`: deploys the `PaychanAdjudicator` contract (the committed artifact)
//!   with its minimum challenge period and prints the `[ledger]` section that points a node at
//!   it. The deploying account pays the gas: by default the node key of `--data-dir` (unlocked
//!   like `paychan node` does), or a hex private key read from the environment variable named
//!   by `--private-key-env` (never from the command line, where other users could read it).
//! - `paychan eth claim`: pays the node account's deferred payouts (payouts the contract could
//!   not deliver, docs/ETHEREUM.md) to the account or to `--to`.

use std::path::PathBuf;

use anyhow::{Context, Result, anyhow, bail};
use paychan_core::{Address, B256, SigningKey};
use paychan_eth::EthLedger;
use paychan_ledger::{LedgerClose, LedgerQuery};
use serde_json::json;

use crate::output::outln;
use crate::{
    config::{Config, LedgerKind, data_dir, in_dir},
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
    /// Claims the node account's deferred payouts (payouts the contract could not deliver),
    /// paid to the account or to --to.
    Claim(ClaimArgs),
}

/// Options of `paychan eth claim`.
#[derive(clap::Args, Debug)]
struct ClaimArgs {
    /// The node's data directory: its configuration (`[ledger] kind = "ethereum"`) and key
    /// (default: ~/.paychan).
    #[arg(long, env = "PAYCHAN_DATA_DIR", value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Where to pay the claim (default: the node's own account). For an account that cannot
    /// receive the asset (a contract wallet that refuses ETH, an address a token blocks).
    #[arg(long, value_name = "ADDRESS")]
    to: Option<Address>,
    /// The token whose deferred payouts to claim (default: ETH).
    #[arg(long, value_name = "ADDRESS")]
    token: Option<Address>,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    passphrase: PassphraseArgs,
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
    /// The shortest challenge period the contract accepts, in seconds (at least the
    /// contract's floor of 3600).
    #[arg(long, value_name = "SECONDS", default_value_t = paychan_eth::CHALLENGE_PERIOD_FLOOR)]
    min_challenge_period: u64,
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
        EthCommand::Claim(c) => claim(c),
    }
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

fn claim(args: &ClaimArgs) -> Result<()> {
    let dir = data_dir(args.data_dir.as_deref());
    let config = Config::load(&dir)?;
    if config.ledger.kind != LedgerKind::Ethereum {
        bail!(
            "{} uses the embedded ledger, which never defers a payout: nothing to claim \
             (`paychan eth claim` needs [ledger] kind = \"ethereum\")",
            dir.display()
        );
    }
    let key = keystore::load(&in_dir(&dir, &config.node.key_file), &args.passphrase)?;
    let mut eth = config.ledger.eth_config(&dir)?;
    let asset = args.token.unwrap_or(Address::ZERO);
    let to = args.to.unwrap_or(key.address());
    runtime()?.block_on(async {
        // A private event index in memory, from the current block: the node's own index (in
        // the data directory) may be in use by a running node, and a claim's events are new.
        eth.index_dir = None;
        let connect = async |eth: paychan_eth::EthConfig| {
            EthLedger::connect(eth).await.map_err(|e| {
                anyhow!(
                    "cannot use the Ethereum ledger {}: {e}",
                    config.ledger.describe()
                )
            })
        };
        eth.start_block = connect(eth.clone())
            .await?
            .head()
            .await
            .map_err(|e| anyhow!("{e}"))?;
        let ledger = connect(eth).await?;
        let account = ledger.account(&key).map_err(|e| anyhow!("{e}"))?;
        let owed = account
            .unclaimed(key.address(), asset)
            .await
            .map_err(|e| anyhow!("{e}"))?;
        if owed == 0 {
            if args.json {
                let out = json!({"account": key.address().to_string(), "asset": asset.to_string(), "claimed": "0"});
                outln!("{}", serde_json::to_string_pretty(&out)?);
            } else {
                outln!("nothing to claim: the contract owes {} nothing in {}", key.address(), asset_name(asset));
            }
            return Ok(());
        }
        account
            .claim(asset, to)
            .await
            .map_err(|e| anyhow!("claiming {owed} of {} to {to} failed: {e}", asset_name(asset)))?;
        if args.json {
            let out = json!({
                "account": key.address().to_string(),
                "asset": asset.to_string(),
                "to": to.to_string(),
                "claimed": owed.to_string(),
            });
            outln!("{}", serde_json::to_string_pretty(&out)?);
        } else {
            outln!("claimed {owed} of {} owed to {}, paid to {to}", asset_name(asset), key.address());
        }
        Ok(())
    })
}

fn asset_name(asset: Address) -> String {
    if asset == Address::ZERO {
        "ETH (wei)".into()
    } else {
        format!("token {asset}")
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
    let d = runtime()?
        .block_on(paychan_eth::deploy_adjudicator(
            &args.rpc_url,
            &key,
            args.min_challenge_period,
        ))
        .map_err(|e| anyhow!("deployment from {} failed: {e}", key.address()))?;
    if args.json {
        let out = json!({
            "contract": d.address.to_string(),
            "chainId": d.chain_id,
            "block": d.block,
            "gasUsed": d.gas_used,
            "deployer": key.address().to_string(),
            "minChallengePeriod": args.min_challenge_period,
        });
        outln!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    outln!(
        "PaychanAdjudicator deployed at {} on chain {} (block {}, {} gas, paid by {}); it \
         refuses challenge periods below {} s",
        d.address,
        d.chain_id,
        d.block,
        d.gas_used,
        key.address(),
        args.min_challenge_period
    );
    outln!("\n# config.toml of every node using it:");
    outln!(
        "[ledger]\nkind = \"ethereum\"\nrpc_url = \"{}\"\ncontract = \"{}\"\nchain_id = {}\nconfirmations = 3\nstart_block = {}",
        args.rpc_url,
        d.address,
        d.chain_id,
        d.block
    );
    Ok(())
}
