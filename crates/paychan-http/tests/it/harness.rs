//! An embedded ledger, a paying node A, a payee node B (and C, another payee), and B's paid
//! API served by axum on a loopback port.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use axum::{Json, Router, extract::Extension, routing::get};
use paychan_core::{Amount, SigningKey};
use paychan_http::{
    ClientConfig, PaidStreams, PayingClient, Paywall, Verifier, verifier::challenge_of,
};
use paychan_ledger::EmbeddedLedger;
use paychan_node::{ChannelInfo, Node, VerifiedPayment, testkit};
use serde_json::{Value, json};

pub use paychan_node::testkit::wait_until;
pub const PRICE: Amount = 10;

pub struct Net {
    pub _ledger: EmbeddedLedger,
    pub a: Node,
    pub b: Node,
    pub c: Node,
    pub kb: SigningKey,
    pub _dir: tempfile::TempDir,
}

impl Net {
    pub async fn new() -> Net {
        let testkit::Net {
            ledger,
            a,
            b,
            c,
            dir,
        } = testkit::Net::builder().seed(71).build().await;
        Net {
            _ledger: ledger,
            a: a.node,
            b: b.node,
            c: c.node,
            kb: b.key,
            _dir: dir,
        }
    }

    /// B's paywall at [`PRICE`], signing receipts.
    pub fn paywall(&self) -> Paywall {
        let verifier: Arc<dyn Verifier> = Arc::new(self.b.clone());
        Paywall::new(verifier, challenge_of(&self.b, PRICE, None)).sign_receipts(self.kb.clone())
    }

    /// A's paying client.
    pub fn client(&self, config: ClientConfig) -> PayingClient {
        PayingClient::new(reqwest::Client::new(), Arc::new(self.a.clone()), config)
    }

    pub async fn b_channels(&self) -> Vec<ChannelInfo> {
        self.b.channels(None).await
    }

    /// What B received from A in all channels.
    pub async fn b_received(&self) -> Amount {
        self.b_channels()
            .await
            .iter()
            .map(|c| c.balances.paid_by_peer)
            .sum()
    }

    /// What A counts as paid in all channels.
    pub async fn a_paid(&self) -> Amount {
        self.a
            .channels(None)
            .await
            .iter()
            .map(|c| c.balances.paid_by_me)
            .sum()
    }

    pub async fn b_state(&self) -> Value {
        serde_json::to_value(self.b_channels().await).unwrap()
    }
}

async fn weather(Extension(paid): Extension<VerifiedPayment>) -> Json<Value> {
    Json(json!({ "forecast": "sunny", "paid": paid.amount.to_string() }))
}

/// B's API: `/weather` at [`PRICE`], `/premium/{n}` at `n` (a price from the request),
/// `/health` free.
pub fn api(paywall: &Paywall) -> Router {
    let by_path = paywall.price_fn(|parts| {
        parts
            .uri
            .path()
            .strip_prefix("/premium/")
            .and_then(|n| n.parse().ok())
    });
    Router::new()
        .route("/weather", get(weather).layer(paywall.clone()))
        .route("/premium/{n}", get(weather).layer(by_path))
        .route("/health", get(|| async { "ok" }))
}

/// Serves `router` on a loopback port; answers its address.
pub async fn serve(router: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    addr
}

/// Streams of B at [`PRICE`] per `interval`, late payments closed after `grace`.
pub fn paid_streams(net: &Net, interval: Duration, grace: Duration) -> PaidStreams {
    PaidStreams::new(&net.paywall(), PRICE, interval, grace)
}

/// B's streaming API: `/ticks` sends a numbered server-sent event every `tick`, forever,
/// for as long as it is paid.
pub fn stream_api(streams: &PaidStreams, tick: Duration) -> Router {
    let ticks = {
        let streams = streams.clone();
        move |Extension(paid): Extension<VerifiedPayment>| async move {
            let source = futures::stream::unfold(0u64, move |n| async move {
                if n > 0 {
                    tokio::time::sleep(tick).await;
                }
                let event = format!("data: {n}\n\n");
                Some((Ok::<_, std::io::Error>(bytes::Bytes::from(event)), n + 1))
            });
            let mut response = streams.serve(&paid, source);
            response.headers_mut().insert(
                http::header::CONTENT_TYPE,
                http::HeaderValue::from_static("text/event-stream"),
            );
            response
        }
    };
    Router::new()
        .route("/ticks", get(ticks).layer(streams.paywall()))
        .merge(streams.routes())
}
