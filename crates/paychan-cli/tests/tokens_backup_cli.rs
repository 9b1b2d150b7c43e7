//! Scoped tokens and backups as an operator uses them (issue 17): `paychan proxy` verifying
//! through a verify-only token that cannot spend; a pay token's limit across a restart of
//! `paychan node`; and a node restored from an older backup that recovers, through the counter
//! sync with its peer, every payment made since, so that closing pays each side exactly what
//! it is owed. Child processes on free ports and temporary directories, around a `paychan
//! ledger serve` child with a manual clock.

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
    path::{Path, PathBuf},
    process::Output,
    sync::{Arc, Mutex, MutexGuard},
    thread::sleep,
    time::{Duration, Instant},
};

use common::{
    Process, READY_TIMEOUT, command,
    nodes::{FUNDS, Ledger, NodeDir, json, ok, text},
    paid::{banner_url, payer},
};
use paychan_http::{ClientConfig, PayingClient};
use serde_json::Value;

/// One test at a time: the harness picks free ports before the nodes bind them.
fn serial() -> MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::new(());
    SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// `paychan token create ARGS` on `node`'s data directory; writes the token to `file`.
fn create_token(node: &NodeDir, args: &[&str], file: &Path) -> PathBuf {
    let out = command()
        .args(["token", "create"])
        .args(args)
        .args(["--data-dir", node.dir()])
        .output()
        .unwrap();
    let token = ok(out);
    let token = token.trim();
    assert!(
        token.starts_with("pct1.") && !token.contains('\n'),
        "{token}"
    );
    fs::write(file, format!("{token}\n")).unwrap();
    file.to_path_buf()
}

/// `paychan ARGS --rpc <node's API> --token-file FILE --json`.
fn with_token(node: &NodeDir, file: &Path, args: &[&str]) -> Output {
    command()
        .args(args)
        .args(["--rpc", &format!("http://127.0.0.1:{}", node.rpc_port)])
        .arg("--token-file")
        .arg(file)
        .arg("--json")
        .output()
        .unwrap()
}

/// The failure's paychan code, from `--json`'s `{"error": {...}}` on stdout.
fn refused_code(out: Output) -> u64 {
    assert!(!out.status.success(), "succeeded: {}", text(&out.stdout));
    let answer: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", text(&out.stdout), text(&out.stderr)));
    answer["error"]["code"].as_u64().unwrap()
}

/// Lets `node` keep `peer` connected (`[node] peers`), so that it redials after a restart.
fn keep_connected(node: &NodeDir, peer: &NodeDir) {
    let path = node.dir.join("config.toml");
    let config = fs::read_to_string(&path).unwrap();
    assert!(config.contains("\npeers = []\n"));
    let config = config.replace(
        "\npeers = []\n",
        &format!("\npeers = [\"{}\"]\n", peer.tcp_url()),
    );
    fs::write(&path, config).unwrap();
}

fn amount(value: &Value) -> u128 {
    value.as_str().unwrap().parse().unwrap()
}

/// `channel_info` of `id` on `node`.
fn balances(node: &NodeDir, id: &str) -> Value {
    json(node.channel(&["info", id]))["balances"].clone()
}

/// Waits until `check` holds for `id`'s balances on `node`.
fn wait_balances(node: &NodeDir, id: &str, what: &str, check: impl Fn(&Value) -> bool) {
    let start = Instant::now();
    loop {
        let b = balances(node, id);
        if check(&b) {
            return;
        }
        assert!(start.elapsed() < READY_TIMEOUT, "{what}: {b}");
        sleep(Duration::from_millis(50));
    }
}

/// Waits until `node` reaches its peer on `id` (a message without payment is answered).
fn wait_for_link(node: &NodeDir, id: &str) {
    let start = Instant::now();
    while !node.channel(&["message", id, "ping"]).status.success() {
        assert!(start.elapsed() < READY_TIMEOUT, "the link is not back");
        sleep(Duration::from_millis(50));
    }
}

#[test]
fn the_proxy_verifies_with_a_verify_only_token_that_cannot_spend() {
    let _serial = serial();
    let root = tempfile::tempdir().unwrap();
    let ledger = Ledger::start(root.path());
    let bob = NodeDir::init(root.path(), "bob", &ledger.url());
    ledger.fund(&bob.address);
    let _b = bob.run("bob");
    let verify = create_token(
        &bob,
        &["--scope", "verify", "--label", "proxy"],
        &root.path().join("verify.token"),
    );

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let upstream = runtime.block_on(async {
        let router = axum::Router::new().route(
            "/hello",
            axum::routing::get(|| async { "hello from upstream" }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        addr
    });
    let mut proxy_command = command();
    proxy_command
        .arg("proxy")
        .args(["--rpc", &format!("http://127.0.0.1:{}", bob.rpc_port)])
        .arg("--token-file")
        .arg(&verify)
        .args(["--upstream", &format!("http://{upstream}")])
        .args(["--price", "10", "--listen", "127.0.0.1:0"]);
    let mut proxy = Process::spawn("proxy", proxy_command, &root.path().join("proxy.log"));
    let proxy_url = proxy.wait_for("its banner", |log| banner_url(log, "paychan proxy on "));

    runtime.block_on(async {
        let node = payer(&ledger.url(), root.path(), 0x5b).await;
        let client = PayingClient::new(
            reqwest::Client::new(),
            Arc::new(node.clone()),
            ClientConfig::default(),
        );
        for n in 1..=2u128 {
            let paid = client.get(&format!("{proxy_url}/hello")).await.unwrap();
            assert_eq!((paid.response.status().as_u16(), paid.paid), (200, 10));
            assert_eq!(paid.receipt.unwrap().cumulative, n * 10);
        }
    });

    // The same token cannot open, pay, list channels or mint tokens: code 1907, nothing done.
    for args in [
        vec!["channel", "list"],
        vec!["token", "create", "--scope", "read"],
        vec!["contacts", "add", "x", &bob.address],
    ] {
        assert_eq!(
            refused_code(with_token(&bob, &verify, &args)),
            1907,
            "{args:?}"
        );
    }
    let payer_address = format!(
        "{:#x}",
        paychan_core::SigningKey::from_entropy(&[0x5b; 32])
            .unwrap()
            .address()
    );
    assert_eq!(
        refused_code(with_token(
            &bob,
            &verify,
            &["channel", "open", &payer_address, "10", "--no-propose"]
        )),
        1907
    );
    assert_eq!(ledger.balance(&bob.address), FUNDS);
    let channels = json(bob.channel(&["list"]));
    assert_eq!(channels.as_array().unwrap().len(), 1, "{channels}");
    assert_eq!(channels[0]["balances"]["paid_by_peer"], "20");
    let listed = json(
        command()
            .args(["token", "list", "--json", "--data-dir", bob.dir()])
            .output()
            .unwrap(),
    );
    assert_eq!(listed[0]["scopes"], serde_json::json!(["verify"]));
    assert_eq!(listed[0]["label"], "proxy");
    drop(proxy);
}

#[test]
fn a_pay_token_limit_holds_across_a_node_restart() {
    let _serial = serial();
    let root = tempfile::tempdir().unwrap();
    let ledger = Ledger::start(root.path());
    let alice = NodeDir::init(root.path(), "alice", &ledger.url());
    let bob = NodeDir::init(root.path(), "bob", &ledger.url());
    ledger.fund(&alice.address);
    keep_connected(&alice, &bob);
    let mut a = alice.run("alice");
    let _b = bob.run("bob");
    let id = json(alice.channel(&["open", &bob.tcp_url(), "1000"]))["channel_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let pay = create_token(
        &alice,
        &["--scope", "pay", "--limit", "10", "--period", "1h"],
        &root.path().join("pay.token"),
    );
    json(with_token(
        &alice,
        &pay,
        &["channel", "pay", &id, "6", "first"],
    ));
    assert_eq!(
        refused_code(with_token(&alice, &pay, &["channel", "close", &id])),
        1907
    );

    // Killed and restarted: the counter is in the store, not in memory.
    a.kill();
    let _a = alice.run("alice");
    wait_for_link(&alice, &id);
    let out = with_token(&alice, &pay, &["channel", "pay", &id, "5", "over"]);
    assert_eq!(refused_code(out), 1908);
    assert_eq!(amount(&balances(&alice, &id)["paid_by_me"]), 6);
    json(with_token(
        &alice,
        &pay,
        &["channel", "pay", &id, "4", "last"],
    ));
    assert_eq!(
        refused_code(with_token(&alice, &pay, &["channel", "pay", &id, "1"])),
        1908
    );
    let listed = json(
        command()
            .args(["token", "list", "--json", "--data-dir", alice.dir()])
            .output()
            .unwrap(),
    );
    assert_eq!(
        (listed[0]["spent"].clone(), listed[0]["limit"].clone()),
        ("10".into(), "10".into())
    );
    assert_eq!(listed[0]["period"], 3600);
    wait_balances(&bob, &id, "bob counts what alice paid", |b| {
        amount(&b["paid_by_peer"]) == 10
    });
    // The full-access token is not limited.
    json(alice.channel(&["pay", &id, "100", "unlimited"]));
}

#[test]
fn a_node_restored_from_an_older_backup_recovers_its_payments_from_the_peer() {
    let _serial = serial();
    let root = tempfile::tempdir().unwrap();
    let ledger = Ledger::start(root.path());
    let alice = NodeDir::init(root.path(), "alice", &ledger.url());
    let bob = NodeDir::init(root.path(), "bob", &ledger.url());
    ledger.fund(&alice.address);
    ledger.fund(&bob.address);
    keep_connected(&alice, &bob);
    let mut a = alice.run("alice");
    let _b = bob.run("bob");
    let id = json(alice.channel(&["open", &bob.tcp_url(), "1000"]))["channel_id"]
        .as_str()
        .unwrap()
        .to_owned();
    json(bob.channel(&["deposit", &id, "300"]));

    // Before the backup: alice pays 10, bob pays 3.
    json(alice.channel(&["pay", &id, "10", "before"]));
    json(bob.channel(&["pay", &id, "3", "before"]));
    let backup = root.path().join("alice-backup.db");
    let report = json(
        command()
            .args([
                "backup",
                backup.to_str().unwrap(),
                "--json",
                "--data-dir",
                alice.dir(),
            ])
            .output()
            .unwrap(),
    );
    assert_eq!(report["channels"], 1, "{report}");
    assert!(backup.exists());

    // After it: alice pays 20 and 30, bob pays 5 and deposits 50 more.
    json(alice.channel(&["pay", &id, "20", "after"]));
    json(alice.channel(&["pay", &id, "30", "after"]));
    json(bob.channel(&["pay", &id, "5", "after"]));
    json(bob.channel(&["deposit", &id, "50"]));
    wait_balances(&alice, &id, "alice sees bob's deposit", |b| {
        amount(&b["peer_deposit"]) == 350
    });

    // A restore over the running node is refused and changes nothing.
    let out = command()
        .args([
            "restore",
            backup.to_str().unwrap(),
            "--data-dir",
            alice.dir(),
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("in use"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(amount(&balances(&alice, &id)["paid_by_me"]), 60);

    // Stop alice, restore the older backup, start again.
    a.kill();
    let restored = json(
        command()
            .args([
                "restore",
                backup.to_str().unwrap(),
                "--json",
                "--data-dir",
                alice.dir(),
            ])
            .output()
            .unwrap(),
    );
    assert!(restored["replaced"].is_string(), "{restored}");
    // The store is as of the backup: one payment each way.
    assert_eq!(restored["payments"], 2, "{restored}");
    let _a = alice.run("alice");

    // The counter sync brings back what bob holds: 60 paid by alice, 8 by bob, and the ledger
    // replay brings back bob's deposit.
    wait_balances(
        &alice,
        &id,
        "alice recovers the payments since the backup",
        |b| amount(&b["paid_by_me"]) == 60 && amount(&b["paid_by_peer"]) == 8,
    );
    wait_balances(&alice, &id, "alice recovers bob's deposit", |b| {
        amount(&b["peer_deposit"]) == 350
    });
    wait_for_link(&alice, &id);
    // Payments go on from there, both ways.
    json(alice.channel(&["pay", &id, "7", "resumed"]));
    json(bob.channel(&["pay", &id, "2", "resumed"]));
    wait_balances(&bob, &id, "bob agrees", |b| {
        amount(&b["paid_by_peer"]) == 67 && amount(&b["paid_by_me"]) == 10
    });
    let a_view = balances(&alice, &id);
    assert_eq!(
        (
            amount(&a_view["paid_by_me"]),
            amount(&a_view["paid_by_peer"])
        ),
        (67, 10)
    );

    // Closing pays each side exactly what it is owed.
    let closed = json(alice.channel(&["close", &id]));
    assert_eq!(closed["cooperative"], true, "{closed}");
    assert_eq!(ledger.balance(&alice.address), FUNDS - 67 + 10);
    assert_eq!(ledger.balance(&bob.address), FUNDS + 67 - 10);
}
