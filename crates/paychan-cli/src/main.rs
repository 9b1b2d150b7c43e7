//! The `paychan` command: parses arguments and hands over to the library code.

mod demo;
mod ledger;

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
    /// Serves the embedded ledger over JSON-RPC (`serve`), or funds and reads accounts on a
    /// served ledger (`faucet`, `balance`).
    Ledger(ledger::LedgerArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Demo(args) => demo::run(&args),
        Command::Ledger(args) => ledger::run(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
