//! The `paychan` command: parses arguments and hands over to the library code.

mod channel;
mod config;
mod daemon;
mod demo;
mod demo_ledger;
mod eth;
mod init;
mod keystore;
mod ledger;
mod network;
mod signals;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// paychan: two-party, bidirectional, off-chain payment channels.
#[derive(Parser)]
#[command(name = "paychan", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Runs two parties and a ledger in this process: opens a channel, streams payments both
    /// ways with messages, withdraws, closes cooperatively, then closes a second channel
    /// unilaterally, and checks the final balances against the payments.
    Demo(demo::DemoArgs),
    /// Ethereum: deploys the adjudicator contract (`deploy`).
    Eth(eth::EthArgs),
    /// Serves the embedded ledger over JSON-RPC (`serve`), or funds and reads accounts on a
    /// served ledger (`faucet`, `balance`).
    Ledger(ledger::LedgerArgs),
    /// Creates a node's data directory: a new key in an encrypted keystore, a commented
    /// config.toml and the API token.
    Init(init::InitArgs),
    /// Runs the node: its channels, peer connections and JSON-RPC API, until Ctrl-C.
    Node(daemon::NodeArgs),
    /// Opens, pays, closes and shows channels through a running node's API.
    Channel(channel::ChannelArgs),
    /// Shows a running node's address, ledger, balance and peer addresses.
    Info(channel::InfoArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Demo(args) => demo::run(&args),
        Command::Eth(args) => eth::run(&args),
        Command::Ledger(args) => ledger::run(&args),
        Command::Init(args) => init::run(&args),
        Command::Node(args) => daemon::run(&args),
        Command::Channel(args) => channel::run(&args),
        Command::Info(args) => channel::info(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
