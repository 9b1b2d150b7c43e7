//! A malicious peer speaking raw frames to an honest node: every forged, stale, over-balance
//! or malformed input gets an error and changes nothing, and a flood of requests holds at
//! most the node's bound in flight.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, AtomicUsize, Ordering},
    },
    time::Duration,
};

use paychan_core::{
    Address, B256, ChannelParams, SigningKey,
    eip712::Eip712,
    wire::{self, ErrorBody, Message, ProposeChannel, Reply},
};
use paychan_ledger::{Clock, EmbeddedLedger, LedgerFunding};
use paychan_node::{
    Incoming, Node, NodeConfig, PeerConnection,
    testkit::{RawPeer, wait_until},
};
use paychan_store::sqlite::SqliteStore;
use serde_json::json;

fn expect_refused(message: Message, code: u16) {
    match message {
        Message::PayResult {
            reply: Reply::Err(e),
            ..
        }
        | Message::Error { error: e, .. } => {
            assert_eq!(e.code, code, "unexpected error: {}", e.message)
        }
        other => panic!("expected a refusal with code {code}, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_stale_over_balance_and_malformed_inputs_change_nothing() {
    let ledger = EmbeddedLedger::in_memory(Clock::manual(1_700_000_000));
    let honest = SigningKey::from_entropy(&[71; 32]).unwrap();
    let mallory_key = SigningKey::from_entropy(&[72; 32]).unwrap();
    ledger
        .faucet(mallory_key.address(), Address::ZERO, 1_000)
        .unwrap();
    let node = Node::builder()
        .key(honest.clone())
        .ledger(Arc::new(ledger.account(honest.clone())))
        .store(Arc::new(SqliteStore::open_in_memory().unwrap()))
        .config(NodeConfig::default())
        .build()
        .await
        .unwrap();
    let mut m = RawPeer::connect(&node, mallory_key.clone()).await;
    let domain = node.domain();

    // A proposal naming someone else as B is refused.
    let stranger = SigningKey::from_entropy(&[73; 32]).unwrap();
    let mut params = ChannelParams {
        party_a: m.key.address(),
        party_b: stranger.address(),
        token: Address::ZERO,
        challenge_period: 3_600,
        nonce: B256::repeat_byte(9),
    };
    m.send(&Message::ProposeChannel(ProposeChannel {
        params,
        domain,
        deposit: 100,
    }))
    .await;
    assert!(matches!(m.next().await, Message::RejectChannel { .. }));
    // A proper one is accepted; Mallory opens it on the ledger.
    params.party_b = honest.address();
    let id = params.id(&domain);
    m.send(&Message::ProposeChannel(ProposeChannel {
        params,
        domain,
        deposit: 100,
    }))
    .await;
    assert!(matches!(m.next().await, Message::AcceptChannel { .. }));
    ledger
        .account(m.key.clone())
        .open(&params, 100)
        .await
        .unwrap();
    wait_until("the node sees the channel open", || async {
        node.channel_info(id).await.unwrap().status == "open"
    })
    .await;

    let body = br#"{"call":1}"#.to_vec();
    // Forged: a stranger signs in Mallory's name.
    let mut forged = m.voucher(id, &domain, 10, 1, &body);
    forged.signature = forged.voucher.sign(&domain, &stranger);
    m.send(&Message::Pay {
        request_id: 1,
        voucher: forged,
        body: body.clone(),
    })
    .await;
    expect_refused(m.next().await, ErrorBody::VOUCHER_REJECTED);
    // Over the balance Mallory deposited.
    let over = m.voucher(id, &domain, 101, 1, &body);
    m.send(&Message::Pay {
        request_id: 2,
        voucher: over,
        body: body.clone(),
    })
    .await;
    expect_refused(m.next().await, ErrorBody::VOUCHER_REJECTED);
    // Paying for another message than the one sent.
    let other = m.voucher(id, &domain, 10, 1, b"{\"call\":2}");
    m.send(&Message::Pay {
        request_id: 3,
        voucher: other,
        body: body.clone(),
    })
    .await;
    expect_refused(m.next().await, ErrorBody::VOUCHER_REJECTED);
    // A valid voucher for a body that is not JSON: refused, not counted.
    let not_json = m.voucher(id, &domain, 10, 1, b"\xff\xfe");
    m.send(&Message::Pay {
        request_id: 4,
        voucher: not_json,
        body: b"\xff\xfe".to_vec(),
    })
    .await;
    expect_refused(m.next().await, ErrorBody::MALFORMED);
    // A valid payment of 10 is answered.
    let good = m.voucher(id, &domain, 10, 1, &body);
    m.send(&Message::Pay {
        request_id: 5,
        voucher: good,
        body: body.clone(),
    })
    .await;
    assert!(matches!(
        m.next().await,
        Message::PayResult {
            reply: Reply::Ok(_),
            ..
        }
    ));
    // Replayed, and a later voucher lowering the total: stale.
    m.send(&Message::Pay {
        request_id: 6,
        voucher: good,
        body: body.clone(),
    })
    .await;
    expect_refused(m.next().await, ErrorBody::VOUCHER_REJECTED);
    let lower = m.voucher(id, &domain, 5, 2, &body);
    m.send(&Message::Pay {
        request_id: 7,
        voucher: lower,
        body: body.clone(),
    })
    .await;
    expect_refused(m.next().await, ErrorBody::VOUCHER_REJECTED);
    // A voucher of a channel the node does not have.
    let unknown = m.voucher(
        paychan_core::ChannelId(B256::repeat_byte(1)),
        &domain,
        1,
        1,
        &body,
    );
    m.send(&Message::Pay {
        request_id: 8,
        voucher: unknown,
        body: body.clone(),
    })
    .await;
    expect_refused(m.next().await, ErrorBody::UNKNOWN_CHANNEL);
    // Garbage and oversized frames.
    m.send_frame(vec![1, 0xff, 0xff, 0xff]).await;
    expect_refused(m.next().await, ErrorBody::MALFORMED);
    m.send_frame(vec![0u8; wire::MAX_FRAME_LEN + 1]).await;
    expect_refused(m.next().await, ErrorBody::MALFORMED);
    // A withdrawal taking back what Mallory paid, and a settlement forgetting it.
    let withdrawal = paychan_core::Withdrawal {
        channel_id: id,
        party: m.key.address(),
        total_withdrawn: 95,
        paid_by_a: 0,
        paid_by_b: 0,
        expiry: u64::MAX,
    };
    m.send(&Message::WithdrawRequest {
        withdrawal,
        signature: withdrawal.sign(&domain, &m.key),
    })
    .await;
    expect_refused(m.next().await, ErrorBody::CERTIFICATE_REJECTED);
    let settlement = paychan_core::Settlement {
        channel_id: id,
        paid_by_a: 0,
        paid_by_b: 0,
    };
    m.send(&Message::SettlementRequest {
        settlement,
        signature: settlement.sign(&domain, &m.key),
    })
    .await;
    expect_refused(m.next().await, ErrorBody::CERTIFICATE_REJECTED);

    // Through all of it, exactly the one valid payment counted.
    let info = node.channel_info(id).await.unwrap();
    assert_eq!(info.balances.paid_by_peer, 10);
    assert_eq!(info.status, "open");
}

/// A peer flooding payments holds at most `max_requests_per_peer` of them in the node: with
/// that many in flight the node stops reading from it (its sends block once the connection's
/// buffer is full), keeps serving another peer meanwhile, and once the flood is answered it
/// has counted exactly what it answered: no money is created or lost. Issue 13, deliverable 3.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flooding_peer_holds_at_most_the_bound_in_flight() {
    const BOUND: usize = 4;
    const CAPACITY: usize = 8;
    const FLOOD: u64 = 200;
    const FUNDS: u128 = 10_000;
    let ledger = EmbeddedLedger::in_memory(Clock::manual(1_700_000_000));
    let honest = SigningKey::from_entropy(&[74; 32]).unwrap();
    let mallory_key = SigningKey::from_entropy(&[75; 32]).unwrap();
    let carol_key = SigningKey::from_entropy(&[76; 32]).unwrap();
    for key in [&honest, &mallory_key, &carol_key] {
        ledger.faucet(key.address(), Address::ZERO, FUNDS).unwrap();
    }
    let build = |key: &SigningKey, config: NodeConfig| {
        Node::builder()
            .key(key.clone())
            .ledger(Arc::new(ledger.account(key.clone())))
            .store(Arc::new(SqliteStore::open_in_memory().unwrap()))
            .config(config)
            .build()
    };
    let fast = NodeConfig {
        settle_check_interval: Duration::from_millis(20),
        ..NodeConfig::default()
    };
    let node = build(
        &honest,
        NodeConfig {
            max_requests_per_peer: BOUND,
            ..fast.clone()
        },
    )
    .await
    .unwrap();
    let carol = build(&carol_key, fast).await.unwrap();

    // Mallory's payments wait in the handler until the gate opens; others pass at once.
    let (gate, gate_rx) = tokio::sync::watch::channel(false);
    let current = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let mallory_address = mallory_key.address();
    node.set_payment_handler({
        let (current, most) = (current.clone(), most.clone());
        move |incoming: Incoming| {
            let (current, most, mut gate) = (current.clone(), most.clone(), gate_rx.clone());
            async move {
                if incoming.peer != mallory_address {
                    return Ok(json!("served"));
                }
                let now = current.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                let _ = gate.wait_for(|open| *open).await;
                current.fetch_sub(1, Ordering::SeqCst);
                Ok(incoming.message)
            }
        }
    });

    let mut m = RawPeer::connect_with_capacity(&node, mallory_key.clone(), CAPACITY).await;
    let domain = node.domain();
    let params = ChannelParams {
        party_a: m.key.address(),
        party_b: honest.address(),
        token: Address::ZERO,
        challenge_period: 3_600,
        nonce: B256::repeat_byte(7),
    };
    let id = params.id(&domain);
    m.send(&Message::ProposeChannel(ProposeChannel {
        params,
        domain,
        deposit: 1_000,
    }))
    .await;
    assert!(matches!(m.next().await, Message::AcceptChannel { .. }));
    ledger
        .account(m.key.clone())
        .open(&params, 1_000)
        .await
        .unwrap();
    wait_until("the node sees Mallory's channel open", || async {
        node.channel_info(id).await.unwrap().status == "open"
    })
    .await;

    // Mallory floods payments of 1 each, and keeps every answer.
    let sent = Arc::new(AtomicU64::new(0));
    let vouchers: Vec<_> = (1..=FLOOD)
        .map(|n| {
            let body = serde_json::to_vec(&json!({ "n": n })).unwrap();
            (n, m.voucher(id, &domain, u128::from(n), n, &body), body)
        })
        .collect();
    let flood = tokio::spawn({
        let (to_node, sent) = (m.sender(), sent.clone());
        async move {
            for (n, voucher, body) in vouchers {
                let frame = wire::encode(&Message::Pay {
                    request_id: n,
                    voucher,
                    body,
                })
                .unwrap();
                if to_node.send(frame).await.is_err() {
                    return;
                }
                sent.fetch_add(1, Ordering::SeqCst);
            }
        }
    });
    let answers = tokio::spawn(async move {
        let mut kept = vec![];
        for _ in 0..FLOOD {
            match m.next().await {
                Message::PayResult {
                    request_id,
                    reply: Reply::Ok(_),
                    ..
                } => kept.push(request_id),
                Message::PayResult {
                    reply: Reply::Err(e),
                    ..
                } => assert_eq!(e.code, ErrorBody::VOUCHER_REJECTED, "{}", e.message),
                other => panic!("unexpected {other:?}"),
            }
        }
        // Mallory stays connected.
        (m, kept)
    });

    // The node takes BOUND payments, holds one more frame waiting, and reads no further: the
    // connection's buffer fills and Mallory's sends block.
    let paused = BOUND as u64 + 1 + CAPACITY as u64;
    wait_until(
        "the node holds a full set of Mallory's payments",
        || async {
            current.load(Ordering::SeqCst) >= BOUND && sent.load(Ordering::SeqCst) >= paused
        },
    )
    .await;
    // Meanwhile the node serves another peer.
    let (to_carol, to_node) = PeerConnection::pair(carol.address(), honest.address(), 64);
    carol.connect(to_carol).await;
    node.connect(to_node).await;
    let theirs = carol.create_channel(honest.address(), 500).await.unwrap();
    let served = carol
        .send_message_and_pay(theirs, &json!("while flooded"), 5)
        .await
        .unwrap();
    assert_eq!(served, json!("served"));
    // Still no more of Mallory's payments in flight, and none read beyond.
    assert_eq!(most.load(Ordering::SeqCst), BOUND, "handled at once");
    assert_eq!(
        sent.load(Ordering::SeqCst),
        paused,
        "frames taken from Mallory"
    );
    let info = node.connection_info(mallory_address).unwrap();
    assert_eq!(info.in_flight, BOUND);
    assert!(!flood.is_finished());

    // Released, every payment is answered, never more than BOUND at once.
    gate.send_replace(true);
    let (_mallory, kept) = tokio::time::timeout(Duration::from_secs(60), answers)
        .await
        .expect("every payment answered")
        .unwrap();
    flood.await.unwrap();
    assert_eq!(most.load(Ordering::SeqCst), BOUND);
    assert!(!kept.is_empty());
    wait_until("the permits are back", || async {
        node.connection_info(mallory_address).unwrap().in_flight == 0
    })
    .await;
    // The node counts the highest total it answered: what Mallory paid, no more, no less.
    let paid = u128::from(*kept.iter().max().unwrap());
    assert_eq!(
        node.channel_info(id).await.unwrap().balances.paid_by_peer,
        paid
    );

    // And the ledger pays exactly that out.
    node.force_close(id).await.unwrap();
    ledger.clock().advance(3_601);
    wait_until("the channel is settled", || async {
        node.channel_info(id).await.unwrap().status == "closed"
    })
    .await;
    assert_eq!(
        ledger.balance_of(honest.address(), Address::ZERO).unwrap(),
        FUNDS + paid
    );
    assert_eq!(
        ledger.balance_of(mallory_address, Address::ZERO).unwrap(),
        FUNDS - paid
    );
    node.shutdown();
    carol.shutdown();
}
