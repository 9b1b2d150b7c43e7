//! The event index: confirmations, reorganisations shallower and deeper than the depth, and a
//! cursor that survives restarts.

use std::time::Duration;

use alloy::{
    network::EthereumWallet,
    providers::{Provider, ProviderBuilder},
    signers::local::PrivateKeySigner,
};
use futures::StreamExt;
use paychan_core::{B256, ChannelParams, Role, adjudicator::LedgerEvent};
use paychan_eth::{
    EthConfig, EthLedger,
    anvil::ANVIL_CHAIN_ID,
    bindings::PaychanAdjudicator,
    testkit::{EthHarness, test_key},
};
use paychan_ledger::{LedgerError, LedgerEvents, LedgerFunding, LedgerQuery, testkit::Harness};
use serde_json::json;

fn config(h: &EthHarness) -> EthConfig {
    let mut c = EthConfig::new(h.url(), h.deployment().address, ANVIL_CHAIN_ID);
    c.start_block = h.deployment().block;
    c.confirmations = 1;
    c.poll_interval = Duration::from_millis(10);
    c
}

fn params(case: &str, nonce: u8, token: paychan_core::Address) -> ChannelParams {
    ChannelParams {
        party_a: test_key(&format!("{case}/alice")).address(),
        party_b: test_key(&format!("{case}/bob")).address(),
        token,
        challenge_period: 3_600,
        nonce: B256::repeat_byte(nonce),
    }
}

async fn rpc(h: &EthHarness, method: &'static str, params: serde_json::Value) -> serde_json::Value {
    h.ledger()
        .provider()
        .raw_request(method.into(), params)
        .await
        .unwrap_or_else(|e| panic!("{method}: {e}"))
}

/// Mines a block every 20 ms until dropped.
struct Miner(tokio::task::JoinHandle<()>);

impl Miner {
    fn start(h: &EthHarness) -> Miner {
        let provider = h.ledger().provider().clone();
        Miner(tokio::spawn(async move {
            loop {
                let _: Result<serde_json::Value, _> =
                    provider.raw_request("evm_mine".into(), ()).await;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }))
    }
}

impl Drop for Miner {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_wait_for_confirmations_and_ignore_shallow_reorgs() {
    let case = "confirmations";
    let h = EthHarness::start(true, 3)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let ka = test_key(&format!("{case}/alice"));
    let a = h.account(ka.clone()).await;
    let p = params(case, 1, h.asset());
    let id = p.id(&a.domain().await.unwrap());
    {
        // Every confirmed transaction needs blocks on top of it.
        let _miner = Miner::start(&h);
        h.fund(ka.address(), 1_000).await;
        let r = a.open(&p, 100).await.unwrap();
        assert_eq!(r.events.len(), 1);
        assert_eq!(r.events[0].cursor, 0);
        // Returned only once 3 blocks hold it (its own and two on top).
        let head = h.ledger().provider().get_block_number().await.unwrap();
        let block = h.ledger().index().from_cursor(0, 1).await[0].block;
        assert!(
            head >= block + 2,
            "returned at head {head} for block {block}"
        );
    }
    let index = h.ledger().index();
    assert_eq!(index.len().await, 1);

    // A close sent behind the ledger's back, mined but not confirmed: not an event yet.
    let snapshot = rpc(&h, "evm_snapshot", json!([])).await;
    let signer = PrivateKeySigner::from_bytes(&B256::from(ka.to_bytes())).unwrap();
    let wallet = ProviderBuilder::new()
        .wallet(EthereumWallet::from(signer))
        .connect_http(h.url().parse().unwrap());
    let hash = *PaychanAdjudicator::new(h.deployment().address, &wallet)
        .startClose(id.0)
        .send()
        .await
        .unwrap()
        .tx_hash();
    // Anvil mines on arrival, but a loaded machine may take a moment to answer for it.
    let mut receipt = None;
    for _ in 0..100 {
        receipt = wallet.get_transaction_receipt(hash).await.unwrap();
        if receipt.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let receipt = receipt.expect("mined within 5 s");
    assert!(receipt.status());
    let mut stream = a.events(1).await.unwrap();
    for depth in 1..=2 {
        index.sync().await.unwrap();
        assert_eq!(index.len().await, 1, "indexed at depth {depth} of 3");
        assert!(
            tokio::time::timeout(Duration::from_millis(200), stream.next())
                .await
                .is_err(),
            "an unconfirmed event was delivered at depth {depth}"
        );
        if depth == 1 {
            rpc(&h, "evm_mine", json!([])).await;
        }
    }
    // The two blocks are replaced (a reorganisation of depth 2 < 3): the close never happened.
    assert_eq!(rpc(&h, "evm_revert", json!([snapshot])).await, json!(true));
    rpc(&h, "anvil_mine", json!(["0x5"])).await;
    index.sync().await.unwrap();
    assert_eq!(
        index.len().await,
        1,
        "the reorganised close was never indexed"
    );
    assert!(matches!(
        a.channel(id).await.unwrap().unwrap().status,
        paychan_core::adjudicator::ChannelStatus::Open
    ));

    // The real close gets cursor 1, and the stream delivers it.
    let _miner = Miner::start(&h);
    let r = paychan_ledger::LedgerClose::start_close(&a, id, None)
        .await
        .unwrap();
    assert_eq!(r.events[0].cursor, 1);
    let got = tokio::time::timeout(Duration::from_secs(5), stream.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(got, r.events[0]);
    assert!(matches!(got.event, LedgerEvent::CloseStarted { .. }));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reorg_deeper_than_the_confirmations_is_reported() {
    let case = "deep-reorg";
    let h = EthHarness::with_token().await;
    let ka = test_key(&format!("{case}/alice"));
    let a = h.account(ka.clone()).await;
    let snapshot = rpc(&h, "evm_snapshot", json!([])).await;
    h.fund(ka.address(), 1_000).await;
    a.open(&params(case, 1, h.asset()), 100).await.unwrap();
    assert_eq!(rpc(&h, "evm_revert", json!([snapshot])).await, json!(true));
    rpc(&h, "anvil_mine", json!(["0xa"])).await;
    match h.ledger().index().sync().await {
        Err(e @ LedgerError::Unavailable(_)) => {
            assert!(e.to_string().contains("reorganisation"), "{e}")
        }
        other => panic!("a deep reorg must be reported, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cursor_survives_a_restart() {
    let case = "restart";
    let h = EthHarness::with_token().await;
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(&h);
    cfg.index_dir = Some(dir.path().join("index"));
    let ka = test_key(&format!("{case}/alice"));
    h.account(ka.clone()).await; // gas money
    h.fund(ka.address(), 1_000).await;
    let p = params(case, 1, h.asset());
    let id = p.id(&h.ledger().account(&ka).unwrap().domain().await.unwrap());

    let first = EthLedger::connect(cfg.clone()).await.unwrap();
    let a = first.account(&ka).unwrap();
    let mut seen = a.open(&p, 100).await.unwrap().events;
    seen.extend(a.deposit(id, Role::B, 20).await.unwrap().events);
    let next_block = first.index().next_block().await;
    drop((a, first));

    // A torn, uncounted line (a crash between appending and updating the cursor).
    let events_file = dir.path().join("index/events.jsonl");
    let mut text = std::fs::read_to_string(&events_file).unwrap();
    assert_eq!(text.lines().count(), 2);
    text.push_str("{\"record\":");
    std::fs::write(&events_file, text).unwrap();

    let second = EthLedger::connect(cfg.clone()).await.unwrap();
    assert_eq!(second.index().len().await, 2, "loaded without rescanning");
    assert_eq!(second.index().next_block().await, next_block);
    let replay: Vec<_> = second
        .events(0)
        .await
        .unwrap()
        .take(2)
        .map(|r| r.unwrap())
        .collect()
        .await;
    assert_eq!(replay, seen);
    let a = second.account(&ka).unwrap();
    let r = a.deposit(id, Role::A, 5).await.unwrap();
    assert_eq!(r.events[0].cursor, 2);
    let text = std::fs::read_to_string(&events_file).unwrap();
    assert_eq!(text.lines().count(), 3, "the torn line was cut off");

    // The same directory for another contract is refused.
    let other = h
        .deploy(paychan_eth::deploy::adjudicator_code(
            paychan_eth::CHALLENGE_PERIOD_FLOOR,
        ))
        .await;
    let mut wrong = cfg;
    wrong.contract = other;
    match EthLedger::connect(wrong).await {
        Err(LedgerError::Invalid(m)) => assert!(m.contains("indexes contract"), "{m}"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_node_is_unavailable_and_a_wrong_chain_is_refused() {
    let h = EthHarness::with_token().await;
    let mut cfg = config(&h);
    cfg.max_retries = 0;
    let mut down = cfg.clone();
    down.rpc_url = "http://127.0.0.1:1".into();
    match EthLedger::connect(down).await {
        Err(e @ LedgerError::Unavailable(_)) => assert!(!e.is_final()),
        other => panic!("{other:?}"),
    }
    let mut chain = cfg.clone();
    chain.chain_id = 1;
    assert!(matches!(
        EthLedger::connect(chain).await,
        Err(LedgerError::Invalid(_))
    ));
    let mut not_a_contract = cfg;
    not_a_contract.contract = test_key("nobody").address();
    assert!(matches!(
        EthLedger::connect(not_a_contract).await,
        Err(LedgerError::Invalid(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_that_stops_polling_never_blocks_the_index() {
    // A watcher `select!`s between its event stream and a timer: when the timer wins, the
    // stream's pending step is parked, possibly in the middle of a scan. Nothing it holds may
    // block the next transaction's wait for its events.
    let h = EthHarness::with_token().await;
    let mut stream = h.ledger().events(0).await.unwrap();
    for round in 0..40 {
        let _ = tokio::time::timeout(Duration::from_micros(300), stream.next()).await;
        h.mine(1).await;
        tokio::time::timeout(Duration::from_secs(10), h.ledger().index().sync())
            .await
            .unwrap_or_else(|_| panic!("round {round}: the index is blocked by a parked reader"))
            .unwrap();
    }
}
