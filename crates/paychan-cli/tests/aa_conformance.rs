//! The aa-channels conformance test (`tests/aa-conformance`, a Node.js client written from
//! aa-channels' documentation, run with `node --test`) against two `paychan node` processes
//! on a served embedded ledger: once against their `[rpc.aa]` compatibility listeners, once
//! against their native APIs (the aa-channels names as aliases, for the calls that exist
//! there). Fails if `node --test` fails. Needs Node.js and `npm ci` in tests/aa-conformance
//! (scripts/test.sh runs it).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

mod common;

use std::{
    fs::{self, OpenOptions},
    io::Write,
    path::{Path, PathBuf},
    process::Command,
};

use common::{
    Process, free_port, listening,
    nodes::{Ledger, NodeDir, text},
};

fn suite() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/aa-conformance")
}

/// A node with its aa-channels listener on a free port.
struct AaNode {
    dir: NodeDir,
    aa_port: u16,
    _process: Process,
}

impl AaNode {
    fn start(root: &Path, name: &str, ledger: &Ledger) -> AaNode {
        let dir = NodeDir::init(root, name, &ledger.url());
        ledger.fund(&dir.address);
        let aa_port = free_port();
        let mut config = OpenOptions::new()
            .append(true)
            .open(dir.dir.join("config.toml"))
            .unwrap();
        writeln!(config, "\n[rpc.aa]\nlisten = \"127.0.0.1:{aa_port}\"").unwrap();
        let mut process = dir.run(name);
        process.wait_until("serving the aa-channels listener", || listening(aa_port));
        AaNode {
            dir,
            aa_port,
            _process: process,
        }
    }

    fn token(&self) -> String {
        fs::read_to_string(self.dir.dir.join("rpc.token"))
            .unwrap()
            .trim()
            .to_owned()
    }
}

fn run_suite(mode: &str, a: &AaNode, b: &AaNode, ports: (u16, u16)) {
    let out = Command::new("node")
        .arg("--test")
        .arg("--test-reporter=spec")
        .current_dir(suite())
        .env("AA_MODE", mode)
        .env("AA_URL_A", format!("ws://127.0.0.1:{}", ports.0))
        .env("AA_URL_B", format!("ws://127.0.0.1:{}", ports.1))
        .env("AA_TOKEN_A", a.token())
        .env("AA_TOKEN_B", b.token())
        .env("AA_PEER_B", b.dir.tcp_url())
        .env("AA_ADDRESS_A", &a.dir.address)
        .output()
        .expect("runs node (install Node.js >= 20)");
    let report = format!("{}\n{}", text(&out.stdout), text(&out.stderr));
    assert!(
        out.status.success(),
        "node --test failed against the {mode} API:\n{report}"
    );
    assert!(report.contains("fail 0"), "{report}");
}

#[test]
fn an_aa_channels_application_works_against_paychan_nodes() {
    assert!(
        suite().join("node_modules/ws/package.json").exists(),
        "run `npm ci` in tests/aa-conformance first (scripts/test.sh does)"
    );
    let root = tempfile::tempdir().unwrap();
    let ledger = Ledger::start(root.path());
    let a = AaNode::start(root.path(), "alice", &ledger);
    let b = AaNode::start(root.path(), "bob", &ledger);

    run_suite("aa", &a, &b, (a.aa_port, b.aa_port));
    run_suite("native", &a, &b, (a.dir.rpc_port, b.dir.rpc_port));
}
