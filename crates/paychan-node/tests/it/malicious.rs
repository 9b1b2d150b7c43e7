//! A malicious peer speaking raw frames to an honest node: every forged, stale, over-balance
//! or malformed input gets an error and changes nothing.

use std::sync::Arc;

use paychan_core::{
    Address, B256, ChannelParams, SigningKey,
    eip712::Eip712,
    wire::{self, ErrorBody, Message, ProposeChannel, Reply},
};
use paychan_ledger::{Clock, EmbeddedLedger, LedgerFunding};
use paychan_node::{
    Node, NodeConfig,
    testkit::{RawPeer, wait_until},
};
use paychan_store::sqlite::SqliteStore;

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
