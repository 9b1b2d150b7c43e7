//! Channel proposals decided over B's API: announced with their expiry, listed, accepted,
//! rejected with a reason, or rejected at the expiry; a rejected proposal leaves no channel
//! and moves no money on either side.

use std::time::Duration;

use jsonrpsee::core::client::{Subscription, SubscriptionClientT};
use paychan_rpc::{RpcConfig, RpcServer, RpcServerBuilder, client, method};
use serde_json::{Value, json};

use crate::harness::{Net, TOKEN, call, err, ok, wait_status};

/// A second API server on B that decides proposals over the API with `window`.
async fn deciding(net: &Net, window: Duration) -> RpcServer {
    let config = RpcConfig::new(TOKEN).with_listen("127.0.0.1:0".parse().unwrap());
    RpcServerBuilder::new(net.b.clone(), config)
        .proposal_decisions(window)
        .start()
        .await
        .unwrap()
}

async fn next(proposals: &mut Subscription<Value>) -> Value {
    tokio::time::timeout(Duration::from_secs(10), proposals.next())
        .await
        .expect("no proposal was announced")
        .unwrap()
        .unwrap()
}

/// A's `open_channel` to B with `deposit`, in the background.
fn propose(net: &Net, deposit: u64) -> tokio::task::JoinHandle<Result<Value, String>> {
    let http = net.http_a();
    let peer = net.b.address();
    tokio::spawn(async move {
        call(
            &http,
            method::OPEN_CHANNEL,
            json!({ "peer": peer, "deposit": deposit }),
        )
        .await
        .map_err(|e| e.to_string())
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proposals_are_accepted_or_rejected_over_the_api() {
    let net = Net::new(true).await;
    let server = deciding(&net, Duration::from_secs(60)).await;
    let ws = client::ws(&server.ws_url(), TOKEN).await.unwrap();
    let http = client::http(&server.url(), TOKEN).unwrap();
    let mut proposals: Subscription<Value> = ws
        .subscribe(
            method::SUBSCRIBE_PROPOSALS,
            client::no_params(),
            method::UNSUBSCRIBE_PROPOSALS,
        )
        .await
        .unwrap();

    // Accepted: A's open returns the channel the notification named.
    let opening = propose(&net, 300);
    let proposal = next(&mut proposals).await;
    assert_eq!(proposal["peer"], json!(net.a.address()));
    assert_eq!(proposal["deposit"], "300");
    let received = proposal["received_at_ms"].as_u64().unwrap();
    assert_eq!(
        proposal["expires_at_ms"].as_u64().unwrap(),
        received + 60_000
    );
    assert_eq!(
        ok(&http, method::LIST_PROPOSALS, json!({})).await,
        json!([proposal])
    );
    let id = proposal["channel_id"].clone();
    assert_eq!(
        ok(&http, method::ACCEPT_PROPOSAL, json!({ "channel_id": id })).await,
        json!(true)
    );
    let opened = opening.await.unwrap().unwrap();
    assert_eq!(opened["channel_id"], id);
    wait_status(&net.http_b(), &id, "open").await;
    assert_eq!(
        ok(&http, method::LIST_PROPOSALS, json!({})).await,
        json!([])
    );
    // Decided once: deciding again is refused.
    let (_, data) = err(&http, method::REJECT_PROPOSAL, json!({ "channel_id": id })).await;
    assert_eq!(data.code, 1912);

    // Rejected with a reason: A's open fails with it; nothing changed on either side.
    let before = net.snapshot().await;
    let opening = propose(&net, 200);
    let proposal = next(&mut proposals).await;
    ok(
        &http,
        method::REJECT_PROPOSAL,
        json!({ "channel_id": proposal["channel_id"], "reason": "not with strangers" }),
    )
    .await;
    let refused = opening.await.unwrap().unwrap_err();
    assert!(refused.contains("not with strangers"), "{refused}");
    assert_eq!(net.snapshot().await, before);
    net.conserved();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_undecided_proposal_is_rejected_at_its_expiry() {
    let net = Net::new(true).await;
    let server = deciding(&net, Duration::from_millis(300)).await;
    let http = client::http(&server.url(), TOKEN).unwrap();
    let before = net.snapshot().await;
    let refused = propose(&net, 100).await.unwrap().unwrap_err();
    assert!(refused.contains("no decision within 300 ms"), "{refused}");
    assert_eq!(net.snapshot().await, before);
    // Too late to accept: nothing waits any more.
    assert_eq!(
        ok(&http, method::LIST_PROPOSALS, json!({})).await,
        json!([])
    );
    let a_channel = json!(format!("0x{}", "11".repeat(32)));
    let (_, data) = err(
        &http,
        method::ACCEPT_PROPOSAL,
        json!({ "channel_id": a_channel }),
    )
    .await;
    assert_eq!(data.code, 1912);
    // A's API does not decide proposals: it says how to turn it on.
    let (_, data) = err(&net.http_a(), method::LIST_PROPOSALS, json!({})).await;
    assert_eq!(data.code, 1911);
    assert!(
        data.message.contains("rpc.proposal_decisions"),
        "{}",
        data.message
    );
}
