//! A close faster than the watcher (issue 20): a payee whose ledger needs 40 confirmations of
//! 120 s blocks sees a close only 4,800 s after it started. The old policy accepted any
//! challenge period from 60 s, and the contract accepts one hour: a payer that opens with one
//! hour, gets served, starts a close without a voucher and settles after 30 blocks takes back
//! everything it paid before the payee's watcher has seen the close. The node now refuses,
//! at proposal time and at start-up, a challenge period its ledger settings cannot defend,
//! saying why and what it accepts.

use std::{sync::Arc, time::Duration};

use paychan_core::{Amount, SigningKey};
use paychan_eth::{
    CHALLENGE_PERIOD_FLOOR, EthAccount, EthLedger,
    testkit::{EthHarness, test_key},
};
use paychan_ledger::{LedgerQuery, testkit::Harness};
use paychan_net::{LinkConfig, ListenConfig, PeerAddr};
use paychan_node::{Node, NodeConfig, NodeError, net};
use paychan_store::{Durability, sqlite::SqliteStore};

const CONFIRMATIONS: u64 = 40;
const BLOCK_TIME: u64 = 120;
/// What the payee needs: 2 × ((40 × 120 + 1) + (120 + 40 × 120)) seconds.
const FLOOR: u64 = 2 * ((CONFIRMATIONS * BLOCK_TIME + 1) + (120 + CONFIRMATIONS * BLOCK_TIME));

async fn node(
    key: &SigningKey,
    ledger: EthAccount,
    dir: &std::path::Path,
    name: &str,
    challenge_period: u64,
) -> Result<Node, NodeError> {
    let store = SqliteStore::open(dir.join(format!("{name}.db")), Durability::Normal).unwrap();
    Node::builder()
        .key(key.clone())
        .ledger(Arc::new(ledger))
        .store(Arc::new(store))
        .config(NodeConfig {
            challenge_period,
            ..NodeConfig::default()
        })
        .build()
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_challenge_period_the_watcher_cannot_answer_in_is_refused() {
    let h = EthHarness::native().await;
    let dir = tempfile::tempdir().unwrap();
    let (ka, kb) = (test_key("slow-chain/alice"), test_key("slow-chain/bob"));
    h.fund(ka.address(), 1_000_000).await;
    // The payer's ledger: the devnet's (1 confirmation): a one-hour period is fine for it.
    let la = h.account(ka.clone()).await;
    assert!(la.challenge_floor().await.unwrap().seconds <= CHALLENGE_PERIOD_FLOOR);
    // The payee's: 40 confirmations of 120 s blocks.
    let mut config = h.ledger().config().clone();
    config.confirmations = CONFIRMATIONS;
    config.block_time = Duration::from_secs(BLOCK_TIME);
    let slow = EthLedger::connect(config).await.unwrap();
    let lb = slow.account(&kb).unwrap();
    let floor = lb.challenge_floor().await.unwrap();
    assert_eq!(floor.seconds, FLOOR);
    // Under the old policy the payer wins: the deadline passes after 30 blocks, the payee
    // sees the close after 40.
    const { assert!(CHALLENGE_PERIOD_FLOOR / BLOCK_TIME < CONFIRMATIONS) };

    // At start-up: a payee configured to open one-hour channels does not start.
    let refused = node(
        &kb,
        lb.clone(),
        dir.path(),
        "bob-short",
        CHALLENGE_PERIOD_FLOOR,
    )
    .await
    .expect_err("a node that could not defend its own channels started");
    let text = refused.to_string();
    assert!(
        matches!(refused, NodeError::InvalidConfig(_)),
        "{refused:?}"
    );
    assert!(
        text.contains(&format!("set challenge_period to {FLOOR} s or more"))
            && text.contains("40 confirmations of 120 s blocks"),
        "{text}"
    );

    // At proposal time: the payer proposes one hour, the payee refuses and says what it
    // accepts.
    let alice = node(&ka, la, dir.path(), "alice", CHALLENGE_PERIOD_FLOOR)
        .await
        .unwrap();
    let bob = node(&kb, lb, dir.path(), "bob", 86_400).await.unwrap();
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
    tokio::time::timeout(Duration::from_secs(30), async {
        while !alice.is_connected(kb.address()) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("Alice connects");
    let deposit: Amount = 10_000;
    let refused = alice
        .create_channel(kb.address(), deposit)
        .await
        .expect_err("the payee accepted a challenge period it cannot defend");
    let text = refused.to_string();
    assert!(
        text.contains("too short for this node to answer a close")
            && text.contains(&format!("it accepts {FLOOR} to 2592000 s")),
        "{text}"
    );
    assert!(bob.channels(None).await.is_empty());
    alice.shutdown();
    bob.shutdown();
}
