//! Deadlines and the end of what never completes: proposals refused, unanswered or never
//! opened, withdrawals refused or unanswered. Each ends by itself and leaves nothing behind
//! that blocks the next one, in memory or in the store.

use std::{path::Path, sync::Arc, time::Duration};

use paychan_core::{
    Address, Amount, ChannelParams, SigningKey,
    channel::CommandError,
    wire::{self, ErrorBody, Message, ProposeChannel},
};
use paychan_ledger::{Clock, EmbeddedLedger};
use paychan_node::{Node, NodeConfig, NodeError, NodeEvent, PeerConnection};
use paychan_store::{Durability, Store, sqlite::SqliteStore};
use tokio::sync::mpsc;

const FUNDS: Amount = 1_000_000;
const START: u64 = 1_700_000_000;

fn config() -> NodeConfig {
    NodeConfig {
        request_timeout: Duration::from_millis(500),
        settle_check_interval: Duration::from_millis(20),
        challenge_period: 3_600,
        withdrawal_validity: 60,
        proposal_expiry: Duration::from_secs(1),
        ..NodeConfig::default()
    }
}

async fn node(ledger: &EmbeddedLedger, key: &SigningKey, db: &Path) -> (Node, Arc<SqliteStore>) {
    let store = Arc::new(SqliteStore::open(db, Durability::Normal).unwrap());
    let node = Node::builder()
        .key(key.clone())
        .ledger(Arc::new(ledger.account(key.clone())))
        .store(store.clone())
        .config(config())
        .build()
        .await
        .unwrap();
    (node, store)
}

/// A peer driven by the test frame by frame.
struct RawPeer {
    key: SigningKey,
    to_node: mpsc::Sender<Vec<u8>>,
    from_node: mpsc::Receiver<Vec<u8>>,
}

impl RawPeer {
    async fn connect(node: &Node, seed: u8) -> RawPeer {
        let key = SigningKey::from_entropy(&[seed; 32]).unwrap();
        // `pair(a, b)` gives a's view of b first: the node's view of the raw peer.
        let (node_side, raw_side) = PeerConnection::pair(node.address(), key.address(), 64);
        node.connect(node_side).await;
        RawPeer {
            key,
            to_node: raw_side.outgoing,
            from_node: raw_side.incoming,
        }
    }

    async fn send(&self, message: &Message) {
        self.to_node
            .send(wire::encode(message).unwrap())
            .await
            .unwrap();
    }

    /// The next message from the node that is not a counter sync or a keep-alive.
    async fn next(&mut self) -> Message {
        loop {
            let frame = tokio::time::timeout(Duration::from_secs(10), self.from_node.recv())
                .await
                .expect("the node sends a message")
                .expect("the connection is open");
            match wire::decode(&frame).unwrap() {
                Message::CounterSync { .. } | Message::Ping { .. } | Message::Pong { .. } => {}
                other => return other,
            }
        }
    }
}

pub(crate) async fn wait_until<F, Fut>(what: &str, mut done: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while !done().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting until {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn funded_ledger(keys: &[&SigningKey]) -> EmbeddedLedger {
    let ledger = EmbeddedLedger::in_memory(Clock::manual(START));
    for key in keys {
        ledger.faucet(key.address(), Address::ZERO, FUNDS).unwrap();
    }
    ledger
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_proposal_leaves_nothing_on_the_proposer() {
    let ka = SigningKey::from_entropy(&[61; 32]).unwrap();
    let ledger = funded_ledger(&[&ka]);
    let dir = tempfile::tempdir().unwrap();
    let (a, a_store) = node(&ledger, &ka, &dir.path().join("a.db")).await;
    let mut b = RawPeer::connect(&a, 62).await;
    let proposing = {
        let a = a.clone();
        let peer = b.key.address();
        tokio::spawn(async move { a.create_channel(peer, 10).await })
    };
    let Message::ProposeChannel(p) = b.next().await else {
        panic!("expected a proposal")
    };
    let id = p.params.id(&p.domain);
    assert_eq!(a.channel_info(id).await.unwrap().status, "proposed");
    b.send(&Message::RejectChannel {
        channel_id: id,
        reason: "no thanks".into(),
    })
    .await;
    match proposing.await.unwrap() {
        Err(NodeError::PeerRefused { message, .. }) => assert_eq!(message, "no thanks"),
        other => panic!("expected the refusal, got {other:?}"),
    }
    assert!(a.channels(None).await.is_empty(), "forgotten in memory");
    assert!(
        a_store.channels().await.unwrap().is_empty(),
        "and in the store"
    );
    assert_eq!(
        ledger.balance_of(ka.address(), Address::ZERO).unwrap(),
        FUNDS
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unanswered_proposal_leaves_nothing_on_the_proposer() {
    let ka = SigningKey::from_entropy(&[63; 32]).unwrap();
    let ledger = funded_ledger(&[&ka]);
    let dir = tempfile::tempdir().unwrap();
    let (a, a_store) = node(&ledger, &ka, &dir.path().join("a.db")).await;
    let mut b = RawPeer::connect(&a, 64).await;
    let proposing = {
        let a = a.clone();
        let peer = b.key.address();
        tokio::spawn(async move { a.create_channel(peer, 10).await })
    };
    assert!(matches!(b.next().await, Message::ProposeChannel(_)));
    // B never answers.
    assert!(matches!(
        proposing.await.unwrap(),
        Err(NodeError::Timeout(_))
    ));
    assert!(a.channels(None).await.is_empty());
    assert!(a_store.channels().await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_accepted_proposal_never_opened_expires_and_stays_gone() {
    let kb = SigningKey::from_entropy(&[65; 32]).unwrap();
    let ledger = funded_ledger(&[&kb]);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("b.db");
    let (b, b_store) = node(&ledger, &kb, &db).await;
    let mut events = b.subscribe();
    let mut a = RawPeer::connect(&b, 66).await;
    let params = ChannelParams {
        party_a: a.key.address(),
        party_b: b.address(),
        token: Address::ZERO,
        challenge_period: 3_600,
        nonce: paychan_core::keccak256(b"never opened"),
    };
    let id = params.id(&b.domain());
    a.send(&Message::ProposeChannel(ProposeChannel {
        params,
        domain: b.domain(),
        deposit: 100,
    }))
    .await;
    assert!(matches!(a.next().await, Message::AcceptChannel { channel_id } if channel_id == id));
    assert_eq!(b.channel_info(id).await.unwrap().status, "proposed");
    // A never opens it: it expires after `proposal_expiry` (1 s here).
    wait_until("B forgets the unopened channel", || async {
        b.channels(None).await.is_empty()
    })
    .await;
    assert!(b_store.channels().await.unwrap().is_empty());
    let expired = loop {
        match events.recv().await.unwrap() {
            NodeEvent::ProposalExpired { channel_id, peer } => break (channel_id, peer),
            _ => continue,
        }
    };
    assert_eq!(expired, (id, a.key.address()));
    b.shutdown();
    drop((b, b_store));
    let (b, _) = node(&ledger, &kb, &db).await;
    assert!(
        b.channels(None).await.is_empty(),
        "still gone after a restart"
    );
}

/// A channel A opened on the ledger with a raw peer B (no proposal), with A's deposit.
async fn opened_with_raw_peer(
    seed: u8,
) -> (
    EmbeddedLedger,
    Node,
    RawPeer,
    paychan_core::ChannelId,
    tempfile::TempDir,
) {
    let ka = SigningKey::from_entropy(&[seed; 32]).unwrap();
    let ledger = funded_ledger(&[&ka]);
    let dir = tempfile::tempdir().unwrap();
    let (a, _) = node(&ledger, &ka, &dir.path().join("a.db")).await;
    let b = RawPeer::connect(&a, seed.wrapping_add(1)).await;
    let id = a
        .open_channel_on_ledger(b.key.address(), 1_000)
        .await
        .unwrap();
    assert_eq!(
        a.channel_info(id).await.unwrap().balances.my_available,
        1_000
    );
    (ledger, a, b, id, dir)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_withdrawal_is_released_at_once() {
    let (_ledger, a, mut b, id, _dir) = opened_with_raw_peer(67).await;
    for round in 0..2 {
        let withdrawing = {
            let a = a.clone();
            tokio::spawn(async move { a.withdraw(id, 400).await })
        };
        let Message::WithdrawRequest { .. } = b.next().await else {
            panic!("round {round}: expected a withdrawal request")
        };
        b.send(&Message::Error {
            channel_id: Some(id),
            request_id: None,
            error: ErrorBody::new(ErrorBody::CERTIFICATE_REJECTED, "not now"),
        })
        .await;
        match withdrawing.await.unwrap() {
            Err(NodeError::PeerRefused { message, .. }) => assert_eq!(message, "not now"),
            other => panic!("round {round}: expected the refusal, got {other:?}"),
        }
        assert_eq!(
            a.channel_info(id).await.unwrap().balances.my_available,
            1_000,
            "round {round}: nothing stays reserved"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unanswered_withdrawal_is_released_when_it_expires() {
    let (ledger, a, mut b, id, _dir) = opened_with_raw_peer(69).await;
    let withdrawing = {
        let a = a.clone();
        tokio::spawn(async move { a.withdraw(id, 400).await })
    };
    assert!(matches!(b.next().await, Message::WithdrawRequest { .. }));
    assert!(matches!(
        withdrawing.await.unwrap(),
        Err(NodeError::Timeout(_))
    ));
    // The peer may have co-signed: reserved until the certificate expires.
    assert_eq!(a.channel_info(id).await.unwrap().balances.my_available, 600);
    assert!(matches!(
        a.withdraw(id, 1).await,
        Err(NodeError::Command(CommandError::WithdrawalPending))
    ));
    // Released at the expiry, not before (the core's unit tests pin the exact second).
    ledger.clock().advance(60);
    wait_until("A releases the expired certificate", || async {
        a.channel_info(id).await.unwrap().balances.my_available == 1_000
    })
    .await;
    let withdrawing = {
        let a = a.clone();
        tokio::spawn(async move { a.withdraw(id, 300).await })
    };
    let Message::WithdrawRequest { withdrawal, .. } = b.next().await else {
        panic!("expected a new withdrawal request")
    };
    assert_eq!(withdrawal.total_withdrawn, 300);
    withdrawing.abort();
}
