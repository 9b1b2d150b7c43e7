//! Two nodes neither of which listens, meeting through a `paychan relay`: one registered
//! there, the other dialing it as `ADDRESS@relay+ws://...`. They pay each other both ways,
//! and keep paying when the relay dies and comes back on the same port; no money is created
//! or lost.

use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use paychan_core::{Address, SigningKey};
use paychan_ledger::{Clock, EmbeddedLedger};
use paychan_net::{Endpoint, LinkConfig, PeerAddr};
use paychan_node::{Incoming, Node, net, testkit::wait_until};
use paychan_relay::{Relay, RelayConfig};
use paychan_store::{Durability, sqlite::SqliteStore};
use serde_json::json;

const FUNDS: u128 = 10_000;

async fn node(ledger: &EmbeddedLedger, key: &SigningKey, dir: &std::path::Path) -> Node {
    let node = Node::builder()
        .key(key.clone())
        .ledger(Arc::new(ledger.account(key.clone())))
        .store(Arc::new(
            SqliteStore::open(
                dir.join(format!("{}.db", key.address())),
                Durability::Normal,
            )
            .unwrap(),
        ))
        .config(paychan_node::testkit::config())
        .build()
        .await
        .unwrap();
    node.set_payment_handler(|i: Incoming| async move { Ok(json!({ "result": i.message["n"] })) });
    node
}

fn links() -> LinkConfig {
    LinkConfig::default().with_backoff(Duration::from_millis(10), Duration::from_millis(200))
}

/// Node `a` registered at the relay on `relay`, node `b` dialing it there; both connected.
async fn meet(ledger: &EmbeddedLedger, dir: &std::path::Path, relay: SocketAddr) -> (Node, Node) {
    let (ka, kb) = (
        SigningKey::from_entropy(&[71; 32]).unwrap(),
        SigningKey::from_entropy(&[72; 32]).unwrap(),
    );
    for k in [&ka, &kb] {
        ledger.faucet(k.address(), Address::ZERO, FUNDS).unwrap();
    }
    let a = node(ledger, &ka, dir).await;
    let b = node(ledger, &kb, dir).await;
    let Endpoint::Relay(url) = format!("relay+ws://{relay}/").parse::<Endpoint>().unwrap() else {
        panic!("a relay endpoint")
    };
    let mut registered = net::listen_relays(&a, vec![url], links()).unwrap();
    registered.wait_for(|n| *n == 1).await.unwrap();
    let peer: PeerAddr = format!("{}@relay+ws://{relay}/", a.address())
        .parse()
        .unwrap();
    net::dial(&b, peer, links()).unwrap();
    wait_until("b is connected to a through the relay", || async {
        b.is_connected(a.address()) && a.is_connected(b.address())
    })
    .await;
    (a, b)
}

/// After a cooperative close, each side's ledger balance moved by exactly what the channel
/// says, and the two together hold what they started with.
fn settled(ledger: &EmbeddedLedger, a: &Node, b: &Node, a_paid: u128, b_paid: u128) {
    let balance = |n: &Node| ledger.balance_of(n.address(), Address::ZERO).unwrap();
    assert_eq!(balance(a), FUNDS - a_paid + b_paid);
    assert_eq!(balance(b), FUNDS + a_paid - b_paid);
    assert_eq!(balance(a) + balance(b), 2 * FUNDS);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_without_open_ports_pay_both_ways_through_a_relay() {
    let relay = Relay::bind("127.0.0.1:0".parse().unwrap(), RelayConfig::default())
        .await
        .unwrap();
    let ledger = EmbeddedLedger::in_memory(Clock::manual(1_700_000_000));
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = meet(&ledger, dir.path(), relay.local_addr()).await;

    let id = b.create_channel(a.address(), 1_000).await.unwrap();
    a.deposit(id, 1_000).await.unwrap();
    for n in 0..30u64 {
        let paid = b
            .send_message_and_pay(id, &json!({ "n": n }), 2)
            .await
            .unwrap();
        assert_eq!(paid, json!({ "result": n }));
        let paid = a
            .send_message_and_pay(id, &json!({ "n": n }), 1)
            .await
            .unwrap();
        assert_eq!(paid, json!({ "result": n }));
    }
    let seen_by_b = b.channel_info(id).await.unwrap().balances;
    let seen_by_a = a.channel_info(id).await.unwrap().balances;
    assert_eq!((seen_by_b.paid_by_me, seen_by_b.paid_by_peer), (60, 30));
    assert_eq!((seen_by_a.paid_by_me, seen_by_a.paid_by_peer), (30, 60));
    assert!(b.close(id).await.unwrap());
    settled(&ledger, &a, &b, 30, 60);
    a.shutdown();
    b.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payments_continue_when_the_relay_restarts() {
    let relay = Relay::bind("127.0.0.1:0".parse().unwrap(), RelayConfig::default())
        .await
        .unwrap();
    let at = relay.local_addr();
    let ledger = EmbeddedLedger::in_memory(Clock::manual(1_700_000_000));
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = meet(&ledger, dir.path(), at).await;
    let id = b.create_channel(a.address(), 1_000).await.unwrap();

    // b pays in a loop; a payment that fails (the relay is gone) is retried once b is
    // connected again.
    const PAYMENTS: u64 = 60;
    let done = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let payer = {
        let (a_address, b, done, failed) = (
            a.address(),
            b.clone(),
            Arc::clone(&done),
            Arc::clone(&failed),
        );
        tokio::spawn(async move {
            for n in 0..PAYMENTS {
                loop {
                    match b.send_message_and_pay(id, &json!({ "n": n }), 1).await {
                        Ok(reply) => {
                            assert_eq!(reply, json!({ "result": n }));
                            break;
                        }
                        Err(_) => {
                            failed.fetch_add(1, Ordering::SeqCst);
                            wait_until("b is connected again", || async {
                                b.is_connected(a_address)
                            })
                            .await;
                        }
                    }
                }
                done.store(n + 1, Ordering::SeqCst);
            }
        })
    };
    wait_until("20 payments went through", || async {
        done.load(Ordering::SeqCst) >= 20
    })
    .await;
    drop(relay);
    wait_until("both see the connection gone", || async {
        !b.is_connected(a.address()) && !a.is_connected(b.address())
    })
    .await;
    let stopped_at = done.load(Ordering::SeqCst);
    assert!(
        stopped_at < PAYMENTS,
        "the payments outran the relay's death"
    );
    let relay = loop {
        match Relay::bind(at, RelayConfig::default()).await {
            Ok(relay) => break relay,
            Err(_) => tokio::task::yield_now().await,
        }
    };
    tokio::time::timeout(Duration::from_secs(60), payer)
        .await
        .expect("the payments finished")
        .unwrap();
    assert!(relay.is_registered(a.address()));

    // Both sides agree on every unit paid: the payments that succeeded, plus any the payee
    // counted although its answer was lost with the relay (then retried, and paid again).
    let seen_by_b = b.channel_info(id).await.unwrap().balances;
    let seen_by_a = a.channel_info(id).await.unwrap().balances;
    assert_eq!(seen_by_b.paid_by_me, seen_by_a.paid_by_peer);
    assert_eq!(seen_by_a.paid_by_me, 0);
    let paid = seen_by_b.paid_by_me;
    let retried = u128::from(failed.load(Ordering::SeqCst));
    assert!(
        (u128::from(PAYMENTS)..=u128::from(PAYMENTS) + retried).contains(&paid),
        "{paid} paid for {PAYMENTS} payments and {retried} retries"
    );
    assert!(b.close(id).await.unwrap());
    settled(&ledger, &a, &b, 0, paid);
    a.shutdown();
    b.shutdown();
}
