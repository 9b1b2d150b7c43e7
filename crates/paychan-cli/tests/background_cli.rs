//! `paychan background` as an operator runs it: a served ledger, two background processes of
//! one payee (two data directories holding the same key) on one PostgreSQL schema (the
//! machine's server; a schema of this test's own, dropped at the end), and a front counting
//! packages in the same schema. The active background is killed with SIGKILL: the standby
//! takes over within the lease's time and follows the ledger. The new active one is then
//! paused (SIGSTOP) until the restarted first one takes over; resumed, it stops at once
//! without acting. Payments never stop meanwhile, and the close pays the payee exactly what
//! the front counted.

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
    process::Command,
    sync::Arc,
    time::{Duration, Instant},
};

use common::{
    Process, command,
    nodes::{Ledger, NodeDir, json},
    paid::payer,
};
use paychan_ledger::{LedgerQuery, rpc::RpcReader};
use paychan_node::{ChannelPolicy, front::StorePayee};
use paychan_store::{
    Store,
    testkit::postgres::{TestSchema, url},
};

const LEASE_MS: u64 = 1_000;

fn signal(process: &Process, signal: &str) {
    let status = Command::new("kill")
        .args([&format!("-{signal}"), &process.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success(), "kill -{signal}");
}

/// Starts `paychan background` for `dir` on `store_url` as `name`.
fn background(dir: &NodeDir, store_url: &str, name: &str) -> Process {
    let mut command = command();
    command
        .arg("background")
        .arg("--data-dir")
        .arg(&dir.dir)
        .arg("--passphrase-file")
        .arg(&dir.passphrase)
        .args(["--store", store_url])
        .args(["--lease-ms", &LEASE_MS.to_string()])
        .args(["--name", name])
        .env("RUST_LOG", "info");
    let log = dir.dir.parent().unwrap().join(format!("{name}.log"));
    Process::spawn(name, command, &log)
}

/// Whether the banner of an active background is in `log` (a standby's lines name the
/// active one differently).
fn is_active(log: &str) -> Option<()> {
    log.lines()
        .any(|line| {
            line.starts_with("paychan background 0x") && line.contains(" active (lease token")
        })
        .then_some(())
}

#[test]
fn backgrounds_fail_over_and_a_paused_one_stops_without_acting() {
    let root = tempfile::tempdir().unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let schema = runtime.block_on(TestSchema::create());
    let store_url = format!("{}?options=-csearch_path%3D{}", url(), schema.name);
    let ledger = Ledger::start(root.path());

    // Two data directories of one payee: the second holds the first one's key.
    let first = NodeDir::init(root.path(), "payee1", &ledger.url());
    let mut second = NodeDir::init(root.path(), "payee2", &ledger.url());
    fs::copy(
        first.dir.join("keystore.json"),
        second.dir.join("keystore.json"),
    )
    .unwrap();
    second.address = first.address.clone();
    let payee: paychan_core::Address = first.address.parse().unwrap();

    let mut one = background(&first, &store_url, "one");
    one.wait_for("active", is_active);
    let mut two = background(&second, &store_url, "two");
    two.wait_for("standing by", |log| {
        log.contains("standby: \"one\"").then_some(())
    });

    let (front_store, id, payer_node) = runtime.block_on(async {
        let store: Arc<dyn Store> = Arc::new(schema.store().await);
        let node = payer(&ledger.url(), root.path(), 0x6b).await;
        let id = node.open_channel_on_ledger(payee, 10_000).await.unwrap();
        (store, id, node)
    });
    let front = runtime.block_on(async {
        let reader: Arc<dyn LedgerQuery> =
            Arc::new(RpcReader::connect(&ledger.url()).await.unwrap());
        StorePayee::new(
            payee,
            Arc::clone(&front_store),
            reader,
            ChannelPolicy::default(),
        )
        .await
        .unwrap()
    });
    let mut paid = 0u128;
    let mut pay = |n: u128| {
        runtime.block_on(async {
            for _ in 0..n {
                let package = payer_node
                    .create_payment_package(id, 10, None)
                    .await
                    .unwrap();
                front.verify_payment_package(&package, 10).await.unwrap();
            }
        });
        paid += 10 * n;
    };
    pay(10);

    // SIGKILL the active background: the standby takes over within the lease's time.
    one.kill();
    let killed = Instant::now();
    two.wait_for("active", is_active);
    let takeover = killed.elapsed();
    eprintln!("takeover after kill -9: {takeover:?} (lease {LEASE_MS} ms)");
    assert!(takeover < Duration::from_secs(5), "{takeover:?}");
    pay(10);

    // The new active one follows the ledger in the rows the front writes.
    runtime.block_on(payer_node.deposit(id, 1_000)).unwrap();
    let info = |dir: &NodeDir| json(dir.channel(&["info", &id.to_string()]));
    let start = Instant::now();
    while info(&second)["balances"]["peer_deposit"] != "11000" {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "{}",
            info(&second)
        );
        std::thread::sleep(Duration::from_millis(50));
    }

    // The first comes back as a standby; the active one hangs (SIGSTOP) and loses the lease.
    let mut one = background(&first, &store_url, "one-again");
    one.wait_for("standing by", |log| {
        log.contains("standby: \"two\"").then_some(())
    });
    signal(&two, "STOP");
    let paused = Instant::now();
    one.wait_for("active", is_active);
    eprintln!("takeover from a paused background: {:?}", paused.elapsed());
    pay(10);
    // Resumed, it finds the lease taken and stops, having done nothing.
    signal(&two, "CONT");
    let status = two.exit_status();
    assert!(
        !status.success(),
        "a background that lost its lease exits with an error"
    );
    assert!(two.log().contains("lost its lease"), "{}", two.log_tail());

    // The active background closes; the payee receives exactly what the front counted.
    let closed = json(first.channel(&["close", &id.to_string(), "--force"]));
    eprintln!("close: {closed}");
    let before = ledger.balance(&first.address);
    ledger.advance(86_400 + 1);
    let start = Instant::now();
    while u128::from(ledger.balance(&first.address)) != u128::from(before) + paid {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the payee holds {} after the close, expected {} more than {before}",
            ledger.balance(&first.address),
            paid
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    drop(one);
    drop(schema);
}
