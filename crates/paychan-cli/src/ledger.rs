//! `paychan ledger`: serves the embedded ledger over JSON-RPC so that separate node processes
//! share one ledger, and talks to a served ledger from the shell (the development faucet and
//! balances).
//!
//! - `paychan ledger serve`: opens (or creates) the ledger's journal in `--data-dir`, serves
//!   it on `--listen` (HTTP and WebSocket on the same port) until Ctrl-C or SIGTERM; with
//!   `--metrics-listen`, also its metrics, liveness and readiness ([`crate::ops`]).
//! - `paychan ledger faucet ADDRESS AMOUNT`: creates funds for an address.
//! - `paychan ledger balance ADDRESS`: prints an address's balance.
//!
//! The client commands print a line for humans, or one JSON object with `--json`.

use std::{net::SocketAddr, path::PathBuf, str::FromStr, sync::Arc};

use crate::logging::{self, LogArgs};
use crate::ops::{self, LedgerSource, MetricsArgs};
use crate::output::outln;
use anyhow::{Context, Result, anyhow, bail};
use paychan_core::{Address, Amount};
use paychan_ledger::{
    Clock, EmbeddedLedger, LedgerError, LedgerQuery,
    embedded::token,
    rpc::{RpcReader, ServeOptions, serve},
};
use serde::Serialize;

/// The default address of `paychan ledger serve`, and of the client commands' `--url`.
const DEFAULT_LISTEN: &str = "127.0.0.1:6334";
const DEFAULT_URL: &str = "http://127.0.0.1:6334";

/// Options of `paychan ledger`.
#[derive(clap::Args, Debug)]
pub(crate) struct LedgerArgs {
    #[command(subcommand)]
    command: LedgerCommand,
}

#[derive(clap::Subcommand, Debug)]
enum LedgerCommand {
    /// Serves the embedded ledger over JSON-RPC (HTTP and WebSocket on one port) until Ctrl-C
    /// or SIGTERM. Every confirmed operation is in the journal of --data-dir before it is
    /// answered, so the ledger survives a crash and restarts where it stopped.
    Serve(ServeArgs),
    /// Creates AMOUNT of the asset for ADDRESS on a served development ledger.
    Faucet(FaucetArgs),
    /// Prints the balance of ADDRESS on a served ledger.
    Balance(BalanceArgs),
}

#[derive(clap::Args, Debug)]
struct ServeArgs {
    /// Address and port to listen on (port 0 picks a free one).
    #[arg(long, default_value = DEFAULT_LISTEN)]
    listen: SocketAddr,
    /// Directory of the ledger's journal; created if missing. One process at a time.
    #[arg(long, default_value = "./paychan-ledger")]
    data_dir: PathBuf,
    /// Flush every operation to the disk before confirming it (survives power loss; slower).
    /// Without it a confirmed operation survives a crash of this process.
    #[arg(long)]
    sync: bool,
    /// Run on a manual clock, starting at the current time, that anyone may move forward with
    /// `ledger_advanceTime` (tests and demos: lets challenge periods pass at once).
    #[arg(long)]
    manual_clock: bool,
    /// Refuse `ledger_faucet`: funds can then not be created.
    #[arg(long)]
    no_faucet: bool,
    #[command(flatten)]
    metrics: MetricsArgs,
    #[command(flatten)]
    log: LogArgs,
}

/// What the client commands share.
#[derive(clap::Args, Debug)]
struct ClientArgs {
    /// The served ledger's URL.
    #[arg(long, default_value = DEFAULT_URL)]
    url: String,
    /// The embedded token called NAME instead of the native asset.
    #[arg(long, value_name = "NAME")]
    token: Option<String>,
    /// Print one JSON object instead of a sentence.
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args, Debug)]
struct FaucetArgs {
    /// The address to fund (0x and 40 hex digits).
    #[arg(value_parser = parse_address)]
    address: Address,
    /// How much, in the asset's smallest unit (a whole number; `_` separators allowed).
    #[arg(value_parser = parse_amount)]
    amount: Amount,
    #[command(flatten)]
    client: ClientArgs,
}

#[derive(clap::Args, Debug)]
struct BalanceArgs {
    /// The address (0x and 40 hex digits).
    #[arg(value_parser = parse_address)]
    address: Address,
    #[command(flatten)]
    client: ClientArgs,
}

fn parse_address(s: &str) -> Result<Address, String> {
    Address::from_str(s.trim())
        .map_err(|_| format!("{s:?} is not an address: expected 0x followed by 40 hex digits"))
}

fn parse_amount(s: &str) -> Result<Amount, String> {
    let digits: String = s.trim().chars().filter(|c| *c != '_').collect();
    if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) {
        return Err(format!(
            "{s:?} is not an amount: expected a whole number of the asset's smallest unit"
        ));
    }
    let amount = digits
        .parse::<Amount>()
        .map_err(|_| format!("{s:?} is too large: the most is {}", Amount::MAX))?;
    if amount == 0 {
        return Err("the amount must be positive".into());
    }
    Ok(amount)
}

/// Runs `paychan ledger ...` on a tokio runtime of its own.
pub(crate) fn run(args: &LedgerArgs) -> Result<()> {
    match &args.command {
        LedgerCommand::Serve(serve) => logging::init("info", &serve.log, None, None)?,
        LedgerCommand::Faucet(_) | LedgerCommand::Balance(_) => {
            logging::init("warn", &LogArgs::default(), None, None)?;
        }
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        match &args.command {
            LedgerCommand::Serve(args) => run_serve(args).await,
            LedgerCommand::Faucet(args) => run_faucet(args).await,
            LedgerCommand::Balance(args) => run_balance(args).await,
        }
    })
}

/// The message of a ledger error, without the variant's prefix.
fn reason(e: &LedgerError) -> String {
    match e {
        LedgerError::Rejected(rule) => format!("{rule} ({})", rule.name()),
        LedgerError::Unauthorized(why)
        | LedgerError::Invalid(why)
        | LedgerError::Disabled(why)
        | LedgerError::Chain(why)
        | LedgerError::Unavailable(why) => why.clone(),
        other => other.to_string(),
    }
}

async fn run_serve(args: &ServeArgs) -> Result<()> {
    let clock = if args.manual_clock {
        Clock::manual(Clock::System.now())
    } else {
        Clock::System
    };
    let dir = args.data_dir.clone();
    let sync = args.sync;
    let ledger = tokio::task::spawn_blocking(move || EmbeddedLedger::open(&dir, clock, sync))
        .await
        .context("opening the ledger failed")?
        .map_err(|e| {
            anyhow!(
                "cannot open the ledger in {}: {}",
                args.data_dir.display(),
                reason(&e)
            )
        })?;
    let domain = ledger.domain();
    let options = ServeOptions {
        faucet: !args.no_faucet,
        manual_clock: args.manual_clock,
    };
    let server = serve(ledger.clone(), args.listen, options)
        .await
        .map_err(|e| anyhow!("{}", reason(&e)))?;
    let addr = server.local_addr();
    let source = LedgerSource {
        ledger: ledger.clone(),
        listen: addr,
    };
    let endpoints = ops::start(args.metrics.metrics_listen, Arc::new(source)).await?;
    let signals = crate::signals::Signals::install()?;
    outln!(
        "paychan ledger serving on {} (WebSocket {})",
        server.url(),
        server.ws_url()
    );
    outln!("  chain id     {}", domain.chain_id());
    outln!("  adjudicator  {}", domain.verifying_contract());
    outln!(
        "  data dir     {}{}",
        args.data_dir.display(),
        if args.sync { " (synced writes)" } else { "" }
    );
    outln!(
        "  faucet       {}",
        if options.faucet { "on" } else { "off" }
    );
    if let Some(endpoints) = &endpoints {
        outln!("  metrics      http://{}/metrics", endpoints.addr());
    }
    outln!(
        "  clock        {}",
        if args.manual_clock {
            "manual (ledger_advanceTime)"
        } else {
            "system"
        }
    );
    tracing::info!(
        %addr,
        chain_id = domain.chain_id(),
        adjudicator = %domain.verifying_contract(),
        data_dir = %args.data_dir.display(),
        "ledger ready"
    );
    let signal = signals.wait().await?;
    tracing::info!(signal, "stopping");
    drop(endpoints);
    server.stop();
    server.stopped().await;
    tracing::info!("stopped");
    Ok(())
}

/// Connects to the ledger at `url`, with an error that says what to check.
async fn connect(url: &str) -> Result<RpcReader> {
    RpcReader::connect(url).await.map_err(|e| match e {
        LedgerError::Unavailable(why) => anyhow!(
            "cannot reach the ledger at {url}: {why}\n(is `paychan ledger serve` running there? see --url)"
        ),
        other => anyhow!("bad --url {url:?}: {}", reason(&other)),
    })
}

/// The asset of `--token`, and its name for output.
fn asset(client: &ClientArgs) -> Result<(Address, String)> {
    match &client.token {
        None => Ok((Address::ZERO, "native".to_owned())),
        Some(name) if name.trim().is_empty() => bail!("--token needs a name"),
        Some(name) => Ok((token(name), name.clone())),
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct BalanceReport<'a> {
    address: Address,
    token: &'a str,
    asset: Address,
    #[serde(skip_serializing_if = "Option::is_none")]
    funded: Option<Amount>,
    balance: Amount,
}

fn print_report(report: &BalanceReport<'_>, json: bool) -> Result<()> {
    if json {
        outln!("{}", serde_json::to_string(report)?);
        return Ok(());
    }
    match report.funded {
        Some(amount) => outln!(
            "funded {} with {amount} {}; balance now {} {}",
            report.address,
            report.token,
            report.balance,
            report.token
        ),
        None => outln!(
            "{} holds {} {}",
            report.address,
            report.balance,
            report.token
        ),
    }
    Ok(())
}

async fn run_faucet(args: &FaucetArgs) -> Result<()> {
    let (asset, name) = asset(&args.client)?;
    let reader = connect(&args.client.url).await?;
    let balance = reader
        .faucet(args.address, asset, args.amount)
        .await
        .map_err(|e| match e {
            LedgerError::Unavailable(why) => anyhow!("the ledger did not answer: {why}"),
            other => anyhow!("the ledger refused: {}", reason(&other)),
        })?;
    print_report(
        &BalanceReport {
            address: args.address,
            token: &name,
            asset,
            funded: Some(args.amount),
            balance,
        },
        args.client.json,
    )
}

async fn run_balance(args: &BalanceArgs) -> Result<()> {
    let (asset, name) = asset(&args.client)?;
    let reader = connect(&args.client.url).await?;
    let balance = reader
        .balance(args.address, asset)
        .await
        .map_err(|e| anyhow!("cannot read the balance: {}", reason(&e)))?;
    print_report(
        &BalanceReport {
            address: args.address,
            token: &name,
            asset,
            funded: None,
            balance,
        },
        args.client.json,
    )
}
