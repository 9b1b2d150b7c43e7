//! The 402 flow end to end, concurrent calls, and budgets.

use paychan_http::{Challenge, ClientConfig, HttpPayError, PaymentError, client::host_key};
use serde_json::Value;

use crate::harness::{Net, PRICE, api, serve};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_402_is_answered_by_paying_and_the_call_is_served_with_a_receipt() {
    let net = Net::new().await;
    let addr = serve(api(&net.paywall())).await;
    let url = format!("http://{addr}/weather?city=Oslo");

    // Without payment: 402, the challenge in the header and the body.
    let bare = reqwest::get(&url).await.unwrap();
    assert_eq!(bare.status(), 402);
    let header = bare.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned();
    let challenge = Challenge::parse(&header).unwrap();
    assert_eq!(challenge.price, PRICE);
    assert_eq!(challenge.payee, net.b.address());
    assert_eq!(challenge.chain_id, net.b.domain().chain_id());
    assert_eq!(challenge.contract, net.b.domain().verifying_contract());
    let body: PaymentError = bare.json().await.unwrap();
    assert_eq!(body.error, PaymentError::PAYMENT_REQUIRED);
    assert_eq!(body.challenge, challenge);
    // Free paths are free.
    let health = reqwest::get(format!("http://{addr}/health")).await.unwrap();
    assert_eq!(health.status(), 200);

    let client = net.client(ClientConfig::default());
    for n in 1..=3u128 {
        let paid = client.get(&url).await.unwrap();
        assert_eq!(paid.response.status(), 200);
        assert_eq!(paid.paid, PRICE);
        let receipt = paid.receipt.clone().expect("a receipt");
        assert!(receipt.is_signed_by(net.b.address()));
        assert_eq!(receipt.amount, PRICE);
        assert_eq!(receipt.cumulative, n * PRICE);
        assert_eq!(receipt.payer, net.a.address());
        assert_eq!(receipt.request, "GET /weather?city=Oslo");
        let json: Value = paid.response.json().await.unwrap();
        assert_eq!(json["paid"], PRICE.to_string());
    }
    // One channel, opened on the ledger at first contact and reused.
    let key = host_key(&url.parse().unwrap());
    assert_eq!(client.channels(&key).await, 1);
    assert_eq!(client.spent(&key).await, 3 * PRICE);
    assert_eq!(net.b_received().await, 3 * PRICE);
    assert_eq!(net.a_paid().await, 3 * PRICE);
    let free = client.get(&format!("http://{addr}/health")).await.unwrap();
    assert_eq!((free.response.status().as_u16(), free.paid), (200, 0));

    // A price that is a function of the request.
    let premium = client
        .get(&format!("http://{addr}/premium/7"))
        .await
        .unwrap();
    assert_eq!((premium.response.status().as_u16(), premium.paid), (200, 7));
    assert_eq!(net.b_received().await, 3 * PRICE + 7);
    // More than the client pays for one call: refused before paying.
    let dear = client.get(&format!("http://{addr}/premium/1000")).await;
    assert!(
        matches!(dear, Err(HttpPayError::TooExpensive { price: 1000, .. })),
        "{dear:?}"
    );
    assert_eq!(net.a_paid().await, 3 * PRICE + 7);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_calls_each_pay_once() {
    let net = Net::new().await;
    let addr = serve(api(&net.paywall())).await;
    let client = net.client(ClientConfig {
        max_channels: 3,
        ..ClientConfig::default()
    });
    let calls = 40;
    let mut tasks = Vec::new();
    for i in 0..calls {
        let client = client.clone();
        let url = format!("http://{addr}/weather?call={i}");
        tasks.push(tokio::spawn(async move { client.get(&url).await }));
    }
    for task in tasks {
        let paid = task.await.unwrap().unwrap();
        assert_eq!((paid.response.status().as_u16(), paid.paid), (200, PRICE));
    }
    let key = format!("http://{addr}");
    let key = host_key(&key.parse().unwrap());
    assert!(client.channels(&key).await <= 3);
    // Every call paid exactly once: the payer's counters, the payee's and the client's agree.
    assert_eq!(net.a_paid().await, calls * PRICE);
    assert_eq!(net.b_received().await, calls * PRICE);
    assert_eq!(client.spent(&key).await, calls * PRICE);

    // A second client (another node's view of the same payee) in parallel with the first.
    let other = net.client(ClientConfig::default());
    let url = format!("http://{addr}/weather");
    let (x, y) = tokio::join!(client.get(&url), other.get(&url));
    assert_eq!(x.unwrap().paid + y.unwrap().paid, 2 * PRICE);
    assert_eq!(net.b_received().await, (calls + 2) * PRICE);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exhausted_budget_is_a_clear_error_and_pays_nothing() {
    let net = Net::new().await;
    let addr = serve(api(&net.paywall())).await;
    let client = net.client(ClientConfig {
        budget_per_host: 25,
        ..ClientConfig::default()
    });
    let url = format!("http://{addr}/weather");
    for _ in 0..2 {
        assert_eq!(client.get(&url).await.unwrap().paid, PRICE);
    }
    let refused = client.get(&url).await;
    match refused {
        Err(HttpPayError::BudgetExhausted {
            budget,
            spent,
            price,
            ..
        }) => assert_eq!((budget, spent, price), (25, 20, PRICE)),
        other => panic!("expected an exhausted budget, got {other:?}"),
    }
    let message = client.get(&url).await.unwrap_err().to_string();
    assert!(
        message.contains("budget") && message.contains("exhausted"),
        "{message}"
    );
    // A cheaper call still fits.
    assert_eq!(
        client
            .get(&format!("http://{addr}/premium/5"))
            .await
            .unwrap()
            .paid,
        5
    );
    assert_eq!(net.a_paid().await, 25);
    assert_eq!(net.b_received().await, 25);
    // The deposit was capped by the budget.
    let channels = net.a.channels(None).await;
    assert_eq!(channels.len(), 1);
    assert_eq!(channels[0].balances.my_deposit, 25);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_with_commas_and_quotes_gets_a_readable_receipt() {
    // Issue 21, defect 1: the receipt of `GET /weather?city=a,b` did not parse and the
    // client dropped it without a word.
    let net = Net::new().await;
    let addr = serve(api(&net.paywall())).await;
    let client = net.client(ClientConfig::default());
    let paid = client
        .get(&format!("http://{addr}/weather?city=a,b&q=%22x%22"))
        .await
        .unwrap();
    assert_eq!(paid.response.status(), 200);
    assert_eq!(paid.receipt_error, None);
    let receipt = paid.receipt.expect("a receipt");
    assert_eq!(receipt.request, "GET /weather?city=a,b&q=%22x%22");
    assert!(receipt.is_signed_by(net.b.address()));
}
