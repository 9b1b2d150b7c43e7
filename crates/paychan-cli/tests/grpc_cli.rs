//! The gRPC API from a non-Rust client: `examples/grpc_client.py` (Python's `grpcio`, its
//! stubs generated at run time from the committed `proto/`) opens a channel from a real
//! `paychan node` to another, pays it while watching the event stream, gets a bad amount
//! refused with INVALID_ARGUMENT and paychan code 1000, and closes cooperatively; the ledger
//! moved exactly what was paid. `scripts/test.sh` installs the Python packages
//! (`examples/requirements.txt`); without them this test fails, it never skips.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

mod common;

use std::{
    fs,
    path::Path,
    process::{Command, Stdio},
};

use common::{
    free_port, listening,
    nodes::{FUNDS, Ledger, NodeDir, json, text},
};
use serde_json::{Value, json};

/// Replaces `from` (which must be there) by `to` in the node's `config.toml`.
fn edit_config(node: &NodeDir, from: &str, to: &str) {
    let path = node.dir.join("config.toml");
    let config = fs::read_to_string(&path).unwrap();
    assert!(
        config.contains(from),
        "{from:?} is not in {}",
        path.display()
    );
    fs::write(&path, config.replacen(from, to, 1)).unwrap();
}

#[test]
fn a_python_grpc_client_opens_a_channel_and_pays() {
    let found = Command::new("python3")
        .args(["-c", "import grpc, grpc_tools"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        found,
        "this test needs python3 with grpcio and grpcio-tools: scripts/test.sh installs them \
         (pip install -r examples/requirements.txt)"
    );
    let root = tempfile::tempdir().unwrap();
    let ledger = Ledger::start(root.path());
    let alice = NodeDir::init(root.path(), "alice", &ledger.url());
    let bob = NodeDir::init(root.path(), "bob", &ledger.url());
    ledger.fund(&alice.address);
    ledger.fund(&bob.address);
    // Alice serves gRPC (the commented line of the config `paychan init` wrote); Bob answers
    // payments with his default response.
    let grpc_port = free_port();
    edit_config(
        &alice,
        "# grpc_listen = \"127.0.0.1:6337\"",
        &format!("grpc_listen = \"127.0.0.1:{grpc_port}\""),
    );
    edit_config(
        &bob,
        "# default_response = \"thanks\"",
        "default_response = \"thanks\"",
    );
    let mut a = alice.run("alice");
    a.wait_until("serving gRPC", || listening(grpc_port));
    let _b = bob.run("bob");
    assert!(
        a.log().contains(&format!("grpc     127.0.0.1:{grpc_port}")),
        "{}",
        a.log_tail()
    );

    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/grpc_client.py");
    let out = Command::new("python3")
        .arg(&script)
        .arg(format!("127.0.0.1:{grpc_port}"))
        .arg(alice.dir.join("rpc.token"))
        .arg(bob.tcp_url())
        .args(["1000", "7", r#"{"question": "weather?"}"#])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "the Python client failed: {}{}\n{}",
        text(&out.stdout),
        text(&out.stderr),
        a.log_tail()
    );
    let report: Value = serde_json::from_str(text(&out.stdout).trim()).unwrap();
    assert_eq!(
        report["address"].as_str().unwrap().to_lowercase(),
        alice.address.to_lowercase()
    );
    assert_eq!(report["opened_status"], "open");
    assert_eq!(report["response"], json!("thanks"));
    assert_eq!(report["event"]["event"], "payment_sent");
    assert_eq!(report["event"]["amount"], "7");
    assert_eq!(report["event"]["channel_id"], report["channel_id"]);
    assert_eq!(report["refusal"]["code"], "INVALID_ARGUMENT");
    assert_eq!(report["refusal"]["paychan_code"], 1000);
    assert_eq!(report["cooperative"], true);
    assert_eq!(report["closed_status"], "closed");
    assert_eq!(report["paid_by_me"], "7");

    // Bob's node saw the same channel, and the ledger moved exactly what was paid.
    let id = report["channel_id"].as_str().unwrap();
    let seen = json(bob.channel(&["info", id]));
    assert_eq!(seen["balances"]["paid_by_peer"], "7");
    assert_eq!(seen["status"], "closed");
    assert_eq!(ledger.balance(&alice.address), FUNDS - 7);
    assert_eq!(ledger.balance(&bob.address), FUNDS + 7);
}
