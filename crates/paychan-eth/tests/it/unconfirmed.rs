//! A deposit counts once it has the ledger's confirmation depth: before that, `channel`
//! (what the node counts) leaves it out and `channel_unconfirmed` (what a payee may give
//! credit against, within its limits) shows it.

use alloy::{
    network::EthereumWallet,
    primitives::U256,
    providers::{Provider, ProviderBuilder},
    signers::local::PrivateKeySigner,
};
use paychan_core::B256;
use paychan_eth::{
    bindings::PaychanAdjudicator,
    testkit::{EthHarness, test_key},
};
use paychan_ledger::{LedgerFunding, LedgerQuery, testkit::Harness};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deposit_counts_once_confirmed_and_shows_unconfirmed_before() {
    let case = "unconfirmed-deposit";
    let h = EthHarness::start(false, 3)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let ka = test_key(&format!("{case}/alice"));
    let a = h.account(ka.clone()).await;
    let p = paychan_core::ChannelParams {
        party_a: ka.address(),
        party_b: test_key(&format!("{case}/bob")).address(),
        token: h.asset(),
        challenge_period: 3_600,
        nonce: B256::repeat_byte(3),
    };
    let id = p.id(&a.domain().await.unwrap());
    h.fund(ka.address(), 1_000).await;
    // The open waits for its 3 confirmations: a block miner keeps blocks coming meanwhile.
    let provider = h.ledger().provider().clone();
    let miner = tokio::spawn(async move {
        loop {
            let _: Result<serde_json::Value, _> = provider.raw_request("evm_mine".into(), ()).await;
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    });
    a.open(&p, 100).await.unwrap();
    miner.abort();
    let _ = miner.await;

    // 50 more, sent straight to the contract and mined in one block: not confirmed yet (the
    // wallet pays the tip that alloy adds, so it gets ETH for gas first).
    let _: serde_json::Value = h
        .ledger()
        .provider()
        .raw_request(
            "anvil_setBalance".into(),
            (ka.address(), U256::from(10u128.pow(20))),
        )
        .await
        .unwrap();
    let signer = PrivateKeySigner::from_bytes(&B256::from(ka.to_bytes())).unwrap();
    let wallet = ProviderBuilder::new()
        .wallet(EthereumWallet::from(signer))
        .connect_http(h.url().parse().unwrap());
    let receipt = PaychanAdjudicator::new(h.deployment().address, &wallet)
        .deposit(id.0, 0, U256::from(50))
        .value(U256::from(50))
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    assert!(receipt.status());
    let deposited = |confirmed: bool| {
        let a = a.clone();
        async move {
            let record = if confirmed {
                a.channel(id).await
            } else {
                a.channel_unconfirmed(id).await
            };
            record.unwrap().unwrap().deposited.a
        }
    };
    for depth in 1..=2 {
        assert_eq!(deposited(true).await, 100, "counted at depth {depth} of 3");
        assert_eq!(deposited(false).await, 150);
        let _: serde_json::Value = h
            .ledger()
            .provider()
            .raw_request("evm_mine".into(), json!([]))
            .await
            .unwrap();
    }
    assert_eq!(deposited(true).await, 150, "confirmed at depth 3");
    assert_eq!(deposited(false).await, 150);
}
