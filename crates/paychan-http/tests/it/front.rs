//! Fronts: three reverse proxies whose paywalls verify against one shared store
//! (`StorePayee`), with no payee node in the process. The same package presented to two
//! fronts at the same instant is served once and counted once, every time. Each front signs
//! its receipts with a key of its own under the payee's certificate, and the payer accepts
//! them for the payee.

use std::sync::Arc;

use axum::{Router, routing::get};
use paychan_core::{Amount, ChannelId, front::SignedFrontCertificate};
use paychan_http::{
    Challenge, Paywall, Verifier, client::read_receipt, header::authorization, proxy,
};
use paychan_ledger::LedgerQuery;
use paychan_node::{ChannelPolicy, front::StorePayee, testkit};
use paychan_store::{Direction, Durability, SqliteStore, Store};

use crate::harness::serve;

const PRICE: Amount = 10;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_same_package_at_two_fronts_at_once_is_served_and_counted_once() {
    let net = testkit::Net::builder().seed(81).build().await;
    let payee = net.c.address();
    let upstream = serve(Router::new().route("/hello", get(|| async { "hello" }))).await;
    let store =
        Arc::new(SqliteStore::open(net.dir.path().join("fronts.db"), Durability::Normal).unwrap());
    let ledger: Arc<dyn LedgerQuery> = Arc::new(net.ledger.account(net.a.key.clone()));
    let domain = net.a.domain();
    let mut fronts = vec![];
    let mut front_keys = vec![];
    for n in 0..3u8 {
        // The payee certifies the front's own key once; the front never sees the payee's.
        let front_key = paychan_core::SigningKey::from_entropy(&[0xf0 + n; 32]).unwrap();
        let certificate =
            SignedFrontCertificate::sign(&net.c.key, front_key.address(), u64::MAX, &domain);
        front_keys.push(front_key.address());
        let verifier: Arc<dyn Verifier> = Arc::new(
            StorePayee::new(
                payee,
                store.clone(),
                ledger.clone(),
                ChannelPolicy::default(),
            )
            .await
            .unwrap(),
        );
        let challenge = Challenge {
            price: PRICE,
            payee,
            chain_id: domain.chain_id(),
            contract: domain.verifying_contract(),
            node: None,
        };
        let paywall = Paywall::new(verifier, challenge)
            .bind_requests(false)
            .sign_receipts_as_front(front_key, certificate);
        let router = proxy::router(
            format!("http://{upstream}").parse().unwrap(),
            reqwest::Client::new(),
            paywall,
        );
        fronts.push(serve(router).await);
    }
    let id = net.a.open_channel_on_ledger(payee, 100_000).await.unwrap();
    let http = reqwest::Client::new();

    let rounds = 200;
    for round in 0..rounds {
        let package = net.a.create_payment_package(id, PRICE, None).await.unwrap();
        let header = authorization(&package.to_compact());
        let (x, y) = (fronts[round % 3], fronts[(round + 1) % 3]);
        let call = |front| {
            http.get(format!("http://{front}/hello"))
                .header("authorization", header.clone())
                .send()
        };
        let (first, second) = tokio::join!(call(x), call(y));
        let (first, second) = (first.unwrap(), second.unwrap());
        for answer in [&first, &second] {
            if answer.status().is_success() {
                let receipt = read_receipt(answer.headers()).unwrap().unwrap();
                let signer = receipt.signer_for(payee, &domain, 0).unwrap();
                assert!(front_keys.contains(&signer), "signed by {signer}");
                assert!(!receipt.is_signed_by(payee), "the payee's key is not there");
            }
        }
        let statuses = [first.status(), second.status()];
        let served = statuses.iter().filter(|s| s.is_success()).count();
        assert_eq!(served, 1, "round {round}: {statuses:?}");
        assert!(statuses.iter().all(|s| s.is_success() || s.as_u16() == 402));
    }
    assert_eq!(
        counted(&store, id).await,
        (rounds, rounds as Amount * PRICE)
    );
}

/// The payments C's store counted in channel `id`: how many, and their total.
async fn counted(store: &SqliteStore, id: ChannelId) -> (usize, Amount) {
    let payments = store
        .payments(id, Direction::Incoming, 10_000, None)
        .await
        .unwrap();
    (payments.len(), payments.iter().map(|p| p.amount).sum())
}
