//! Store-only payees (`front::StorePayee`): several of them verify payment packages against
//! one shared store, racing for the same packages; each package is counted once, a bad one
//! changes nothing, and the node that later opens the store (the payee's own key) closes the
//! channel and receives exactly what the fronts answered.

use std::sync::Arc;

use paychan_core::{Amount, ChannelId};
use paychan_ledger::LedgerQuery;
use paychan_node::{
    ChannelPolicy, NodeError,
    front::StorePayee,
    testkit::{self, Net, TestNode, wait_until},
};
use paychan_store::{Direction, Durability, SqliteStore, Store};
use serde_json::json;

/// The payee C's fronts: `n` store-only payees sharing the store at `net.dir/front.db`.
async fn fronts(net: &Net, n: usize) -> (Arc<SqliteStore>, Vec<Arc<StorePayee>>) {
    let db = net.dir.path().join("front.db");
    let store = Arc::new(SqliteStore::open(&db, Durability::Normal).unwrap());
    // A front queries the ledger; it holds no key of the payee's (this handle acts for A,
    // whose key signs nothing here).
    let ledger: Arc<dyn LedgerQuery> = Arc::new(net.ledger.account(net.a.key.clone()));
    let mut out = vec![];
    for _ in 0..n {
        let front = StorePayee::new(
            net.c.address(),
            store.clone(),
            ledger.clone(),
            ChannelPolicy::default(),
        )
        .await
        .unwrap();
        out.push(Arc::new(front));
    }
    (store, out)
}

fn refused_for(result: Result<impl std::fmt::Debug, NodeError>, reason: &str) {
    match result {
        Err(e @ NodeError::PackageRefused(_)) => assert_eq!(e.reason(), Some(reason), "{e}"),
        other => panic!("expected a refusal for {reason}, got {other:?}"),
    }
}

/// Everything C's store has counted in channel `id`: payments and their total.
async fn counted(store: &SqliteStore, id: ChannelId) -> (usize, Amount) {
    let payments = store
        .payments(id, Direction::Incoming, 10_000, None)
        .await
        .unwrap();
    (payments.len(), payments.iter().map(|p| p.amount).sum())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fronts_racing_for_the_same_packages_count_each_once() {
    let net = Net::builder().seed(71).build().await;
    let id = net
        .a
        .open_channel_on_ledger(net.c.address(), 100_000)
        .await
        .unwrap();
    let (store, fronts) = fronts(&net, 3).await;

    let mut paid = 0;
    for n in 1..=60u128 {
        let package = net
            .a
            .create_payment_package(id, n, Some(&json!({ "call": n as u64 })))
            .await
            .unwrap();
        paid += n;
        // Every front gets the same package at the same instant.
        let tasks: Vec<_> = fronts
            .iter()
            .map(|front| {
                let (front, package) = (front.clone(), package.clone());
                tokio::spawn(async move { front.verify_payment_package(&package, n).await })
            })
            .collect();
        let mut accepted = 0;
        for task in tasks {
            match task.await.unwrap() {
                Ok(verified) => {
                    accepted += 1;
                    assert_eq!(verified.amount, n);
                    assert_eq!(verified.cumulative, paid);
                }
                refused => refused_for(refused, "voucher.not_monotonic"),
            }
        }
        assert_eq!(accepted, 1, "package {n} was counted {accepted} times");
    }
    assert_eq!(counted(&store, id).await, (60, paid));
    net.conserved();
}

#[tokio::test]
async fn a_front_refuses_bad_packages_and_takes_later_deposits_from_the_ledger() {
    let net = Net::builder().seed(72).build().await;
    let id = net
        .a
        .open_channel_on_ledger(net.c.address(), 1_000)
        .await
        .unwrap();
    let (store, fronts) = fronts(&net, 1).await;
    let front = &fronts[0];

    let first = net.a.create_payment_package(id, 400, None).await.unwrap();
    front.verify_payment_package(&first, 400).await.unwrap();
    // Replayed.
    refused_for(
        front.verify_payment_package(&first, 0).await,
        "voucher.not_monotonic",
    );
    // Underpaid: refused, and nothing recorded, so the payer may take it back.
    let small = net.a.create_payment_package(id, 5, None).await.unwrap();
    refused_for(
        front.verify_payment_package(&small, 10).await,
        "package.underpaid",
    );
    net.a.cancel_payment_package(&small).await.unwrap();
    // Forged: more than the payer signed.
    let mut forged = net.a.create_payment_package(id, 1, None).await.unwrap();
    net.a.cancel_payment_package(&forged).await.unwrap();
    forged.voucher.cumulative = "900".into();
    refused_for(
        front.verify_payment_package(&forged, 0).await,
        "package.signature",
    );
    // A format version this payee does not read.
    let mut future = net.a.create_payment_package(id, 1, None).await.unwrap();
    net.a.cancel_payment_package(&future).await.unwrap();
    future.version = 7;
    refused_for(
        front.verify_payment_package(&future, 0).await,
        "package.version",
    );
    assert_eq!(counted(&store, id).await, (1, 400));

    // Over the deposit the front's row knows: A deposits more on the ledger, and the front
    // reads it before refusing.
    net.a.deposit(id, 2_000).await.unwrap();
    let big = net.a.create_payment_package(id, 1_500, None).await.unwrap();
    let verified = front.verify_payment_package(&big, 1_500).await.unwrap();
    assert_eq!((verified.amount, verified.cumulative), (1_500, 1_900));
    assert_eq!(verified.remaining, 1_100);
    // Beyond everything deposited: refused.
    let too_big = net.a.create_payment_package(id, 1_101, None).await;
    assert!(too_big.is_err(), "the payer's node refuses to sign it");
    assert_eq!(counted(&store, id).await, (2, 1_900));
}

#[tokio::test]
async fn a_package_for_another_payee_is_refused_by_a_front() {
    let net = Net::builder().seed(73).build().await;
    let (_, fronts) = fronts(&net, 1).await;
    // A package for a channel opened with someone else names another payee.
    let id = net
        .a
        .open_channel_on_ledger(net.b.address(), 1_000)
        .await
        .unwrap();
    let package = net.a.create_payment_package(id, 10, None).await.unwrap();
    refused_for(
        fronts[0].verify_payment_package(&package, 0).await,
        "package.other_payee",
    );
}

#[tokio::test]
async fn the_payee_node_on_the_fronts_store_is_paid_what_they_answered() {
    let net = Net::builder().seed(74).build().await;
    let id = net
        .a
        .open_channel_on_ledger(net.c.address(), 10_000)
        .await
        .unwrap();
    let (store, fronts) = fronts(&net, 2).await;
    let mut paid = 0;
    for n in 1..=20u128 {
        let package = net.a.create_payment_package(id, n * 7, None).await.unwrap();
        let front = &fronts[(n % 2) as usize];
        front.verify_payment_package(&package, 0).await.unwrap();
        paid += n * 7;
    }
    drop(fronts);
    drop(store);

    // The payee's node opens the store the fronts wrote, and closes the channel alone.
    let db = net.dir.path().join("front.db");
    let c = TestNode::start(&net.ledger, &net.c.key, &db, testkit::config()).await;
    let info = c.channel_info(id).await.unwrap();
    assert_eq!(info.balances.paid_by_peer, paid);
    let before = net.balance(net.c.address());
    c.force_close(id).await.unwrap();
    net.ledger.clock().advance(3_600 * 24 * 30);
    wait_until("the payee's node settles the close", || async {
        net.balance(net.c.address()) == before + paid
    })
    .await;
    net.conserved();
}
