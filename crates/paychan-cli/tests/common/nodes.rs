//! Nodes as a user runs them: a served ledger with a manual clock (`paychan ledger serve`),
//! data directories made by `paychan init`, `paychan node` processes, and the `paychan`
//! commands the tests run against them.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::arithmetic_side_effects
)]

use std::{
    fs,
    io::{Read, Write},
    net::TcpStream,
    path::{Path, PathBuf},
    process::Output,
};

use serde_json::{Value, json};

use super::{Process, command, free_port, listening, port_after};

pub(crate) const PASSPHRASE: &str = "correct horse battery staple";
pub(crate) const FUNDS: u64 = 1_000_000;

pub(crate) fn paychan(args: &[&str]) -> Output {
    command().args(args).output().expect("runs")
}

pub(crate) fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

pub(crate) fn ok(out: Output) -> String {
    assert!(
        out.status.success(),
        "failed: {}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

pub(crate) fn json(out: Output) -> Value {
    let stdout = ok(out);
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}"))
}

/// A served ledger with a manual clock and the faucet.
pub(crate) struct Ledger {
    _process: Process,
    port: u16,
}

impl Ledger {
    /// Starts the ledger on a port the OS picks, read from its own banner (a port probe
    /// could reach another test's server).
    pub(crate) fn start(dir: &Path) -> Ledger {
        let mut command = command();
        command
            .args([
                "ledger",
                "serve",
                "--manual-clock",
                "--listen",
                "127.0.0.1:0",
            ])
            .arg("--data-dir")
            .arg(dir.join("ledger"));
        let mut process = Process::spawn("ledger", command, &dir.join("ledger.log"));
        let port = process.wait_for("listening", |log| {
            port_after(log, "serving on http://127.0.0.1:")
        });
        Ledger {
            _process: process,
            port,
        }
    }

    pub(crate) fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub(crate) fn fund(&self, address: &str) {
        ok(paychan(&[
            "ledger",
            "faucet",
            address,
            &FUNDS.to_string(),
            "--url",
            &self.url(),
        ]));
    }

    pub(crate) fn balance(&self, address: &str) -> u64 {
        let answer = json(paychan(&[
            "ledger",
            "balance",
            address,
            "--url",
            &self.url(),
            "--json",
        ]));
        answer["balance"].as_u64().unwrap()
    }

    /// Moves the ledger's clock forward (`ledger_advanceTime`).
    pub(crate) fn advance(&self, secs: u64) {
        let body = json!({ "jsonrpc": "2.0", "id": 1, "method": "ledger_advanceTime", "params": { "secs": secs } })
            .to_string();
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        write!(
            stream,
            "POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        assert!(answer.contains("\"result\""), "{answer}");
    }
}

/// A data directory made by `paychan init`.
pub(crate) struct NodeDir {
    pub(crate) dir: PathBuf,
    pub(crate) address: String,
    pub(crate) rpc_port: u16,
    pub(crate) tcp_port: u16,
    pub(crate) ws_port: u16,
    pub(crate) passphrase: PathBuf,
}

impl NodeDir {
    pub(crate) fn init(root: &Path, name: &str, ledger_url: &str) -> NodeDir {
        let dir = root.join(name);
        let passphrase = root.join(format!("{name}.pass"));
        fs::write(&passphrase, format!("{PASSPHRASE}\n")).unwrap();
        let (rpc_port, tcp_port, ws_port) = (free_port(), free_port(), free_port());
        let report = json(
            command()
                .args(["init", "--json", "--ledger-url", ledger_url])
                .arg("--data-dir")
                .arg(&dir)
                .arg("--passphrase-file")
                .arg(&passphrase)
                .args(["--rpc-listen", &format!("127.0.0.1:{rpc_port}")])
                .args(["--listen-tcp", &format!("127.0.0.1:{tcp_port}")])
                .args(["--listen-ws", &format!("127.0.0.1:{ws_port}")])
                .output()
                .unwrap(),
        );
        let address = report["address"].as_str().unwrap().to_owned();
        NodeDir {
            dir,
            address,
            rpc_port,
            tcp_port,
            ws_port,
            passphrase,
        }
    }

    pub(crate) fn dir(&self) -> &str {
        self.dir.to_str().unwrap()
    }

    /// Starts `paychan node` and waits until its API answers.
    pub(crate) fn run(&self, name: &str) -> Process {
        let mut command = command();
        command
            .arg("node")
            .arg("--data-dir")
            .arg(&self.dir)
            .arg("--passphrase-file")
            .arg(&self.passphrase)
            .env("RUST_LOG", "info");
        let log = self.dir.parent().unwrap().join(format!("{name}.log"));
        let mut process = Process::spawn(name, command, &log);
        let port = self.rpc_port;
        process.wait_until("serving its API", || listening(port));
        process
    }

    /// `paychan channel ARGS --data-dir DIR --json`.
    pub(crate) fn channel(&self, args: &[&str]) -> Output {
        command()
            .arg("channel")
            .args(args)
            .args(["--data-dir", self.dir(), "--json"])
            .output()
            .unwrap()
    }

    /// `paychan contacts ARGS --data-dir DIR --json`.
    pub(crate) fn channel_contacts(&self, args: &[&str]) -> Output {
        command()
            .arg("contacts")
            .args(args)
            .args(["--data-dir", self.dir(), "--json"])
            .output()
            .unwrap()
    }

    pub(crate) fn tcp_url(&self) -> String {
        format!("{}@127.0.0.1:{}", self.address, self.tcp_port)
    }

    pub(crate) fn ws_url(&self) -> String {
        format!("{}@ws://127.0.0.1:{}", self.address, self.ws_port)
    }
}
