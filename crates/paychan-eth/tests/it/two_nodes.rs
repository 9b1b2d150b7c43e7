//! Two full nodes running channels on the contract on anvil, over Noise/TCP on loopback:
//! open, pay both ways with messages, withdraw, close cooperatively; then a unilateral close
//! that the payee's watcher defends and settles. ETH on a node without fees, so every final
//! balance must equal the start plus the answered payments received minus those made.

use std::{sync::Arc, time::Duration};

use paychan_core::{Amount, SigningKey, adjudicator::ChannelStatus};
use paychan_eth::{
    EthAccount,
    testkit::{EthHarness, test_key},
};
use paychan_ledger::{LedgerQuery, testkit::Harness};
use paychan_net::{LinkConfig, ListenConfig, PeerAddr};
use paychan_node::{Incoming, Node, NodeConfig, NodeEvent, net};
use paychan_store::{Durability, sqlite::SqliteStore};
use serde_json::json;

const FUNDS: Amount = 1_000_000;

async fn node(key: &SigningKey, ledger: EthAccount, dir: &std::path::Path, name: &str) -> Node {
    let store = SqliteStore::open(dir.join(format!("{name}.db")), Durability::Normal).unwrap();
    Node::builder()
        .key(key.clone())
        .ledger(Arc::new(ledger))
        .store(Arc::new(store))
        .config(NodeConfig {
            settle_check_interval: Duration::from_millis(50),
            challenge_period: 3_600,
            ..NodeConfig::default()
        })
        .build()
        .await
        .unwrap()
}

async fn until<F: std::future::Future<Output = bool>>(what: &str, mut check: impl FnMut() -> F) {
    tokio::time::timeout(Duration::from_secs(30), async {
        while !check().await {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("timed out: {what}"));
}

async fn next<T>(
    rx: &mut tokio::sync::broadcast::Receiver<NodeEvent>,
    mut pick: impl FnMut(&NodeEvent) -> Option<T>,
) -> T {
    tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            match rx.recv().await {
                Ok(e) => {
                    if let Some(t) = pick(&e) {
                        return t;
                    }
                }
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(e) => panic!("event stream ended: {e}"),
            }
        }
    })
    .await
    .expect("timed out waiting for an event")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_run_channels_on_the_contract() {
    let h = EthHarness::native().await;
    let dir = tempfile::tempdir().unwrap();
    let (ka, kb) = (test_key("e2e/alice"), test_key("e2e/bob"));
    let (la, lb) = (h.account(ka.clone()).await, h.account(kb.clone()).await);
    h.fund(ka.address(), FUNDS).await;
    h.fund(kb.address(), FUNDS).await;
    let alice = node(&ka, la.clone(), dir.path(), "alice").await;
    let bob = node(&kb, lb.clone(), dir.path(), "bob").await;
    bob.set_payment_handler(|i: Incoming| async move {
        let n = i
            .message
            .get("n")
            .and_then(serde_json::Value::as_u64)
            .unwrap_or(0);
        Ok(json!({ "square": n * n }))
    });
    alice.set_payment_handler(|_: Incoming| async move { Ok(json!({ "thanks": true })) });
    let listening = net::listen(
        &bob,
        ListenConfig::new().with_tcp("127.0.0.1:0".parse().unwrap()),
    )
    .await
    .unwrap();
    let bob_at: PeerAddr = format!("{}@{}", kb.address(), listening.tcp.unwrap())
        .parse()
        .unwrap();
    net::dial(&alice, bob_at, LinkConfig::default()).unwrap();
    until("Alice connects", || async {
        alice.is_connected(kb.address())
    })
    .await;

    let (mut paid_a, mut paid_b): (Amount, Amount) = (0, 0);
    // Channel 1: open, pay both ways, withdraw, cooperative close.
    let first = alice.create_channel(kb.address(), 20_000).await.unwrap();
    bob.deposit(first, 5_000).await.unwrap();
    for n in 0..20u64 {
        let amount = 10 + Amount::from(n);
        let r = alice
            .send_message_and_pay(first, &json!({ "n": n }), amount)
            .await
            .unwrap();
        assert_eq!(r, json!({ "square": n * n }));
        paid_a += amount;
    }
    for _ in 0..5 {
        bob.send_message_and_pay(first, &json!({ "refund": 1 }), 7)
            .await
            .unwrap();
        paid_b += 7;
    }
    bob.withdraw(first, 1_000).await.unwrap();
    let rec = la.channel(first).await.unwrap().unwrap();
    assert_eq!(rec.withdrawn.b, 1_000, "the withdrawal is on chain");
    assert!(alice.close(first).await.unwrap(), "cooperative close");
    let rec = la.channel(first).await.unwrap().unwrap();
    // A = 20000 - paid_a + paid_b; B = 5000 - 1000 + paid_a - paid_b.
    let payouts = match rec.status {
        ChannelStatus::Settled { payouts } => payouts,
        other => panic!("{other:?}"),
    };
    assert_eq!(payouts.a, 20_000 - paid_a + paid_b);
    assert_eq!(payouts.b, 4_000 + paid_a - paid_b);

    // Channel 2: Alice closes alone; Bob's watcher submits Alice's latest voucher and settles.
    let second = alice.create_channel(kb.address(), 5_000).await.unwrap();
    bob.deposit(second, 1_000).await.unwrap();
    for amount in [400, 350] {
        alice
            .send_message_and_pay(second, &json!({ "n": 1 }), amount)
            .await
            .unwrap();
        paid_a += amount;
    }
    bob.send_message_and_pay(second, &json!({ "refund": 1 }), 120)
        .await
        .unwrap();
    paid_b += 120;
    let mut bob_events = bob.subscribe();
    alice.force_close(second).await.unwrap();
    let deadline = next(&mut bob_events, |e| match e {
        NodeEvent::CloseStarted { deadline, .. } => Some(*deadline),
        _ => None,
    })
    .await;
    until("Bob's watcher submits Alice's latest voucher", || async {
        matches!(
            lb.channel(second).await.unwrap().map(|r| r.status),
            Some(ChannelStatus::Closing { counted, .. }) if counted.a == 750
        )
    })
    .await;
    let now = la.now().await.unwrap();
    h.advance(deadline.saturating_sub(now)).await;
    let closed = tokio::time::timeout(
        Duration::from_secs(30),
        next(&mut bob_events, |e| match e {
            NodeEvent::ChannelClosed { channel_id, .. } if *channel_id == second => Some(()),
            _ => None,
        }),
    )
    .await;
    if closed.is_err() {
        panic!(
            "Bob's node did not report the close: now {:?}, deadline {deadline}, record {:?}",
            la.now().await,
            la.channel(second).await
        );
    }
    assert!(matches!(
        la.channel(second).await.unwrap().unwrap().status,
        ChannelStatus::Settled { .. }
    ));

    // Every wei accounted for: the node has no fees, so balances move only by payments.
    let asset = h.asset();
    assert_eq!(
        la.balance(ka.address(), asset).await.unwrap(),
        FUNDS - paid_a + paid_b
    );
    assert_eq!(
        la.balance(kb.address(), asset).await.unwrap(),
        FUNDS + paid_a - paid_b
    );
    alice.shutdown();
    bob.shutdown();
}
