//! The `paychan` command: parses arguments and hands over to the library code.

mod background;
mod backup;
mod bench;
mod certify;
mod channel;
mod config;
mod contacts;
mod contacts_file;
mod daemon;
mod demo;
mod demo_ledger;
mod dirlock;
mod eth;
mod front;
mod info;
mod init;
mod keystore;
mod ledger;
mod logging;
mod network;
mod ops;
mod output;
mod package;
mod pair;
mod proposals;
mod proxy;
mod proxy_config;
mod relay;
mod signals;
mod tokens;
mod when;

use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

/// The version and the commit it was built from (`build.rs`).
const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (", env!("PAYCHAN_COMMIT"), ")");

/// paychan: two-party, bidirectional, off-chain payment channels.
#[derive(Parser)]
#[command(name = "paychan", version = VERSION, about, long_about = None)]
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
    /// Measures sequential and pipelined payments, latency, memory per idle channel and
    /// restart time on loopback, against this machine's limits (sign + recover, fsync,
    /// round trip), in one run.
    Bench(bench::BenchArgs),
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
    /// Backs up the node's store to a new file, consistently while the node runs (SQLite's
    /// online backup).
    Backup(backup::BackupArgs),
    /// Restores the node's store from a backup (the node must be stopped); the counter sync
    /// with each peer then brings back the payments made since the backup.
    Restore(backup::RestoreArgs),
    /// Opens, pays, closes and shows channels through a running node's API.
    Channel(channel::ChannelArgs),
    /// Shows a running node's address, ledger, balance and peer addresses.
    Info(channel::InfoArgs),
    /// Saves, lists and removes contacts (aliases for peers) of a running node.
    Contacts(contacts::ContactsArgs),
    /// Creates, lists and revokes scoped API tokens (read, verify, pay with a limit) of a
    /// running node.
    Token(tokens::TokenArgs),
    /// Creates and verifies payment packages (payments carried outside the peer connection).
    Package(package::PackageArgs),
    /// Runs a reverse proxy that charges per call for an upstream HTTP service, paid by
    /// payment packages verified by a running node.
    Proxy(proxy::ProxyArgs),
    /// Runs a blind WebSocket relay where nodes and browser pages without an open port
    /// register under their address; peers reach them as ADDRESS@relay+wss://HOST/PATH, and
    /// the relay forwards their encrypted messages without reading them.
    Relay(relay::RelayArgs),
    /// Runs a stateless payee for high availability: the proxy's paywall verifying packages
    /// against a store any number of fronts share (PostgreSQL, MariaDB), holding no key.
    Front(front::FrontArgs),
    /// Certifies a front's own key for the payee of this data directory, so its fronts sign
    /// receipts (`paychan front --receipt-key --certificate`) with keys that hold no funds.
    CertifyFront(certify::CertifyArgs),
    /// Runs the payee's node for high availability: the key and the ledger work on the store
    /// the fronts share, one active at a time through a lease; the others stand by.
    Background(background::BackgroundArgs),
    /// Prints the shell completion script for SHELL (bash, zsh, fish, elvish, powershell):
    /// `paychan completions bash > ~/.local/share/bash-completion/completions/paychan`.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Demo(args) => demo::run(&args),
        Command::Bench(args) => bench::run(&args),
        Command::Eth(args) => eth::run(&args),
        Command::Ledger(args) => ledger::run(&args),
        Command::Init(args) => init::run(&args),
        Command::Node(args) => daemon::run(&args),
        Command::Backup(args) => backup::backup(&args),
        Command::Restore(args) => backup::restore(&args),
        Command::Channel(args) => channel::run(&args),
        Command::Info(args) => info::run(&args),
        Command::Contacts(args) => contacts::run(&args),
        Command::Token(args) => tokens::run(&args),
        Command::Package(args) => package::run(&args),
        Command::Proxy(args) => proxy::run(&args),
        Command::Relay(args) => relay::run(&args),
        Command::Front(args) => front::run(&args),
        Command::CertifyFront(args) => certify::run(&args),
        Command::Background(args) => background::run(&args),
        Command::Completions { shell } => {
            let mut out = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "paychan", &mut out);
            output::out!("{}", String::from_utf8_lossy(&out));
            Ok(())
        }
    };
    // Written to stdout before anything goes wrong: nothing left to print after `result`.
    let unwritten = output::finish();
    // A closed stderr is no reason to panic either: the exit status still tells.
    match (result, unwritten) {
        (Ok(()), None) => ExitCode::SUCCESS,
        (Ok(()), Some(why)) => {
            output::errln!(
                "error: the command completed, but its output could not be written: {why}"
            );
            ExitCode::FAILURE
        }
        (Err(e), _) => {
            output::errln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
