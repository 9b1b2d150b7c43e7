//! `paychan relay` as a user runs it: a relay process with an access token, and two
//! `paychan node` processes neither of which listens. Alice is registered at the relay
//! through `[node] relays` (and `paychan info` shows her relay address); Bob opens a channel
//! to that address and they pay both ways, across a relay killed and started again on its
//! port. The ledger balances after the close match what both nodes say was paid.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    missing_docs
)]

mod common;

use std::{fs, path::Path, thread::sleep, time::Duration, time::Instant};

use common::{
    Process, READY_TIMEOUT, command,
    nodes::{FUNDS, Ledger, NodeDir, json, ok, paychan, text},
    port_after,
};
use serde_json::Value;

/// Starts `paychan relay` on `listen` with token `t0k`; its port, from its banner.
fn relay(root: &Path, listen: &str) -> (Process, u16) {
    let mut command = command();
    command.args(["relay", "--listen", listen, "--token", "t0k"]);
    let mut process = Process::spawn("relay", command, &root.join("relay.log"));
    let port = process.wait_for("listening", |log| {
        port_after(
            log.rsplit("===== relay starts").next()?,
            "paychan relay on ws://127.0.0.1:",
        )
    });
    (process, port)
}

/// A node that does not listen, registered at the relay on `port` when `relayed`.
fn quiet_node(root: &Path, name: &str, ledger: &Ledger, relay_port: Option<u16>) -> NodeDir {
    let node = NodeDir::init(root, name, &ledger.url());
    let path = node.dir.join("config.toml");
    let mut config = fs::read_to_string(&path)
        .unwrap()
        .replace("\nlisten_tcp = ", "\n# listen_tcp = ")
        .replace("\nlisten_ws = ", "\n# listen_ws = ");
    if let Some(port) = relay_port {
        config = config.replace(
            "\nrelays = []",
            &format!("\nrelays = [\"ws://127.0.0.1:{port}/?token=t0k\"]"),
        );
    }
    fs::write(&path, config).unwrap();
    ledger.fund(&node.address);
    node
}

/// Runs `channel ARGS` until it succeeds (the peer may not be reachable yet).
fn until_ok(node: &NodeDir, args: &[&str]) -> Value {
    let start = Instant::now();
    loop {
        let out = node.channel(args);
        if out.status.success() {
            return serde_json::from_str(&text(&out.stdout)).unwrap();
        }
        assert!(
            start.elapsed() < READY_TIMEOUT,
            "{args:?} kept failing: {} {}",
            text(&out.stdout),
            text(&out.stderr)
        );
        sleep(Duration::from_millis(100));
    }
}

#[test]
fn nodes_without_open_ports_pay_through_a_relay_process() {
    let help = ok(paychan(&["relay", "--help"]));
    for option in [
        "--listen",
        "--token",
        "--max-per-ip",
        "--max-frame-bytes",
        "--rate",
        "--idle",
    ] {
        assert!(help.contains(option), "{help}");
    }
    let root = tempfile::tempdir().unwrap();
    let ledger = Ledger::start(root.path());
    let (mut relay_process, port) = relay(root.path(), "127.0.0.1:0");
    let alice = quiet_node(root.path(), "alice", &ledger, Some(port));
    let bob = quiet_node(root.path(), "bob", &ledger, None);
    let _a = alice.run("alice");
    let _b = bob.run("bob");

    let info = json(paychan(&["info", "--data-dir", alice.dir(), "--json"]));
    let at = format!("@relay+ws://127.0.0.1:{port}/?token=t0k");
    let listen = info["listen"].as_array().unwrap();
    assert_eq!(listen.len(), 1, "{info}");
    let alice_url = listen[0].as_str().unwrap().to_owned();
    assert!(alice_url.ends_with(&at), "{alice_url}");

    let opened = until_ok(&bob, &["open", &alice_url, "1000"]);
    let id = opened["channel_id"].as_str().unwrap().to_owned();
    for n in 1..=3u64 {
        json(bob.channel(&["pay", &id, &n.to_string(), "through the relay"]));
    }
    json(alice.channel(&["deposit", &id, "100"]));
    json(alice.channel(&["pay", &id, "2", "back"]));

    // The relay dies and comes back on its port: both nodes find each other again.
    relay_process.kill();
    let (_relay_again, again) = relay(root.path(), &format!("127.0.0.1:{port}"));
    assert_eq!(again, port);
    until_ok(&bob, &["pay", &id, "4", "after the restart"]);
    until_ok(&alice, &["pay", &id, "1", "after the restart"]);

    let by_bob = json(bob.channel(&["info", &id]));
    let by_alice = json(alice.channel(&["info", &id]));
    let units = |v: &Value| v.as_str().unwrap().parse::<u64>().unwrap();
    let bob_paid = units(&by_bob["balances"]["paid_by_me"]);
    let alice_paid = units(&by_bob["balances"]["paid_by_peer"]);
    assert_eq!(units(&by_alice["balances"]["paid_by_me"]), alice_paid);
    assert_eq!(units(&by_alice["balances"]["paid_by_peer"]), bob_paid);
    assert!(bob_paid >= 10 && alice_paid >= 3, "{by_bob}");
    let closed = json(bob.channel(&["close", &id]));
    assert_eq!(closed["cooperative"], true);
    assert_eq!(ledger.balance(&bob.address), FUNDS - bob_paid + alice_paid);
    assert_eq!(
        ledger.balance(&alice.address),
        FUNDS + bob_paid - alice_paid
    );
    assert!(relay_process_log(root.path()).contains("party registered"));
}

fn relay_process_log(root: &Path) -> String {
    fs::read_to_string(root.join("relay.log")).unwrap()
}
