//! Channel lifecycles between two nodes, with every balance checked on the ledger.

use std::time::Duration;

use futures::StreamExt;
use paychan_core::{Address, Amount, adjudicator::LedgerEvent};
use paychan_node::{
    Incoming, NodeError, NodeEvent,
    testkit::{self, FUNDS, Net, connect, wait_until},
};
use paychan_store::Store;
use serde_json::json;

/// A and B connected, B serving the echo handler.
async fn net() -> Net {
    Net::builder().seed(41).connect_ab().echo_b().build().await
}

/// B's latest signed voucher on `id`, read from B's store-backed state.
async fn b_latest_sent(net: &Net, id: paychan_core::ChannelId) -> paychan_core::SignedVoucher {
    net.b.latest_sent(id).await.unwrap().expect("B has paid")
}

/// Waits until A's watcher has applied the settlement of `id` (and so every ledger event
/// before it): A's stored ledger cursor is past it.
async fn a_watcher_past_the_settlement(net: &Net, id: paychan_core::ChannelId) {
    let mut events = net.ledger.event_stream(0);
    let settled = loop {
        let record = tokio::time::timeout(Duration::from_secs(5), events.next())
            .await
            .expect("the ledger has the settlement")
            .expect("the event stream goes on")
            .unwrap();
        if matches!(record.event, LedgerEvent::Settled { channel_id, .. } if channel_id == id) {
            break record.cursor;
        }
    };
    wait_until("A's watcher is past the settlement", || async {
        net.a.store.ledger_cursor().await.unwrap() > settled
    })
    .await;
}

/// The status of `id` on the ledger, if it is closing: what it counts for A and B.
fn counted_on_ledger(net: &Net, id: paychan_core::ChannelId) -> Option<(Amount, Amount)> {
    match net.ledger.channel_record(&id).unwrap().map(|r| r.status) {
        Some(paychan_core::adjudicator::ChannelStatus::Closing { counted, .. }) => {
            Some((counted.a, counted.b))
        }
        _ => None,
    }
}

/// Waits for an event matching `pred`, failing after a few seconds.
async fn wait_for(
    rx: &mut tokio::sync::broadcast::Receiver<NodeEvent>,
    pred: impl Fn(&NodeEvent) -> bool,
) -> NodeEvent {
    tokio::time::timeout(Duration::from_secs(15), async {
        loop {
            match rx.recv().await {
                Ok(e) if pred(&e) => return e,
                Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(e) => panic!("event stream closed: {e}"),
            }
        }
    })
    .await
    .expect("event did not arrive")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_pay_both_ways_withdraw_and_close_cooperatively() {
    let net = net().await;
    let mut b_events = net.b.subscribe();
    let id = net.a.create_channel(net.b.address(), 1_000).await.unwrap();
    wait_for(&mut b_events, |e| {
        matches!(e, NodeEvent::ChannelCreatedByPeer { .. })
    })
    .await;
    net.b.deposit(id, 500).await.unwrap();
    net.a
        .set_payment_handler(|_: Incoming| async { Ok(json!("thanks")) });

    let mut paid_by_a = 0;
    for i in 1..=20u128 {
        let response = net
            .a
            .send_message_and_pay(id, &json!({ "call": i }), i)
            .await
            .unwrap();
        assert_eq!(response["echo"]["call"], json!(i as u64));
        assert_eq!(response["paid"], json!(i.to_string()));
        paid_by_a += i;
    }
    assert_eq!(
        net.b
            .send_message_and_pay(id, &json!("refund"), 30)
            .await
            .unwrap(),
        json!("thanks")
    );
    // A plain message costs nothing.
    assert_eq!(
        net.a.send_message(id, &json!({ "ping": 1 })).await.unwrap()["paid"],
        json!("0")
    );

    let a_info = net.a.channel_info(id).await.unwrap();
    let b_info = net.b.channel_info(id).await.unwrap();
    assert_eq!(a_info.status, "open");
    assert_eq!(a_info.balances.paid_by_me, paid_by_a);
    assert_eq!(b_info.balances.paid_by_peer, paid_by_a);
    assert_eq!(a_info.balances.my_available, b_info.balances.peer_available);

    net.b.withdraw(id, 100).await.unwrap();
    assert_eq!(net.balance(net.b.address()), FUNDS - 500 + 100);

    assert!(net.a.close(id).await.unwrap(), "the close is cooperative");
    let final_a = net.balance(net.a.address());
    let final_b = net.balance(net.b.address());
    assert_eq!(final_a, FUNDS - paid_by_a + 30);
    assert_eq!(final_b, FUNDS + paid_by_a - 30);
    net.conserved();
    assert_eq!(net.a.channel_info(id).await.unwrap().status, "closed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_handler_means_the_payment_is_not_counted() {
    let net = net().await;
    let id = net.a.create_channel(net.b.address(), 100).await.unwrap();
    net.a
        .send_message_and_pay(id, &json!("ok"), 10)
        .await
        .unwrap();
    match net
        .a
        .send_message_and_pay(id, &json!({ "fail": true }), 7)
        .await
    {
        Err(NodeError::PeerRefused { message, .. }) => assert!(message.contains("failed")),
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert_eq!(
        net.a.channel_info(id).await.unwrap().balances.paid_by_me,
        10
    );
    assert_eq!(
        net.b.channel_info(id).await.unwrap().balances.paid_by_peer,
        10
    );
    // The next payment pays only for itself.
    net.a
        .send_message_and_pay(id, &json!("ok"), 5)
        .await
        .unwrap();
    assert_eq!(
        net.b.channel_info(id).await.unwrap().balances.paid_by_peer,
        15
    );
    // Over the balance: refused before anything is signed.
    assert!(matches!(
        net.a
            .send_message_and_pay(id, &json!("too much"), 1_000)
            .await,
        Err(NodeError::Command(_))
    ));
    assert!(matches!(
        net.a
            .send_message_and_pay(paychan_core::ChannelId::default(), &json!(1), 1)
            .await,
        Err(NodeError::UnknownChannel(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_watcher_defends_a_unilateral_close_and_settles() {
    let net = net().await;
    let id = net.a.create_channel(net.b.address(), 300).await.unwrap();
    net.b.deposit(id, 200).await.unwrap();
    net.a
        .set_payment_handler(|_: Incoming| async { Ok(json!(null)) });
    net.a.send_message_and_pay(id, &json!(1), 50).await.unwrap();
    net.b.send_message_and_pay(id, &json!(2), 20).await.unwrap();
    net.a.send_message_and_pay(id, &json!(3), 25).await.unwrap();

    let mut a_events = net.a.subscribe();
    let mut b_events = net.b.subscribe();
    net.b.force_close(id).await.unwrap();
    wait_for(&mut a_events, |e| {
        matches!(e, NodeEvent::CloseStarted { .. })
    })
    .await;
    // A's watcher submits B's latest voucher (20): B presented A's (75) at the start.
    wait_until("A's watcher submits B's latest voucher", || async {
        counted_on_ledger(&net, id) == Some((75, 20))
    })
    .await;
    net.ledger.clock().advance(3_600);
    let closed = wait_for(&mut b_events, |e| {
        matches!(e, NodeEvent::ChannelClosed { .. })
    })
    .await;
    let NodeEvent::ChannelClosed {
        channel_id,
        amount_received,
        transaction,
    } = closed
    else {
        panic!("{closed:?}");
    };
    assert_eq!(
        (channel_id, amount_received),
        (id, (200 + 75 - 20).to_string())
    );
    assert!(
        transaction.is_some(),
        "a ledger event names its transaction"
    );
    assert_eq!(net.balance(net.a.address()), FUNDS - 75 + 20);
    assert_eq!(net.balance(net.b.address()), FUNDS + 75 - 20);
    net.conserved();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_without_the_peer_falls_back_to_a_unilateral_close() {
    let net = net().await;
    let id = net.a.create_channel(net.b.address(), 100).await.unwrap();
    net.a.send_message_and_pay(id, &json!(1), 40).await.unwrap();
    net.b.shutdown();
    wait_until("A sees B gone", || async {
        !net.a.is_connected(net.b.address())
    })
    .await;
    assert!(
        !net.a.close(id).await.unwrap(),
        "falls back to a unilateral close"
    );
    assert_eq!(net.a.channel_info(id).await.unwrap().status, "closing");
    net.ledger.clock().advance(3_600);
    wait_until("A's channel is closed", || async {
        net.a.channel_info(id).await.unwrap().status == "closed"
    })
    .await;
    // B stayed offline, so nobody presented A's voucher of 40: A gets its whole deposit
    // back. This is what B's watcher is for (see the test above), and why a node must come
    // back within the challenge period.
    assert_eq!(net.balance(net.a.address()), FUNDS);
    assert_eq!(net.balance(net.b.address()), FUNDS);
    net.conserved();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_node_loses_nothing_and_recovers_its_counter_from_the_peer() {
    let net = net().await;
    let id = net.a.create_channel(net.b.address(), 500).await.unwrap();
    net.a.send_message_and_pay(id, &json!(1), 10).await.unwrap();
    // Keep a copy of A's database as it is now: an old backup.
    net.a.shutdown();
    let db = net.a.db.clone();
    let backup = net.dir.path().join("a-backup.db");
    // A file-level backup of a WAL database: the main file and its log.
    std::fs::copy(&db, &backup).unwrap();
    let wal = |p: &std::path::Path| std::path::PathBuf::from(format!("{}-wal", p.display()));
    if wal(&db).exists() {
        std::fs::copy(wal(&db), wal(&backup)).unwrap();
    }
    let a = net.a.restart_from(&net.ledger, &db).await;
    connect(&a, &net.b).await;
    a.send_message_and_pay(id, &json!(2), 20).await.unwrap();
    assert_eq!(a.channel_info(id).await.unwrap().balances.paid_by_me, 30);
    a.shutdown();

    // A comes back from the old backup: its counter says 10, B holds A's voucher of 30.
    let a = net.a.restart_from(&net.ledger, &backup).await;
    assert_eq!(a.channel_info(id).await.unwrap().balances.paid_by_me, 10);
    connect(&a, &net.b).await;
    wait_until("the counter sync restores A's counter", || async {
        a.channel_info(id).await.unwrap().balances.paid_by_me == 30
    })
    .await;
    a.send_message_and_pay(id, &json!(3), 5).await.unwrap();
    assert_eq!(
        net.b.channel_info(id).await.unwrap().balances.paid_by_peer,
        35
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proposals_outside_the_policy_are_refused() {
    let mut strict = testkit::config();
    strict.policy.min_deposit = 1_000;
    let net = Net::builder()
        .seed(51)
        .config_b(strict)
        .connect_ab()
        .build()
        .await;
    let (a, b) = (&net.a, &net.b);
    match a.create_channel(b.address(), 10).await {
        Err(NodeError::PeerRefused { message, .. }) => {
            assert!(message.contains("below the minimum of 1000"), "{message}")
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert_eq!(net.balance(a.address()), FUNDS, "nothing was opened");
    assert!(b.channels(None).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_ledger_event_is_reported_once() {
    let net = net().await;
    let mut a_events = net.a.subscribe();
    let id = net.a.create_channel(net.b.address(), 700).await.unwrap();
    net.a.deposit(id, 50).await.unwrap();
    net.b.deposit(id, 20).await.unwrap();
    net.a.send_message_and_pay(id, &json!(1), 5).await.unwrap();
    assert!(net.a.close(id).await.unwrap());
    // Let the watcher see every event too (B's deposit reaches A only through it).
    a_watcher_past_the_settlement(&net, id).await;
    let mut seen = vec![];
    while let Ok(e) = a_events.try_recv() {
        seen.push(e);
    }
    let count = |f: &dyn Fn(&NodeEvent) -> bool| seen.iter().filter(|e| f(e)).count();
    assert_eq!(
        count(&|e| matches!(e, NodeEvent::ChannelOpened { .. })),
        1,
        "{seen:?}"
    );
    assert_eq!(
        count(&|e| matches!(e, NodeEvent::ChannelClosed { .. })),
        1,
        "{seen:?}"
    );
    let mine: u128 = seen
        .iter()
        .filter_map(|e| match e {
            NodeEvent::MyDepositBecameStable { amount, .. } => amount.parse::<u128>().ok(),
            _ => None,
        })
        .sum();
    assert_eq!(mine, 750, "{seen:?}");
    assert_eq!(
        count(&|e| matches!(e, NodeEvent::PeerDepositBecameStable { .. })),
        1,
        "{seen:?}"
    );
    assert_eq!(count(&|e| matches!(e, NodeEvent::PaymentSent { .. })), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_channel_without_the_funds_to_open_it_is_never_proposed() {
    let net = net().await;
    match net.a.create_channel(net.b.address(), FUNDS + 1).await {
        Err(e @ NodeError::Ledger(paychan_ledger::LedgerError::InsufficientFunds { .. })) => {
            assert_eq!(e.category(), paychan_node::Category::Client)
        }
        other => panic!("expected insufficient funds, got {other:?}"),
    }
    assert!(net.a.channels(None).await.is_empty());
    assert!(net.b.channels(None).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_connection_fails_waiting_payments_at_once_and_keeps_them_counted() {
    let net = net().await;
    let id = net.a.create_channel(net.b.address(), 100).await.unwrap();
    // B's handler never answers; A's payment waits.
    let (reached, mut handler_reached) = tokio::sync::mpsc::channel::<()>(1);
    net.b.set_payment_handler(move |_: Incoming| {
        let reached = reached.clone();
        async move {
            let _ = reached.send(()).await;
            tokio::time::sleep(Duration::from_secs(60)).await;
            Ok(json!(null))
        }
    });
    let a = net.a.clone();
    let paying = tokio::spawn(async move { a.send_message_and_pay(id, &json!("slow"), 9).await });
    // The payment has reached B (so it was sent) before the connection goes away.
    tokio::time::timeout(Duration::from_secs(10), handler_reached.recv())
        .await
        .expect("the payment reaches B's handler");
    let started = std::time::Instant::now();
    net.b.shutdown(); // the connection goes away
    match paying.await.unwrap() {
        Err(NodeError::ConnectionLost(peer)) => assert_eq!(peer, net.b.address()),
        other => panic!("expected a lost connection, got {other:?}"),
    }
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "failed at once, not after the timeout"
    );
    // The voucher was sent: its outcome is unknown, so it stays counted.
    assert_eq!(net.a.channel_info(id).await.unwrap().balances.paid_by_me, 9);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_proposal_callback_decides_after_the_policy() {
    let net = net().await;
    net.b.set_proposal_handler(
        |_peer: Address, _params: paychan_core::ChannelParams, deposit: Amount| async move {
            if deposit > 500 {
                Err("too big for me".to_string())
            } else {
                Ok(())
            }
        },
    );
    match net.a.create_channel(net.b.address(), 600).await {
        Err(NodeError::PeerRefused { message, .. }) => assert_eq!(message, "too big for me"),
        other => panic!("expected a refusal, got {other:?}"),
    }
    net.a.create_channel(net.b.address(), 400).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_watcher_defends_against_a_close_with_the_peers_own_old_voucher() {
    use paychan_ledger::LedgerClose;
    let net = net().await;
    let id = net.a.create_channel(net.b.address(), 100).await.unwrap();
    net.b.deposit(id, 100).await.unwrap();
    net.a
        .set_payment_handler(|_: Incoming| async { Ok(json!(null)) });
    let mut a_events = net.a.subscribe();
    // B pays A 10, then 30 more: A holds B's voucher of 40.
    net.b.send_message_and_pay(id, &json!(1), 10).await.unwrap();
    let old = b_latest_sent(&net, id).await;
    net.b.send_message_and_pay(id, &json!(2), 30).await.unwrap();
    // B cheats with its own ledger handle: starts a close presenting its old voucher (10).
    net.ledger
        .account(net.b.key.clone())
        .start_close(id, Some(&old))
        .await
        .unwrap();
    wait_for(&mut a_events, |e| {
        matches!(e, NodeEvent::CloseStarted { .. })
    })
    .await;
    // A's watcher answers with B's latest voucher.
    wait_until("the watcher submits B's latest voucher", || async {
        counted_on_ledger(&net, id).is_some_and(|(_, b)| b == 40)
    })
    .await;
    net.ledger.clock().advance(3_600);
    let closed = wait_for(&mut a_events, |e| {
        matches!(e, NodeEvent::ChannelClosed { .. })
    })
    .await;
    let NodeEvent::ChannelClosed {
        channel_id,
        amount_received,
        transaction,
    } = closed
    else {
        panic!("{closed:?}");
    };
    assert_eq!((channel_id, amount_received), (id, "140".into()));
    assert!(
        transaction.is_some(),
        "a ledger event names its transaction"
    );
    net.conserved();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deposit_can_be_withdrawn_at_once() {
    // The co-signer checks a withdrawal against the deposits it knows: one its watcher has
    // not seen yet must not make it refuse.
    let net = net().await;
    let id = net.a.create_channel(net.b.address(), 100).await.unwrap();
    for round in 1..=10u128 {
        net.b.deposit(id, 50).await.unwrap();
        net.b
            .withdraw(id, 50)
            .await
            .unwrap_or_else(|e| panic!("round {round}: {e}"));
    }
    assert_eq!(net.balance(net.b.address()), FUNDS);
    net.conserved();
}
