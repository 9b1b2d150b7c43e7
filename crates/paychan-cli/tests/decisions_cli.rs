//! Channel proposals decided from the command line: bob's node runs with
//! `rpc.proposal_decisions = true`; alice's `paychan channel open` waits while bob lists the
//! proposal (`channel proposals`) and accepts or rejects it (`channel accept|reject`).
//! A rejected proposal leaves no channel and moves no money. On the way, `info` and
//! `channel list` as a user reads them, a mistyped JSON message, and a local error under
//! `--json`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    missing_docs
)]

mod common;

use std::{
    fs,
    process::{Child, Stdio},
    thread::sleep,
    time::{Duration, Instant},
};

use common::{
    READY_TIMEOUT, command,
    nodes::{FUNDS, Ledger, NodeDir, json, ok, text},
};

/// `paychan info --data-dir DIR --json`.
fn info(node: &NodeDir) -> std::process::Output {
    command()
        .args(["info", "--data-dir", node.dir(), "--json"])
        .output()
        .unwrap()
}
use serde_json::Value;

/// `paychan channel open PEER DEPOSIT` by `node`, running in the background.
fn open(node: &NodeDir, peer: &str, deposit: &str) -> Child {
    command()
        .args(["channel", "open", peer, deposit])
        .args(["--data-dir", node.dir(), "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits until `node` lists a proposal waiting for its decision, and returns it.
fn waiting_proposal(node: &NodeDir) -> Value {
    let start = Instant::now();
    loop {
        let listed = json(node.channel(&["proposals"]));
        if let Some(first) = listed.as_array().unwrap().first() {
            return first.clone();
        }
        assert!(start.elapsed() < READY_TIMEOUT, "no proposal arrived");
        sleep(Duration::from_millis(50));
    }
}

#[test]
fn proposals_are_accepted_and_rejected_from_the_command_line() {
    let root = tempfile::tempdir().unwrap();
    let ledger = Ledger::start(root.path());
    let alice = NodeDir::init(root.path(), "alice", &ledger.url());
    let bob = NodeDir::init(root.path(), "bob", &ledger.url());
    let config = bob.dir.join("config.toml");
    let text_config = fs::read_to_string(&config).unwrap();
    assert!(text_config.contains("\nproposal_decisions = false\n"));
    fs::write(
        &config,
        text_config.replace(
            "\nproposal_decisions = false\n",
            "\nproposal_decisions = true\n",
        ),
    )
    .unwrap();
    ledger.fund(&alice.address);
    ledger.fund(&bob.address);
    let _a = alice.run("alice");
    let _b = bob.run("bob");

    // Accepted: the proposal shows who proposes what and the time left to decide.
    let opening = open(&alice, &bob.tcp_url(), "300");
    let proposal = waiting_proposal(&bob);
    assert_eq!(
        proposal["peer"].as_str().unwrap().to_lowercase(),
        alice.address.to_lowercase()
    );
    assert_eq!(proposal["deposit"], "300");
    let id = proposal["channel_id"].as_str().unwrap().to_owned();
    let shown = ok(common::command()
        .args(["channel", "proposals", "--data-dir", bob.dir()])
        .output()
        .unwrap());
    assert!(shown.contains(&format!("proposal {id}")), "{shown}");
    assert!(shown.contains("their deposit 300"), "{shown}");
    assert!(
        shown.contains("decide before") && shown.contains("(in "),
        "{shown}"
    );
    assert_eq!(json(bob.channel(&["accept", &id]))["accepted"], true);
    let opened = opening.wait_with_output().unwrap();
    assert!(opened.status.success(), "{}", text(&opened.stderr));
    let opened: Value = serde_json::from_str(&text(&opened.stdout)).unwrap();
    assert_eq!(opened["channel_id"], id.as_str());
    assert_eq!(opened["status"], "open");
    assert_eq!(ledger.balance(&alice.address), FUNDS - 300);

    // `info` counts peers and channels; `channel list` has headers; a message that looks
    // like JSON but does not parse is sent as a string, with a warning.
    let info = json(info(&bob));
    assert_eq!(info["connected_peers"], 1);
    assert_eq!(info["channels"]["open"], 1);
    assert_eq!(info["channels"]["peer_available"], "300");
    assert_eq!(info["channels"]["my_available"], "0");
    let listed = ok(command()
        .args(["channel", "list", "--data-dir", alice.dir()])
        .output()
        .unwrap());
    assert!(listed.starts_with("CHANNEL"), "{listed}");
    assert!(listed.contains(&id), "{listed}");
    let paid = alice.channel(&["pay", &id, "1", "{\"typo\": "]);
    assert!(paid.status.success(), "{}", text(&paid.stderr));
    assert!(
        text(&paid.stderr).contains("looks like JSON but does not parse"),
        "{}",
        text(&paid.stderr)
    );
    // A local error under --json is JSON on stdout too.
    let local = command()
        .args(["channel", "list", "--json", "--rpc", "http://127.0.0.1:9"])
        .args(["--token-file", "/nonexistent/rpc.token"])
        .output()
        .unwrap();
    assert!(!local.status.success());
    let error: Value = serde_json::from_str(&text(&local.stdout)).unwrap();
    assert_eq!(error["error"]["category"], "local");
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("rpc.token"),
        "{error}"
    );

    // Rejected with a reason: alice's open fails with it; her funds stay where they were.
    let opening = open(&alice, &bob.tcp_url(), "200");
    let proposal = waiting_proposal(&bob);
    let second = proposal["channel_id"].as_str().unwrap().to_owned();
    assert_ne!(second, id);
    let rejected = json(bob.channel(&["reject", &second, "--reason", "one channel is enough"]));
    assert_eq!(rejected["rejected"], true);
    let refused = opening.wait_with_output().unwrap();
    assert!(!refused.status.success());
    assert!(
        text(&refused.stderr).contains("one channel is enough"),
        "{}",
        text(&refused.stderr)
    );
    assert_eq!(ledger.balance(&alice.address), FUNDS - 300);
    let listed = json(alice.channel(&["list"]));
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    // Deciding it again: a clear error, nothing changes.
    let again = bob.channel(&["accept", &second]);
    assert!(!again.status.success());
    let again: Value = serde_json::from_str(&text(&again.stdout)).unwrap();
    assert_eq!(again["error"]["code"], 1912);
    assert_eq!(json(bob.channel(&["proposals"])), serde_json::json!([]));
}
